package io.efuse.csi.fuse;

/**
 * Tells a session how many worker threads it should run, from load figures the session cannot see itself (the
 * eBPF monitor's queue depth and latency of its connection). The session asks periodically and grows or shrinks
 * within its own bounds; an advisor that cannot read its figures returns {@code current}.
 */
@FunctionalInterface
public interface WorkerAdvisor {

    /** Keeps the worker count the session was started with. */
    WorkerAdvisor FIXED = current -> current;

    /**
     * @param current workers running now
     * @return workers wanted now
     */
    int desiredWorkers(int current);
}
