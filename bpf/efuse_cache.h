/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Map layouts shared by efuse_cache.bpf.c and the FUSE server that fills its maps.
 * Every value carries the generation of its node it was filled at; it is served only while that
 * generation is still the node's current one in efuse_gen (see kernel/README.md, "Generations").
 */
#ifndef EFUSE_CACHE_H
#define EFUSE_CACHE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <linux/fuse.h>
#endif

/* Names are compared in full: the key holds the whole name, zero-padded. Longer names go to the server. */
#define EFUSE_NAME_MAX 256
/* Files up to this size can be served from efuse_data. */
#define EFUSE_DATA_MAX 65536

/* efuse_counters index */
enum efuse_counter_op {
	EFUSE_OP_LOOKUP = 0,
	EFUSE_OP_GETATTR = 1,
	EFUSE_OP_READ = 2,
	EFUSE_OP_COUNT = 3,
};

/* efuse_gen: node id -> current generation of that node (u64). No entry: nothing of the node is served. */

/* efuse_entries key: a name in a directory. */
struct efuse_entry_key {
	__u64 parent;                 /* node id of the directory */
	char name[EFUSE_NAME_MAX];    /* the name, zero-padded; names of 256 bytes and more are never keys */
};

/* efuse_entries value: what LOOKUP(parent, name) answers. Attributes come from efuse_attrs. */
struct efuse_entry {
	__u64 parent_gen;             /* generation of the directory when the entry was filled */
	__u64 nodeid;                 /* 0: negative entry (the name does not exist) */
	__u64 generation;             /* FUSE generation of the node (fuse_entry_out.generation) */
	__u64 entry_valid;            /* entry timeout, seconds */
	__u32 entry_valid_nsec;
	__u32 padding;
};

/* efuse_attrs: node id -> what GETATTR answers (and the attributes of a positive LOOKUP). */
struct efuse_attr {
	__u64 gen;                    /* generation of the node when the attributes were filled */
	__u64 attr_valid;             /* attribute timeout, seconds */
	__u32 attr_valid_nsec;
	__u32 padding;
	struct fuse_attr attr;
};

/* efuse_data: node id -> the whole content of a small regular file, for READ. */
struct efuse_data {
	__u64 gen;                    /* generation of the node when the data was filled */
	__u64 size;                   /* file size; at most EFUSE_DATA_MAX */
	__u8 bytes[EFUSE_DATA_MAX];
};

/* efuse_counters: per-CPU array indexed by enum efuse_counter_op. */
struct efuse_counters {
	__u64 hit;                    /* answered in the kernel (negative LOOKUPs included) */
	__u64 negative;               /* of which negative LOOKUP answers */
	__u64 miss;                   /* no map entry: sent to the server */
	__u64 stale;                  /* an entry of an older generation: sent to the server */
};

#endif
