module efuse.io/e2e/cluster/kubernetes

go 1.24.0
