/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shapes shared by efuse_monitor.bpf.c and its Java map views (io.efuse.csi.bpf.FuseMonitor*).
 * Every struct is made of naturally aligned 32/64-bit fields so that Java reads them at fixed offsets.
 */
#ifndef EFUSE_MONITOR_H
#define EFUSE_MONITOR_H

/* log2 latency buckets in nanoseconds: bucket k counts requests with 2^k <= latency < 2^(k+1) (bucket 0 also 0-1ns). */
#define EFUSE_HIST_BUCKETS 48
/* Largest CPU index the in-flight array covers. */
#define EFUSE_MAX_CPUS 1024

/* Key of request_stats: one FUSE connection (the kernel's fc->dev, i.e. the mount's st_dev) and one opcode. */
struct efuse_op_key {
	__u32 connection;
	__u32 opcode;
};

/* Value of request_stats (per CPU: summed by the reader). Counted when the request ends. */
struct efuse_op_stats {
	__u64 count;
	__u64 errors;         /* replies with a non-zero error, aborts included */
	__u64 bytes_in;       /* request length as sent to the daemon, header included */
	__u64 bytes_out;      /* reply length, header included */
	__u64 latency_ns_sum;
	__u64 latency_hist[EFUSE_HIST_BUCKETS];
};

/* Value of connection_load: live figures of one connection, updated atomically. */
struct efuse_conn_load {
	__s64 in_flight;      /* sent and not yet ended */
	__u64 sent;
	__u64 ended;
	__u64 latency_ns_sum; /* of ended requests, to get a mean over an interval */
};

/* Record in slow_requests (ring buffer): one request whose latency reached monitor_config.slow_threshold_ns. */
struct efuse_slow_request {
	__u64 unique;
	__u64 latency_ns;
	__u64 end_ns;         /* bpf_ktime_get_ns() at the end */
	__u32 connection;
	__u32 opcode;
	__s32 error;
	__u32 pid;            /* tgid that caused the request (0 for kernel-initiated requests) */
	__u32 cpu;            /* CPU the request was sent from */
	__u32 len;
};

/* Value 0 of the monitor_config array. */
struct efuse_monitor_config {
	__u64 slow_threshold_ns; /* 0: no slow-request records */
	__u64 object_digest;     /* written by the loader: which build of this object the pinned links run */
};

/* Indexes of loss_counters (per CPU). */
#define EFUSE_CTR_UNMATCHED_END 0   /* end seen without its send (monitor attached mid-request) */
#define EFUSE_CTR_TRACKING_FULL 1   /* in-flight table full: request not timed */
#define EFUSE_CTR_SLOW_DROPPED  2   /* slow-request record lost: ring buffer full */
#define EFUSE_CTR_COUNT 4

#endif
