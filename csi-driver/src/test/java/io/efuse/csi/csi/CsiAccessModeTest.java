package io.efuse.csi.csi;

import static io.efuse.csi.csi.CsiConformanceTest.assertCode;
import static io.efuse.csi.csi.CsiTestDriver.mountCap;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import csi.v1.Csi;
import csi.v1.Csi.VolumeCapability.AccessMode.Mode;
import io.efuse.csi.sys.LinuxConstants;
import io.efuse.csi.sys.MountTable;
import io.efuse.csi.sys.Syscalls;
import io.efuse.csi.testing.RequiresFuse;
import io.efuse.csi.volume.BindMounter;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every access mode over the real socket, on both backends: which calls accept it, and what a second
 * NodePublishVolume answers (the spec's tables under NodePublishVolume, for a plugin with SINGLE_NODE_MULTI_WRITER:
 * the same target with the same arguments is OK, with other arguments ALREADY_EXISTS; another target is OK except
 * for SINGLE_NODE_SINGLE_WRITER, which is FAILED_PRECONDITION). SINGLE_NODE_WRITER keeps the meaning Kubernetes
 * gives ReadWriteOnce, many pods on the one node, as older COs that send it expect.
 */
@RequiresFuse
class CsiAccessModeTest {
    private static final Set<Mode> MULTI_NODE = EnumSet.of(Mode.MULTI_NODE_READER_ONLY, Mode.MULTI_NODE_SINGLE_WRITER,
            Mode.MULTI_NODE_MULTI_WRITER);
    private static final Set<Mode> READ_ONLY = EnumSet.of(Mode.SINGLE_NODE_READER_ONLY, Mode.MULTI_NODE_READER_ONLY);

    @TempDir
    Path tmp;

    private CsiTestDriver d;

    @BeforeEach
    void start() throws IOException {
        d = new CsiTestDriver(tmp, new BindMounter(), tmp.resolve("backing"));
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (d != null) {
            d.close();
        }
    }

    private String create(String name, Mode mode, boolean shared) {
        var req = Csi.CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(mountCap(mode))
                .setCapacityRange(Csi.CapacityRange.newBuilder().setRequiredBytes(1 << 20));
        if (shared) {
            req.putParameters("backend", "shared");
        }
        return d.controller.createVolume(req.build()).getVolume().getVolumeId();
    }

    private void stage(String id, Path staging, Mode mode) {
        d.node.nodeStageVolume(Csi.NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mountCap(mode)).build());
    }

    private void publish(String id, Path staging, Path target, Mode mode, boolean readOnly) {
        d.node.nodePublishVolume(Csi.NodePublishVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(mountCap(mode)).setReadonly(readOnly).build());
    }

    private static boolean writable(Path dir) {
        try {
            Files.writeString(dir.resolve("probe-" + System.nanoTime()), "w");
            return true;
        } catch (FileSystemException e) {
            return false;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"UNKNOWN", "UNRECOGNIZED"}, mode = EnumSource.Mode.EXCLUDE)
    void eachModeIsAcceptedWhereItsBackendSupportsItAndRefusedWithTheSpecsCodesElsewhere(Mode mode)
            throws IOException {
        boolean multiNode = MULTI_NODE.contains(mode);
        // The shared backend takes every mode; the local one only single-node modes.
        String shared = create("shared-" + mode, mode, true);
        Path sStaging = tmp.resolve("shared-st");
        Path sTarget = tmp.resolve("shared-t");
        assertTrue(d.controller.validateVolumeCapabilities(Csi.ValidateVolumeCapabilitiesRequest.newBuilder()
                .setVolumeId(shared).addVolumeCapabilities(mountCap(mode)).build()).hasConfirmed());
        stage(shared, sStaging, mode);
        publish(shared, sStaging, sTarget, mode, false);
        assertEquals(!READ_ONLY.contains(mode), writable(sTarget), "a " + mode + " publication is writable");

        if (multiNode) {
            assertCode(Status.Code.INVALID_ARGUMENT, () -> create("local-" + mode, mode, false));
            String local = create("local-" + mode, Mode.SINGLE_NODE_WRITER, false);
            var validated = d.controller.validateVolumeCapabilities(Csi.ValidateVolumeCapabilitiesRequest.newBuilder()
                    .setVolumeId(local).addVolumeCapabilities(mountCap(mode)).build());
            assertFalse(validated.hasConfirmed());
            assertTrue(validated.getMessage().contains("shared backend"), validated.getMessage());
            Path staging = tmp.resolve("local-st");
            assertCode(Status.Code.FAILED_PRECONDITION, () -> stage(local, staging, mode));
            assertFalse(Files.exists(staging), "a refused stage makes nothing");
            stage(local, staging, Mode.SINGLE_NODE_WRITER);
            assertCode(Status.Code.FAILED_PRECONDITION, () -> publish(local, staging, tmp.resolve("local-t"), mode,
                    false));
            assertFalse(Files.exists(tmp.resolve("local-t")), "a refused publish makes no target");
            // NodeExpandVolume names INVALID_ARGUMENT for capabilities the volume does not support.
            assertCode(Status.Code.INVALID_ARGUMENT, () -> d.node.nodeExpandVolume(Csi.NodeExpandVolumeRequest
                    .newBuilder().setVolumeId(local).setVolumePath(staging.toString())
                    .setVolumeCapability(mountCap(mode)).build()));
        } else {
            String local = create("local-" + mode, mode, false);
            assertTrue(d.controller.validateVolumeCapabilities(Csi.ValidateVolumeCapabilitiesRequest.newBuilder()
                    .setVolumeId(local).addVolumeCapabilities(mountCap(mode)).build()).hasConfirmed());
            Path staging = tmp.resolve("local-st");
            stage(local, staging, mode);
            publish(local, staging, tmp.resolve("local-t"), mode, false);
            assertEquals(!READ_ONLY.contains(mode), writable(tmp.resolve("local-t")));
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"UNKNOWN", "UNRECOGNIZED"}, mode = EnumSource.Mode.EXCLUDE)
    void aSecondPublishAnswersAsTheSpecsTableSays(Mode mode) {
        String id = create("twice-" + mode, mode, MULTI_NODE.contains(mode));
        Path staging = tmp.resolve("st");
        Path t1 = tmp.resolve("t1");
        Path t2 = tmp.resolve("t2");
        stage(id, staging, mode);
        publish(id, staging, t1, mode, false);

        // T1=T2, P1=P2: OK.
        publish(id, staging, t1, mode, false);
        // T1=T2, P1!=P2: ALREADY_EXISTS, unless the other arguments come to the same publication (a read-only mode
        // is read-only whatever the readonly flag says, so both requests are met by the mount there).
        if (READ_ONLY.contains(mode)) {
            publish(id, staging, t1, mode, true);
        } else {
            assertCode(Status.Code.ALREADY_EXISTS, () -> publish(id, staging, t1, mode, true));
        }
        Mode other = mode == Mode.SINGLE_NODE_WRITER ? Mode.SINGLE_NODE_MULTI_WRITER : Mode.SINGLE_NODE_WRITER;
        assertCode(Status.Code.ALREADY_EXISTS, () -> publish(id, staging, t1, other, READ_ONLY.contains(mode)));

        // T1!=T2, P1=P2 and P1!=P2.
        if (mode == Mode.SINGLE_NODE_SINGLE_WRITER) {
            assertCode(Status.Code.FAILED_PRECONDITION, () -> publish(id, staging, t2, mode, false));
            assertCode(Status.Code.FAILED_PRECONDITION, () -> publish(id, staging, t2, mode, true));
            assertFalse(Files.exists(t2), "the refused publish made no target");
        } else {
            publish(id, staging, t2, mode, false);
            publish(id, staging, tmp.resolve("t3"), mode, true);
            assertFalse(writable(tmp.resolve("t3")));
        }
    }

    @Test
    void aSingleWriterPublicationRefusesEveryOtherTargetAndIsRefusedWhereOthersExist() {
        String id = create("rwop", Mode.SINGLE_NODE_MULTI_WRITER, false);
        Path staging = tmp.resolve("st");
        stage(id, staging, Mode.SINGLE_NODE_MULTI_WRITER);
        publish(id, staging, tmp.resolve("a"), Mode.SINGLE_NODE_MULTI_WRITER, false);
        assertCode(Status.Code.FAILED_PRECONDITION, () -> publish(id, staging, tmp.resolve("b"),
                Mode.SINGLE_NODE_SINGLE_WRITER, false));
        d.unpublish(id, tmp.resolve("a"));
        publish(id, staging, tmp.resolve("b"), Mode.SINGLE_NODE_SINGLE_WRITER, false);
        for (Mode m : new Mode[] {Mode.SINGLE_NODE_MULTI_WRITER, Mode.SINGLE_NODE_WRITER}) {
            assertCode(Status.Code.FAILED_PRECONDITION, () -> publish(id, staging, tmp.resolve("c"), m, false));
            assertCode(Status.Code.FAILED_PRECONDITION, () -> publish(id, staging, tmp.resolve("c"), m, true));
        }
        d.unpublish(id, tmp.resolve("b"));
        publish(id, staging, tmp.resolve("c"), Mode.SINGLE_NODE_SINGLE_WRITER, false);
    }

    @Test
    void aSingleWriterTargetThatVanishedWithoutUnpublishDoesNotHoldTheVolume() throws IOException {
        String id = create("vanished", Mode.SINGLE_NODE_SINGLE_WRITER, false);
        Path staging = tmp.resolve("st");
        stage(id, staging, Mode.SINGLE_NODE_SINGLE_WRITER);
        Path gone = tmp.resolve("gone");
        publish(id, staging, gone, Mode.SINGLE_NODE_SINGLE_WRITER, false);
        Syscalls.umount(gone, LinuxConstants.MNT_DETACH); // behind the driver's back, as a node reboot would
        publish(id, staging, tmp.resolve("next"), Mode.SINGLE_NODE_SINGLE_WRITER, false);
        assertTrue(MountTable.isMountPoint(tmp.resolve("next")));
        // The old target is not mounted any more: publishing there again is a new publication, refused now.
        assertCode(Status.Code.FAILED_PRECONDITION, () -> publish(id, staging, gone, Mode.SINGLE_NODE_SINGLE_WRITER,
                false));
    }

    @Test
    void aWritableStageServesReadOnlyAndWritablePublicationsSideBySide() throws IOException {
        for (Mode mode : new Mode[] {Mode.SINGLE_NODE_WRITER, Mode.SINGLE_NODE_MULTI_WRITER}) {
            String id = create("rw-" + mode, mode, false);
            Path staging = tmp.resolve("st-" + mode);
            stage(id, staging, mode);
            Path rw = tmp.resolve("rw-" + mode);
            Path ro = tmp.resolve("ro-" + mode);
            publish(id, staging, rw, mode, false);
            publish(id, staging, ro, mode, true);
            Files.writeString(rw.resolve("f"), "written through the writable target");
            assertEquals("written through the writable target", Files.readString(ro.resolve("f")));
            assertThrows(FileSystemException.class, () -> Files.writeString(ro.resolve("g"), "no"));
            assertTrue(MountTable.find(ro).orElseThrow().options().startsWith("ro"));
            // A read-only capability at another target of the writable stage is read-only too.
            Path reader = tmp.resolve("reader-" + mode);
            publish(id, staging, reader, Mode.SINGLE_NODE_READER_ONLY, false);
            assertFalse(writable(reader));
        }
        // The single writer takes one target, read-only or not.
        String id = create("rw-single", Mode.SINGLE_NODE_SINGLE_WRITER, false);
        Path staging = tmp.resolve("st-single");
        stage(id, staging, Mode.SINGLE_NODE_SINGLE_WRITER);
        publish(id, staging, tmp.resolve("ro-single"), Mode.SINGLE_NODE_SINGLE_WRITER, true);
        assertFalse(writable(tmp.resolve("ro-single")));
        assertCode(Status.Code.FAILED_PRECONDITION, () -> publish(id, staging, tmp.resolve("rw-single"),
                Mode.SINGLE_NODE_SINGLE_WRITER, false));
    }

    @Test
    void aReadOnlyStageRefusesWritablePublicationsWithFailedPrecondition() {
        String id = create("ro-stage", Mode.SINGLE_NODE_WRITER, false);
        Path staging = tmp.resolve("st");
        stage(id, staging, Mode.SINGLE_NODE_READER_ONLY);
        assertCode(Status.Code.FAILED_PRECONDITION, () -> publish(id, staging, tmp.resolve("w"),
                Mode.SINGLE_NODE_WRITER, false));
        assertFalse(Files.exists(tmp.resolve("w")));
        publish(id, staging, tmp.resolve("r"), Mode.SINGLE_NODE_WRITER, true);
        publish(id, staging, tmp.resolve("r2"), Mode.SINGLE_NODE_READER_ONLY, false);
        assertFalse(writable(tmp.resolve("r")));
        assertFalse(writable(tmp.resolve("r2")));
    }
}
