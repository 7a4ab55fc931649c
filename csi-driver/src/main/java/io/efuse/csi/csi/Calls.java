package io.efuse.csi.csi;

import io.efuse.csi.volume.VolumeException;
import io.grpc.stub.StreamObserver;

/** What every CSI service does around a handler: required ids, and a failure turned into the spec's status. */
final class Calls {
    private Calls() {
    }

    static String requireId(String id, String field) {
        if (id.isEmpty()) {
            throw CsiErrors.invalid(field + " is required");
        }
        return id;
    }

    interface Call<R> {
        R call() throws VolumeException;
    }

    /** Runs a handler and turns its failure into the status the spec names. */
    static <R> void run(StreamObserver<R> out, Call<R> call) {
        R result;
        try {
            result = call.call();
        } catch (VolumeException e) {
            out.onError(CsiErrors.from(e));
            return;
        } catch (io.grpc.StatusRuntimeException e) {
            out.onError(e);
            return;
        } catch (RuntimeException e) {
            out.onError(CsiErrors.internal(e.toString(), e));
            return;
        }
        out.onNext(result);
        out.onCompleted();
    }
}
