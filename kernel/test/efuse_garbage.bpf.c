// SPDX-License-Identifier: GPL-2.0-only
/*
 * A misbehaving efuse_ops for the VM test: random verdicts, reads and writes out of bounds, partial
 * answers, answers of random bytes that fail validation. None of it may crash the kernel, corrupt its
 * state or reach a caller: every such answer must fall back to the server.
 *
 * Well-formed but wrong answers (a complete READ of wrong bytes, an allowed errno) are not garbage: the
 * kernel cannot tell them from the truth, and the program answers for the server (kernel/README.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

extern int bpf_efuse_in_read(struct efuse_req *req, __u32 idx, __u32 off, void *dst, __u32 dst__sz) __ksym;
extern int bpf_efuse_out_write(struct efuse_req *req, __u32 idx, __u32 off, const void *src,
			       __u32 src__sz) __ksym;
extern int bpf_efuse_read_reply(struct efuse_req *req, const void *data, __u32 data__sz,
				__u64 file_size) __ksym;

#define JUNK 192

/* A verdict that is neither UPCALL, REPLY nor an errno a LOOKUP may answer with. */
static __always_inline int junk_verdict(__u32 r)
{
	int v = (int)r;

	if (v >= 0 && v <= 1)
		return 2 + v;
	if (v < 0 && v > -200)
		return v - 200;
	return v;
}

static __always_inline void fill(__u32 *junk, __u32 seed)
{
	for (int i = 0; i < JUNK / 4; i++) {
		seed = seed * 1103515245 + 12345;
		junk[i] = seed;
	}
}

static __always_inline int misbehave(struct efuse_req *req, __u32 answer_size, __u32 mode_offset)
{
	__u32 junk[JUNK / 4];
	__u32 r = bpf_get_prandom_u32();

	fill(junk, r);
	switch (r % 9) {
	case 0:
		return junk_verdict(bpf_get_prandom_u32());
	case 1:
		/* a whole answer of random bytes, with a file type that is no type at all */
		if (answer_size && answer_size <= JUNK && mode_offset + 4 <= JUNK) {
			junk[mode_offset / 4] &= ~0170000u;
			bpf_efuse_out_write(req, 0, 0, junk, answer_size);
		}
		return EFUSE_REPLY;
	case 2:
		/* half an answer */
		bpf_efuse_out_write(req, 0, 0, junk, 40);
		return EFUSE_REPLY;
	case 3:
		/* out of every bound */
		bpf_efuse_out_write(req, r & 3, r >> 20, junk, JUNK);
		bpf_efuse_out_write(req, 7, 0, junk, 8);
		bpf_efuse_out_write(req, 0, 4096, junk, 8);
		return EFUSE_REPLY;
	case 4:
		bpf_efuse_in_read(req, r & 3, r >> 16, junk, JUNK);
		bpf_efuse_in_read(req, 9, 0, junk, 4);
		return junk_verdict(r);
	case 5:
		/* a READ answer for a request that may not be a READ, with a size larger than the data */
		bpf_efuse_read_reply(req, junk, JUNK, JUNK + 1 + (r & 0xffff));
		return junk_verdict(r >> 3);
	case 6:
		/* a gap: offset 8 before anything is written */
		bpf_efuse_out_write(req, 0, 8, junk, 16);
		return EFUSE_REPLY;
	case 7:
		return EFUSE_UPCALL;
	default:
		return -(int)(r % 4096) - 200;
	}
}

SEC("struct_ops/garbage_lookup")
int BPF_PROG(garbage_lookup, struct efuse_req *req)
{
	return misbehave(req, sizeof(struct fuse_entry_out), 40 + 60 /* attr.mode in fuse_entry_out */);
}

SEC("struct_ops/garbage_getattr")
int BPF_PROG(garbage_getattr, struct efuse_req *req)
{
	return misbehave(req, sizeof(struct fuse_attr_out), 16 + 60 /* attr.mode in fuse_attr_out */);
}

SEC("struct_ops/garbage_read")
int BPF_PROG(garbage_read, struct efuse_req *req)
{
	/* Any amount of data is a well-formed READ answer: here nothing may be answered. */
	int v = misbehave(req, 0, 0);

	return v == EFUSE_REPLY ? junk_verdict(bpf_get_prandom_u32()) : v;
}

SEC(".struct_ops")
struct efuse_ops efuse_garbage_ops = {
	.lookup = (void *)garbage_lookup,
	.getattr = (void *)garbage_getattr,
	.read = (void *)garbage_read,
};
