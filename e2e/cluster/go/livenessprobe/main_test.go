package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// fakeIdentity answers Probe with resp and err.
type fakeIdentity struct {
	csi.UnimplementedIdentityServer
	resp *csi.ProbeResponse
	err  error
}

func (f fakeIdentity) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return f.resp, f.err
}

func serveIdentity(t *testing.T, f fakeIdentity) string {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "csi.sock")
	serveIdentityAt(t, f, socket)
	return socket
}

func serveIdentityAt(t *testing.T, f fakeIdentity, socket string) {
	t.Helper()
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	csi.RegisterIdentityServer(srv, f)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
}

func get(t *testing.T, address string, timeout time.Duration) (int, string) {
	t.Helper()
	p, err := newProber(address, timeout)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(p.handler())
	defer s.Close()
	return getURL(t, s.URL)
}

func getURL(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

func TestHealthz(t *testing.T) {
	for _, c := range []struct {
		name     string
		identity fakeIdentity
		code     int
		body     string
	}{
		{"ready", fakeIdentity{resp: &csi.ProbeResponse{Ready: wrapperspb.Bool(true)}}, 200, "ok"},
		{"ready left out", fakeIdentity{resp: &csi.ProbeResponse{}}, 200, "ok"},
		{"not ready", fakeIdentity{resp: &csi.ProbeResponse{Ready: wrapperspb.Bool(false)}}, 500, "not ready"},
		{"error", fakeIdentity{err: errors.New("backing store gone")}, 500, "backing store gone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := get(t, serveIdentity(t, c.identity), time.Second)
			if code != c.code || !strings.Contains(body, c.body) {
				t.Errorf("got %d %q, want %d with %q", code, body, c.code, c.body)
			}
		})
	}
}

func TestHealthzWithoutDriverFailsWithinTheTimeout(t *testing.T) {
	start := time.Now()
	code, _ := get(t, "unix://"+filepath.Join(t.TempDir(), "none.sock"), 300*time.Millisecond)
	if code != 500 {
		t.Errorf("got %d without a driver", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestHealthzRecoversSoonAfterTheDriverStarts(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "csi.sock")
	p, err := newProber(socket, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(p.handler())
	defer s.Close()
	// Failed connection attempts grow gRPC's reconnection backoff: by 6 s its default would wait 4 s more.
	for range 12 {
		if code, _ := getURL(t, s.URL); code != 500 {
			t.Fatalf("got %d before the driver started", code)
		}
		time.Sleep(500 * time.Millisecond)
	}
	serveIdentityAt(t, fakeIdentity{resp: &csi.ProbeResponse{}}, socket)
	started := time.Now()
	for {
		code, _ := getURL(t, s.URL)
		if code == 200 {
			break
		}
		if time.Since(started) > 2*time.Second {
			t.Fatalf("still %d 2 s after the driver started", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
