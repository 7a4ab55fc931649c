// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eFuse monitor: watches every FUSE request of the node on the fuse:fuse_request_send and
 * fuse:fuse_request_end tracepoints (Linux >= 6.13) and keeps, per connection and opcode, counts,
 * errors, bytes and a log2 latency histogram; per CPU and per connection, the requests in flight;
 * and a ring buffer of requests slower than a threshold set from user space.
 *
 * The request's unique id is per connection, so (connection, unique) pairs a send with its end.
 * The end tracepoint carries no opcode: the send stores it with the start time.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "efuse_monitor.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct inflight_key {
	__u32 connection;
	__u32 pad;
	__u64 unique;
};

struct inflight_req {
	__u64 start_ns;
	__u32 opcode;
	__u32 cpu;
	__u32 len;
	__u32 pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct efuse_op_key);
	__type(value, struct efuse_op_stats);
} request_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct efuse_conn_load);
} connection_load SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EFUSE_MAX_CPUS);
	__type(key, __u32);
	__type(value, __s64);
} cpu_in_flight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct inflight_key);
	__type(value, struct inflight_req);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} slow_requests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct efuse_monitor_config);
} monitor_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EFUSE_CTR_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} loss_counters SEC(".maps");

static __always_inline void count(__u32 index)
{
	__u64 *c = bpf_map_lookup_elem(&loss_counters, &index);
	if (c)
		(*c)++;
}

/* floor(log2(v)) for v > 0, 0 for v == 0; branch-light so the verifier sees a bounded result. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline struct efuse_conn_load *conn_load(__u32 connection)
{
	struct efuse_conn_load *load = bpf_map_lookup_elem(&connection_load, &connection);
	if (load)
		return load;
	struct efuse_conn_load zero = {};
	bpf_map_update_elem(&connection_load, &connection, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&connection_load, &connection);
}

SEC("tracepoint/fuse/fuse_request_send")
int fuse_request_send(struct trace_event_raw_fuse_request_send *ctx)
{
	struct inflight_key key = {};
	struct inflight_req req = {};

	key.connection = BPF_CORE_READ(ctx, connection);
	key.unique = BPF_CORE_READ(ctx, unique);
	req.start_ns = bpf_ktime_get_ns();
	req.opcode = BPF_CORE_READ(ctx, opcode);
	req.len = BPF_CORE_READ(ctx, len);
	req.cpu = bpf_get_smp_processor_id();
	req.pid = bpf_get_current_pid_tgid() >> 32;

	if (bpf_map_update_elem(&inflight, &key, &req, BPF_ANY)) {
		count(EFUSE_CTR_TRACKING_FULL);
		return 0;
	}
	__u32 cpu = req.cpu;
	__s64 *cpu_count = bpf_map_lookup_elem(&cpu_in_flight, &cpu);
	if (cpu_count)
		__sync_fetch_and_add(cpu_count, 1);
	struct efuse_conn_load *load = conn_load(key.connection);
	if (load) {
		__sync_fetch_and_add(&load->in_flight, 1);
		__sync_fetch_and_add(&load->sent, 1);
	}
	return 0;
}

SEC("tracepoint/fuse/fuse_request_end")
int fuse_request_end(struct trace_event_raw_fuse_request_end *ctx)
{
	struct inflight_key key = {};

	key.connection = BPF_CORE_READ(ctx, connection);
	key.unique = BPF_CORE_READ(ctx, unique);
	struct inflight_req *req = bpf_map_lookup_elem(&inflight, &key);
	if (!req) {
		count(EFUSE_CTR_UNMATCHED_END);
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	__u64 latency = now - req->start_ns;
	__u32 opcode = req->opcode;
	__u32 cpu = req->cpu;
	__u32 in_len = req->len;
	__u32 pid = req->pid;
	bpf_map_delete_elem(&inflight, &key);

	__s32 error = BPF_CORE_READ(ctx, error);
	__u32 out_len = BPF_CORE_READ(ctx, len);

	__s64 *cpu_count = bpf_map_lookup_elem(&cpu_in_flight, &cpu);
	if (cpu_count)
		__sync_fetch_and_add(cpu_count, -1);
	struct efuse_conn_load *load = conn_load(key.connection);
	if (load) {
		__sync_fetch_and_add(&load->in_flight, -1);
		__sync_fetch_and_add(&load->ended, 1);
		__sync_fetch_and_add(&load->latency_ns_sum, latency);
	}

	struct efuse_op_key op = { .connection = key.connection, .opcode = opcode };
	struct efuse_op_stats *stats = bpf_map_lookup_elem(&request_stats, &op);
	if (!stats) {
		struct efuse_op_stats zero = {};
		bpf_map_update_elem(&request_stats, &op, &zero, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&request_stats, &op);
		if (!stats)
			return 0;
	}
	/* per-CPU value: this CPU is the only writer, plain increments are exact */
	stats->count++;
	if (error)
		stats->errors++;
	stats->bytes_in += in_len;
	stats->bytes_out += out_len;
	stats->latency_ns_sum += latency;
	__u32 bucket = log2_u64(latency);
	if (bucket >= EFUSE_HIST_BUCKETS)
		bucket = EFUSE_HIST_BUCKETS - 1;
	stats->latency_hist[bucket]++;

	__u32 zero_index = 0;
	struct efuse_monitor_config *cfg = bpf_map_lookup_elem(&monitor_config, &zero_index);
	if (cfg && cfg->slow_threshold_ns && latency >= cfg->slow_threshold_ns) {
		struct efuse_slow_request *rec = bpf_ringbuf_reserve(&slow_requests, sizeof(*rec), 0);
		if (!rec) {
			count(EFUSE_CTR_SLOW_DROPPED);
			return 0;
		}
		rec->unique = key.unique;
		rec->latency_ns = latency;
		rec->end_ns = now;
		rec->connection = key.connection;
		rec->opcode = opcode;
		rec->error = error;
		rec->pid = pid;
		rec->cpu = cpu;
		rec->len = out_len;
		bpf_ringbuf_submit(rec, 0);
	}
	return 0;
}
