package io.efuse.csi.volume;

import io.efuse.csi.fs.EfuseMount;
import io.efuse.csi.fs.MountObserver;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Tier;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** Stages volumes as eFuse sessions hosted in this process. */
public final class EfuseMounter implements VolumeMounter {
    private final int workersPerVolume;
    private final MountObserver observer;

    /** @param workersPerVolume request threads per mount, 0 for the daemon's default (one per core) */
    public EfuseMounter(int workersPerVolume) {
        this(workersPerVolume, MountObserver.NONE);
    }

    /** @param observer told of every session (e.g. to export its figures) */
    public EfuseMounter(int workersPerVolume, MountObserver observer) {
        this.workersPerVolume = workersPerVolume;
        this.observer = observer;
    }

    @Override
    public MountedVolume mount(MountSpec spec) throws IOException {
        EfuseMount mount = EfuseMount.mount(options(spec, workersPerVolume));
        return new Session(mount, observer.served(spec.volumeId(), mount));
    }

    /** The mount options of a staged volume, wherever its session runs. */
    static MountOptions options(MountSpec spec, int workersPerVolume) {
        MountOptions.Builder b = MountOptions.builder(spec.backing(), spec.mountPoint())
                .tier(Tier.parse(spec.tier()))
                .writebackCache(spec.writebackCache())
                .readOnly(spec.readOnly())
                .limits(spec.limits().enforced().bytes(), spec.limits().enforced().inodes())
                .shownSize(spec.limits().shownBytes(), spec.limits().usageFile())
                .fsName("efuse");
        if (workersPerVolume > 0) {
            b.workers(workersPerVolume);
        }
        return b.build();
    }

    @Override
    public String describe() {
        return "eFuse sessions in this process";
    }

    private record Session(EfuseMount mount, MountObserver.Report report) implements MountedVolume {
        @Override
        public Path mountPoint() {
            return mount.mountPoint();
        }

        @Override
        public boolean alive() {
            return mount.alive();
        }

        @Override
        public boolean readOnly() {
            return mount.options().readOnly();
        }

        @Override
        public String tier() {
            return mount.tier().label();
        }

        @Override
        public void resize(Limits limits) throws IOException {
            if (mount.options().limited() || mount.options().shownBytes() > 0) {
                mount.resize(limits.bytes(), limits.inodes());
            }
            // a mount without daemon limits or a shown size shows what its backing filesystem enforces
        }

        @Override
        public WriteHold holdWrites(Duration drain, Duration hold) throws IOException, VolumeException {
            EfuseMount.Quiescence q;
            try {
                q = mount.quiesce(drain, hold);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while holding " + mount.mountPoint(), e);
            } catch (IOException e) {
                throw new VolumeException(VolumeException.Reason.BUSY, e.getMessage(), e);
            }
            return new Hold(q.passthroughWriters(), q.writebackCache(), () -> mount.resume(q.generation()),
                    mount.mountPoint().toString());
        }

        @Override
        public ModifiedSettings modify(String tier, boolean writebackCache) throws IOException {
            return ModifiedSettings.of(mount.change(Tier.parse(tier), writebackCache));
        }

        @Override
        public void close() {
            report.close();
            mount.close();
        }

        @Override
        public void close(Duration grace) {
            report.close();
            mount.close(grace);
        }
    }
}
