module efuse.io/e2e/cluster/provisioner

go 1.24.0
