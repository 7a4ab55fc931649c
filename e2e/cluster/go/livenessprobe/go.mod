module efuse.io/e2e/cluster/livenessprobe

go 1.24.0

require (
	github.com/container-storage-interface/spec v1.12.0
	// spec asks only for 1.57, which has no grpc.NewClient; 1.72.1 is what the registrar has from k8s.io/kubelet.
	google.golang.org/grpc v1.72.1
	google.golang.org/protobuf v1.36.5
)

require (
	golang.org/x/net v0.38.0 // indirect
	golang.org/x/sys v0.31.0 // indirect
	golang.org/x/text v0.23.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20250218202821-56aae31c358a // indirect
)
