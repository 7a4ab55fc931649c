package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

type fakeIdentity struct {
	csi.UnimplementedIdentityServer
}

func (fakeIdentity) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: "fake.csi.example", VendorVersion: "1"}, nil
}

// serveIdentity starts a fake CSI driver on a socket in a temporary directory and returns the socket's path.
func serveIdentity(t *testing.T) string {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "csi.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	csi.RegisterIdentityServer(srv, fakeIdentity{})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return socket
}

func TestDriverNameFromBarePathAndURL(t *testing.T) {
	socket := serveIdentity(t)
	for _, address := range []string{socket, "unix://" + socket} {
		name, err := waitForDriverName(context.Background(), address, time.Second)
		if err != nil || name != "fake.csi.example" {
			t.Errorf("%s: got %q, %v", address, name, err)
		}
	}
}

func TestWaitForDriverNameStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := waitForDriverName(ctx, filepath.Join(t.TempDir(), "none.sock"), 100*time.Millisecond); err == nil {
		t.Fatal("a name without a driver")
	}
}

func TestRegistrationOverTheSocket(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "fake.csi.example-reg.sock")
	// What a killed registrar leaves behind.
	if err := os.WriteFile(socket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRegistrar("fake.csi.example", "/var/lib/kubelet/plugins/fake/csi.sock", socket)
	srv, err := r.serve()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	health := httptest.NewServer(r.healthHandler())
	defer health.Close()

	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	kubelet := registerapi.NewRegistrationClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	info, err := kubelet.GetInfo(ctx, &registerapi.InfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != "CSIPlugin" || info.Name != "fake.csi.example" ||
		info.Endpoint != "/var/lib/kubelet/plugins/fake/csi.sock" ||
		len(info.SupportedVersions) != 1 || info.SupportedVersions[0] != "1.0.0" {
		t.Fatalf("plugin info %v", info)
	}
	expectHealth(t, health.URL, http.StatusOK)

	if _, err := kubelet.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{PluginRegistered: true}); err != nil {
		t.Fatal(err)
	}
	expectHealth(t, health.URL, http.StatusOK)
	select {
	case err := <-r.failed:
		t.Fatalf("failure on success: %v", err)
	default:
	}

	if _, err := kubelet.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{Error: "no"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.failed:
	case <-time.After(time.Second):
		t.Fatal("no failure for a refused registration")
	}
	expectHealth(t, health.URL, http.StatusInternalServerError)
}

func TestUnhealthyWithoutItsSocket(t *testing.T) {
	r := newRegistrar("fake.csi.example", "/x", filepath.Join(t.TempDir(), "gone.sock"))
	health := httptest.NewServer(r.healthHandler())
	defer health.Close()
	expectHealth(t, health.URL, http.StatusInternalServerError)
}

func expectHealth(t *testing.T, url string, want int) {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("/healthz: %d, want %d", resp.StatusCode, want)
	}
}
