package io.efuse.csi.volume;

import io.efuse.csi.fs.EfuseMount;
import io.efuse.csi.fs.MountOptions;
import io.efuse.csi.fs.Tier;
import java.io.IOException;
import java.nio.file.Path;

/** Stages volumes as eFuse sessions hosted in this process. */
public final class EfuseMounter implements VolumeMounter {
    private final int workersPerVolume;

    /** @param workersPerVolume request threads per mount, 0 for the daemon's default (one per core) */
    public EfuseMounter(int workersPerVolume) {
        this.workersPerVolume = workersPerVolume;
    }

    @Override
    public MountedVolume mount(MountSpec spec) throws IOException {
        MountOptions.Builder b = MountOptions.builder(spec.backing(), spec.mountPoint())
                .tier(Tier.parse(spec.tier()))
                .writebackCache(spec.writebackCache())
                .readOnly(spec.readOnly())
                .limits(spec.limits().bytes(), spec.limits().inodes())
                .fsName("efuse");
        if (workersPerVolume > 0) {
            b.workers(workersPerVolume);
        }
        return new Session(EfuseMount.mount(b.build()));
    }

    @Override
    public String describe() {
        return "eFuse sessions in this process";
    }

    private record Session(EfuseMount mount) implements MountedVolume {
        @Override
        public Path mountPoint() {
            return mount.mountPoint();
        }

        @Override
        public boolean alive() {
            return mount.alive();
        }

        @Override
        public String tier() {
            return mount.tier().label();
        }

        @Override
        public void resize(Limits limits) {
            if (mount.options().limited()) {
                mount.resize(limits.bytes(), limits.inodes());
            }
            // a mount without daemon limits is held by a kernel project quota, which BackingStore resizes
        }

        @Override
        public void close() {
            mount.close();
        }
    }
}
