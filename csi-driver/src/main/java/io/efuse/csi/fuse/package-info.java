/**
 * The FUSE protocol: the session, INIT, workers, io_uring queues, dispatch, the mutation gate and the wire structs.
 * It knows the wire protocol and nothing about files.
 *
 * <p>May use sys only; never JNA.
 */
package io.efuse.csi.fuse;
