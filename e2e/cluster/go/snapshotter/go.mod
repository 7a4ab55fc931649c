module efuse.io/e2e/cluster/snapshotter

go 1.24.0
