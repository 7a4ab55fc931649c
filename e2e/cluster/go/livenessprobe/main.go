// Command livenessprobe answers HTTP health checks with the CSI driver's Probe call, taking the flags of
// the upstream livenessprobe that the chart passes. The upstream module is not published on the Go module
// proxy the test cluster is built from.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
)

var version = "unknown"

func main() {
	csiAddress := flag.String("csi-address", "/run/csi/socket", "Path of the CSI driver's socket in this container.")
	probeTimeout := flag.Duration("probe-timeout", time.Second, "Timeout of each Probe call.")
	healthPort := flag.Int("health-port", 9808, "Port of the /healthz endpoint, on every address.")
	httpEndpoint := flag.String("http-endpoint", "", "Address of the /healthz endpoint (host:port), in place of --health-port.")
	showVersion := flag.Bool("version", false, "Print the version and exit.")
	flag.Int("v", 0, "Log verbosity; accepted for the upstream flags.")
	flag.Parse()

	if *showVersion {
		fmt.Printf("%s %s (a stand-in taking that release's flags)\n", filepath.Base(os.Args[0]), version)
		return
	}
	addr := *httpEndpoint
	if addr == "" {
		addr = fmt.Sprintf(":%d", *healthPort)
	} else if flagSet("health-port") {
		log.Fatal("--health-port and --http-endpoint exclude each other")
	}

	p, err := newProber(*csiAddress, *probeTimeout)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("probing %s for /healthz on %s", *csiAddress, addr)
	hs := &http.Server{Addr: addr, Handler: p.handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(hs.ListenAndServe())
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// csiTarget turns a --csi-address, a path or a unix:// URL, into a gRPC target.
func csiTarget(address string) string {
	if strings.HasPrefix(address, "unix:") {
		return address
	}
	return "unix://" + address
}

type prober struct {
	identity csi.IdentityClient
	timeout  time.Duration
}

// newProber connects lazily, and keeps reconnecting: the endpoint answers (500) before the driver is up.
func newProber(address string, timeout time.Duration) (*prober, error) {
	// gRPC's default backoff reaches two minutes, so a restarted driver would stay failed long enough for
	// kubelet to restart it again.
	bo := backoff.DefaultConfig
	bo.MaxDelay = time.Second
	conn, err := grpc.NewClient(csiTarget(address),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: timeout}))
	if err != nil {
		return nil, err
	}
	return &prober{identity: csi.NewIdentityClient(conn), timeout: timeout}, nil
}

func (p *prober) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := p.identity.Probe(ctx, &csi.ProbeRequest{})
	if err != nil {
		return err
	}
	// The CSI spec lets a driver that leaves ready out be taken as ready.
	if r := resp.GetReady(); r != nil && !r.GetValue() {
		return fmt.Errorf("driver responded but is not ready")
	}
	return nil
}

func (p *prober) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := p.probe(r.Context()); err != nil {
			log.Printf("health check failed: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	return mux
}
