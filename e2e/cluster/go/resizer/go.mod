module efuse.io/e2e/cluster/resizer

go 1.24.0
