package io.efuse.csi.csi;

import io.efuse.csi.volume.VolumeException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** The gRPC statuses the CSI spec names, built with a message that says what was wrong. */
final class CsiErrors {
    private CsiErrors() {}

    static StatusRuntimeException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException notFound(String message) {
        return Status.NOT_FOUND.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException alreadyExists(String message) {
        return Status.ALREADY_EXISTS.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException failedPrecondition(String message) {
        return Status.FAILED_PRECONDITION.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException outOfRange(String message) {
        return Status.OUT_OF_RANGE.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException aborted(String message) {
        return Status.ABORTED.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException internal(String message, Throwable cause) {
        return Status.INTERNAL.withDescription(message).withCause(cause).asRuntimeException();
    }

    static StatusRuntimeException unavailable(String message) {
        return Status.UNAVAILABLE.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException from(VolumeException e) {
        Status status = switch (e.reason()) {
            case INVALID -> Status.INVALID_ARGUMENT;
            case NOT_FOUND -> Status.NOT_FOUND;
            case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
            case OUT_OF_RANGE -> Status.OUT_OF_RANGE;
            case RESOURCE_EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
            case IN_USE -> Status.FAILED_PRECONDITION;
            case BUSY -> Status.ABORTED;
            case NOT_READY -> Status.UNAVAILABLE;
            case INTERNAL -> Status.INTERNAL;
        };
        return status.withDescription(e.getMessage()).withCause(e).asRuntimeException();
    }
}
