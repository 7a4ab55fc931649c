//go:build tools

// Package tools names the command this module builds, so that go mod tidy keeps its dependencies;
// lib/sidecars.sh adds the requirement on external-provisioner and copies its replace directives.
package tools

import (
	_ "github.com/kubernetes-csi/external-provisioner/v5/cmd/csi-provisioner"
)
