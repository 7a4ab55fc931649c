//go:build tools

// Package tools names the command this module builds, so that go mod tidy keeps its dependencies;
// lib/sidecars.sh adds the requirement on external-resizer and copies its replace directives.
package tools

import (
	_ "github.com/kubernetes-csi/external-resizer/cmd/csi-resizer"
)
