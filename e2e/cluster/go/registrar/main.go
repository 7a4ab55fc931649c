// Command csi-node-driver-registrar registers a CSI driver with kubelet's plugin watcher, taking the flags
// of the upstream node-driver-registrar that the chart passes. The upstream module is not published on the
// Go module proxy the test cluster is built from; this implements its registration mode from the
// pluginregistration v1 API alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

var version = "unknown"

func main() {
	csiAddress := flag.String("csi-address", "/run/csi/socket", "Path of the CSI driver's socket in this container.")
	kubeletRegistrationPath := flag.String("kubelet-registration-path", "",
		"Path of the CSI driver's socket on the host, which kubelet dials.")
	pluginRegistrationPath := flag.String("plugin-registration-path", "/registration",
		"Directory of kubelet's plugin registry in this container.")
	httpEndpoint := flag.String("http-endpoint", "", "Address of the /healthz endpoint (host:port); none if empty.")
	mode := flag.String("mode", "registration", "Only registration is supported.")
	timeout := flag.Duration("timeout", time.Second, "Timeout of each call to the CSI driver.")
	showVersion := flag.Bool("version", false, "Print the version and exit.")
	flag.Int("v", 0, "Log verbosity; accepted for the upstream flags, everything is logged.")
	flag.Parse()

	if *showVersion {
		fmt.Printf("%s %s (a stand-in taking that release's flags)\n", filepath.Base(os.Args[0]), version)
		return
	}
	if *mode != "registration" {
		log.Fatalf("--mode=%s is not supported, only registration", *mode)
	}
	if *kubeletRegistrationPath == "" {
		log.Fatal("--kubelet-registration-path is required")
	}

	// Before the registration socket exists, so that a port taken leaves none behind.
	var health net.Listener
	if *httpEndpoint != "" {
		var err error
		if health, err = net.Listen("tcp", *httpEndpoint); err != nil {
			log.Fatal(err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	name, err := waitForDriverName(ctx, *csiAddress, *timeout)
	if ctx.Err() != nil {
		log.Print("terminating")
		return
	}
	if err != nil {
		log.Fatalf("no driver name from %s: %v", *csiAddress, err)
	}
	log.Printf("driver %s, registering endpoint %s", name, *kubeletRegistrationPath)

	socket := filepath.Join(*pluginRegistrationPath, name+"-reg.sock")
	r := newRegistrar(name, *kubeletRegistrationPath, socket)
	srv, err := r.serve()
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving plugin registration on %s", socket)
	if health != nil {
		go func() {
			hs := &http.Server{Handler: r.healthHandler(), ReadHeaderTimeout: 10 * time.Second}
			log.Fatal(hs.Serve(health))
		}()
	}

	code := 0
	select {
	case <-ctx.Done():
		log.Print("terminating")
	case err := <-r.failed:
		// kubelet registers again only when the socket appears again, which a restart of the container does.
		log.Printf("kubelet did not register the driver: %v", err)
		code = 1
	}
	// Gracefully, so that kubelet has the answer to a refusal before the process exits.
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Second):
		srv.Stop()
	}
	if err := os.Remove(socket); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Print(err)
	}
	os.Exit(code)
}

// csiTarget turns a --csi-address, a path or a unix:// URL, into a gRPC target.
func csiTarget(address string) string {
	if strings.HasPrefix(address, "unix:") {
		return address
	}
	return "unix://" + address
}

// waitForDriverName asks the CSI driver for its name until it answers: the driver's container may start
// after this one.
func waitForDriverName(ctx context.Context, address string, timeout time.Duration) (string, error) {
	conn, err := grpc.NewClient(csiTarget(address), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	identity := csi.NewIdentityClient(conn)
	for {
		name, err := driverName(ctx, identity, timeout)
		if err == nil {
			return name, nil
		}
		log.Printf("waiting for the CSI driver at %s: %v", address, err)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func driverName(ctx context.Context, identity csi.IdentityClient, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := identity.GetPluginInfo(ctx, &csi.GetPluginInfoRequest{})
	if err != nil {
		return "", err
	}
	if info.GetName() == "" {
		return "", errors.New("GetPluginInfo returned no name")
	}
	return info.GetName(), nil
}

// registrar answers kubelet's plugin watcher, which dials the socket it finds in its plugin registry.
type registrar struct {
	registerapi.UnimplementedRegistrationServer
	name, endpoint, socket string
	failed                 chan error

	mu         sync.Mutex
	lastStatus error
}

func newRegistrar(name, endpoint, socket string) *registrar {
	return &registrar{name: name, endpoint: endpoint, socket: socket, failed: make(chan error, 1)}
}

func (r *registrar) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	log.Print("kubelet asked for the plugin info")
	return &registerapi.PluginInfo{
		Type:              registerapi.CSIPlugin,
		Name:              r.name,
		Endpoint:          r.endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

func (r *registrar) NotifyRegistrationStatus(_ context.Context, status *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	var err error
	if !status.GetPluginRegistered() {
		err = fmt.Errorf("registration failed: %s", status.GetError())
	}
	r.mu.Lock()
	r.lastStatus = err
	r.mu.Unlock()
	if err == nil {
		log.Printf("kubelet registered driver %s", r.name)
	} else {
		select {
		case r.failed <- err:
		default:
		}
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}

// serve listens on the registration socket, in place of one a previous run left.
func (r *registrar) serve() (*grpc.Server, error) {
	if err := os.Remove(r.socket); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing the stale socket: %w", err)
	}
	l, err := net.Listen("unix", r.socket)
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	registerapi.RegisterRegistrationServer(srv, r)
	go func() {
		if err := srv.Serve(l); err != nil {
			log.Fatalf("registration server: %v", err)
		}
	}()
	return srv, nil
}

// healthy is nil while kubelet can find the registration socket and has not refused the driver: one
// removed from under the running process is never seen again by kubelet.
func (r *registrar) healthy() error {
	st, err := os.Stat(r.socket)
	if err != nil {
		return err
	}
	if st.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s is not a socket", r.socket)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastStatus
}

func (r *registrar) healthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := r.healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	return mux
}
