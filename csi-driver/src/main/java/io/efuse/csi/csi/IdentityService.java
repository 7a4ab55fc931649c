package io.efuse.csi.csi;

import com.google.protobuf.BoolValue;
import csi.v1.Csi;
import csi.v1.IdentityGrpc;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.function.BooleanSupplier;

/** CSI Identity: who this plugin is, what it offers, and whether it is ready to serve. */
public final class IdentityService extends IdentityGrpc.IdentityImplBase {
    private final String driverName;
    private final String version;
    private final boolean controller;
    private final boolean groupController;
    private final List<BooleanSupplier> readiness;

    /**
     * @param controller whether this process serves the Controller service
     * @param readiness  checks that must all hold for Probe to report ready (state store, filesystem daemon)
     */
    public IdentityService(String driverName, String version, boolean controller, boolean groupController,
                           List<BooleanSupplier> readiness) {
        this.driverName = driverName;
        this.version = version;
        this.controller = controller;
        this.groupController = groupController;
        this.readiness = List.copyOf(readiness);
    }

    @Override
    public void getPluginInfo(Csi.GetPluginInfoRequest request, StreamObserver<Csi.GetPluginInfoResponse> out) {
        out.onNext(Csi.GetPluginInfoResponse.newBuilder().setName(driverName).setVendorVersion(version).build());
        out.onCompleted();
    }

    @Override
    public void getPluginCapabilities(Csi.GetPluginCapabilitiesRequest request,
                                      StreamObserver<Csi.GetPluginCapabilitiesResponse> out) {
        out.onNext(Csi.GetPluginCapabilitiesResponse.newBuilder()
                .addAllCapabilities(Capabilities.plugin(controller, groupController)).build());
        out.onCompleted();
    }

    @Override
    public void probe(Csi.ProbeRequest request, StreamObserver<Csi.ProbeResponse> out) {
        boolean ready = readiness.stream().allMatch(BooleanSupplier::getAsBoolean);
        out.onNext(Csi.ProbeResponse.newBuilder().setReady(BoolValue.of(ready)).build());
        out.onCompleted();
    }
}
