// SPDX-License-Identifier: GPL-2.0-only
/*
 * eFuse cache: answers LOOKUP, GETATTR and READ of one FUSE connection in the kernel, from maps that its
 * server fills from its own replies. Attached to the connection as a struct efuse_ops (kernel/README.md).
 *
 * An answer is given only from an entry whose generation is still its node's current generation in
 * efuse_gen; anything missing or older goes to the server (EFUSE_UPCALL), which is always correct.
 */
#include "vmlinux.h"
#include "efuse_kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "efuse_cache.h"

char LICENSE[] SEC("license") = "GPL";

extern int bpf_efuse_in_read(struct efuse_req *req, __u32 idx, __u32 off, void *dst, __u32 dst__sz) __ksym;
extern int bpf_efuse_out_write(struct efuse_req *req, __u32 idx, __u32 off, const void *src,
			       __u32 src__sz) __ksym;
extern int bpf_efuse_read_reply(struct efuse_req *req, const void *data, __u32 data__sz,
				__u64 file_size) __ksym;

/*
 * Hash maps without preallocation: an update replaces an element and frees the old one after an RCU grace
 * period, so a program never reads a value that is being rewritten.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, __u64);
	__type(value, __u64);
} efuse_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, struct efuse_entry_key);
	__type(value, struct efuse_entry);
} efuse_entries SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, __u64);
	__type(value, struct efuse_attr);
} efuse_attrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct efuse_data);
} efuse_data SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EFUSE_OP_COUNT);
	__type(key, __u32);
	__type(value, struct efuse_counters);
} efuse_counters SEC(".maps");

enum outcome { HIT, NEGATIVE, MISS, STALE };

static __always_inline int count(__u32 op, enum outcome outcome)
{
	struct efuse_counters *c = bpf_map_lookup_elem(&efuse_counters, &op);

	if (c) {
		switch (outcome) {
		case NEGATIVE:
			c->negative++;
			/* fallthrough */
		case HIT:
			c->hit++;
			break;
		case MISS:
			c->miss++;
			break;
		case STALE:
			c->stale++;
			break;
		}
	}
	return outcome == HIT || outcome == NEGATIVE ? EFUSE_REPLY : EFUSE_UPCALL;
}

/* Whether @gen is still the current generation of node @nodeid. */
static __always_inline bool current(__u64 nodeid, __u64 gen)
{
	__u64 *now = bpf_map_lookup_elem(&efuse_gen, &nodeid);

	return now && *now == gen;
}

SEC("struct_ops/efuse_lookup")
int BPF_PROG(efuse_lookup, struct efuse_req *req)
{
	struct efuse_entry_key key = {};
	struct fuse_entry_out out = {};
	struct efuse_entry *entry;
	struct efuse_attr *attr;
	__u32 size = req->in_size[0];
	__u64 nodeid;

	/* The name arrives with its terminating NUL; longer names are never keys. */
	if (size < 2 || size > EFUSE_NAME_MAX)
		return count(EFUSE_OP_LOOKUP, MISS);
	if (bpf_efuse_in_read(req, 0, 0, key.name, size))
		return count(EFUSE_OP_LOOKUP, MISS);
	key.parent = req->nodeid;

	entry = bpf_map_lookup_elem(&efuse_entries, &key);
	if (!entry)
		return count(EFUSE_OP_LOOKUP, MISS);
	if (!current(key.parent, entry->parent_gen))
		return count(EFUSE_OP_LOOKUP, STALE);

	out.entry_valid = entry->entry_valid;
	out.entry_valid_nsec = entry->entry_valid_nsec;
	nodeid = entry->nodeid;
	if (nodeid == 0) {
		/* A negative entry: node id 0 with a timeout, as a server answers it. */
		if (bpf_efuse_out_write(req, 0, 0, &out, sizeof(out)))
			return count(EFUSE_OP_LOOKUP, MISS);
		return count(EFUSE_OP_LOOKUP, NEGATIVE);
	}

	attr = bpf_map_lookup_elem(&efuse_attrs, &nodeid);
	if (!attr)
		return count(EFUSE_OP_LOOKUP, MISS);
	if (!current(nodeid, attr->gen))
		return count(EFUSE_OP_LOOKUP, STALE);

	out.nodeid = nodeid;
	out.generation = entry->generation;
	out.attr_valid = attr->attr_valid;
	out.attr_valid_nsec = attr->attr_valid_nsec;
	out.attr = attr->attr;
	if (bpf_efuse_out_write(req, 0, 0, &out, sizeof(out)))
		return count(EFUSE_OP_LOOKUP, MISS);
	return count(EFUSE_OP_LOOKUP, HIT);
}

SEC("struct_ops/efuse_getattr")
int BPF_PROG(efuse_getattr, struct efuse_req *req)
{
	struct fuse_attr_out out = {};
	struct efuse_attr *attr;
	__u64 nodeid = req->nodeid;

	attr = bpf_map_lookup_elem(&efuse_attrs, &nodeid);
	if (!attr)
		return count(EFUSE_OP_GETATTR, MISS);
	if (!current(nodeid, attr->gen))
		return count(EFUSE_OP_GETATTR, STALE);

	out.attr_valid = attr->attr_valid;
	out.attr_valid_nsec = attr->attr_valid_nsec;
	out.attr = attr->attr;
	if (bpf_efuse_out_write(req, 0, 0, &out, sizeof(out)))
		return count(EFUSE_OP_GETATTR, MISS);
	return count(EFUSE_OP_GETATTR, HIT);
}

SEC("struct_ops/efuse_read")
int BPF_PROG(efuse_read, struct efuse_req *req)
{
	struct efuse_data *data;
	__u64 nodeid = req->nodeid;

	data = bpf_map_lookup_elem(&efuse_data, &nodeid);
	if (!data)
		return count(EFUSE_OP_READ, MISS);
	if (!current(nodeid, data->gen))
		return count(EFUSE_OP_READ, STALE);
	/* The kernel checks the size against the data too: a short answer must mean end of file. */
	if (bpf_efuse_read_reply(req, data->bytes, EFUSE_DATA_MAX, data->size) < 0)
		return count(EFUSE_OP_READ, MISS);
	return count(EFUSE_OP_READ, HIT);
}

SEC(".struct_ops")
struct efuse_ops efuse_cache_ops = {
	.lookup = (void *)efuse_lookup,
	.getattr = (void *)efuse_getattr,
	.read = (void *)efuse_read,
};
