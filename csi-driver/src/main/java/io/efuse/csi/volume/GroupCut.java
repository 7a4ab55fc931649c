package io.efuse.csi.volume;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

/**
 * Takes the snapshots of several volumes at one instant. Every member's writes are stopped first: the daemon of a
 * served member holds back the requests that change it ({@link MountedVolume#holdWrites}), and a member whose engine
 * has a filesystem of its own (an image) is frozen in the kernel, which also stops the writes that passthrough sends
 * past the daemon. Only once all are stopped is any snapshot taken, and only once all are taken does any member
 * run again. So a write that finished before the last member stopped is in its snapshot, and one that had not has
 * not even begun to change its volume: no member shows a later write while another misses an earlier one.
 *
 * <p>A member whose writes cannot all be stopped is refused before anything is taken: one staged with the
 * write-back cache (writes complete in the kernel's page cache), or one with files writing through passthrough
 * into a filesystem that other volumes share and that therefore cannot be frozen for it.
 */
public final class GroupCut {
    /** How long the changes running in a member's daemon may take to finish before the group gives up. */
    static final Duration DRAIN = Duration.ofSeconds(10);

    public record Member(String volumeId, String snapshotId, BackingStore store) {}

    private GroupCut() {}

    /**
     * Takes every member's snapshot with all of them stopped, for at most {@code hold}. On failure, snapshots
     * already taken stay for the caller to remove.
     */
    public static void take(List<Member> members, ServedVolumes served, Duration hold) throws IOException, VolumeException {
        Deque<AutoCloseable> stopped = new ArrayDeque<>();
        Exception failure = null;
        try {
            List<WriteHold> holds = new ArrayList<>();
            for (Member m : members) {
                ServedVolumes.Claim claim = served.claim(m.volumeId());
                stopped.push(claim); // released last: nothing stages or unstages a member while the group is taken
                Optional<MountedVolume> mount = claim.mount();
                WriteHold h = mount.isPresent() ? mount.get().holdWrites(DRAIN, hold) : null;
                if (h != null) {
                    stopped.push(h);
                }
                holds.add(h);
            }
            for (int i = 0; i < members.size(); i++) {
                Member m = members.get(i);
                WriteHold h = holds.get(i);
                if (h != null && h.writebackCache()) {
                    throw new VolumeException(VolumeException.Reason.IN_USE, "volume " + m.volumeId()
                            + " is staged with the write-back cache (writebackCache): writes to it complete in the"
                            + " kernel's page cache, where nothing on the node can hold them back, so it cannot be"
                            + " snapshotted at one instant with others; stage it without the write-back cache");
                }
                AutoCloseable frozen = m.store().freeze(m.volumeId());
                if (frozen != null) {
                    stopped.push(frozen);
                } else if (h != null && h.passthroughWriters() > 0) {
                    throw new VolumeException(VolumeException.Reason.IN_USE, "volume " + m.volumeId() + " has "
                            + h.passthroughWriters() + " files open for writing through passthrough on engine "
                            + m.store().engineOf(m.volumeId()).map(EngineKind::label).orElse("?")
                            + ", whose writes go past its daemon into a filesystem other volumes share, so they cannot"
                            + " be held back for a group snapshot; volumes snapshotted in groups need engine image"
                            + " (or tier classic), or those files closed");
                }
            }
            for (Member m : members) {
                m.store().createSnapshot(m.snapshotId(), m.volumeId());
            }
        } catch (IOException | VolumeException | RuntimeException e) {
            failure = e;
            throw e;
        } finally {
            // Every member runs again, whatever failed; the first failure to end a hold fails the group (a hold that
            // ran out let writes pass mid-cut).
            Exception ending = null;
            while (!stopped.isEmpty()) {
                try {
                    stopped.pop().close();
                } catch (Exception e) {
                    if (ending == null) {
                        ending = e;
                    } else {
                        ending.addSuppressed(e);
                    }
                }
            }
            if (ending != null) {
                if (failure != null) {
                    failure.addSuppressed(ending);
                } else {
                    throw asVolumeException(ending);
                }
            }
        }
    }

    private static VolumeException asVolumeException(Exception e) {
        return e instanceof VolumeException v ? v
                : new VolumeException(VolumeException.Reason.INTERNAL, "resuming the writes of a group's volumes: "
                        + e.getMessage(), e);
    }
}
