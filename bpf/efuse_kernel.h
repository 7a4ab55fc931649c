/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The eFuse kernel's types that efuse_cache.bpf.c uses (include/linux/fuse_efuse.h of kernel/patches), for builds
 * against the BTF of a kernel without the patch: the object the driver's jar carries is built on any machine and
 * loads only where the running kernel has struct efuse_ops. preserve_access_index makes every field access a CO-RE
 * relocation against the running kernel's own layout; libbpf matches struct_ops members by name. Builds against
 * the eFuse kernel's vmlinux.h (kernel/Makefile) define EFUSE_TYPES_IN_VMLINUX and take the kernel's definitions.
 */
#ifndef EFUSE_KERNEL_H
#define EFUSE_KERNEL_H

#ifndef EFUSE_TYPES_IN_VMLINUX
struct efuse_req {
	__u64 nodeid;
	__u32 opcode;
	__u32 uid;
	__u32 gid;
	__u32 pid;
	__u32 in_numargs;
	__u32 out_numargs;
	__u32 in_size[3];
	__u32 out_size[2];
} __attribute__((preserve_access_index));

enum efuse_verdict {
	EFUSE_UPCALL = 0,
	EFUSE_REPLY = 1,
};

struct efuse_ops {
	int (*lookup)(struct efuse_req *req);
	int (*getattr)(struct efuse_req *req);
	int (*read)(struct efuse_req *req);
} __attribute__((preserve_access_index));
#endif

#endif
