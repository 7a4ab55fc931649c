//go:build tools

// Package tools names the commands this module builds, so that go mod tidy keeps their dependencies;
// lib/sidecars.sh adds the requirement on external-snapshotter and copies its replace directives.
package tools

import (
	_ "github.com/kubernetes-csi/external-snapshotter/v8/cmd/csi-snapshotter"
	_ "github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller"
)
