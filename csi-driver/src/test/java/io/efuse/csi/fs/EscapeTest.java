package io.efuse.csi.fs;

import static io.efuse.csi.sys.LinuxConstants.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.efuse.csi.fuse.FuseOpcode;
import io.efuse.csi.sys.Statx;
import io.efuse.csi.testing.RequiresFuse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Nothing reaches outside the backing directory through the daemon. Symlinks are resolved by the
 * kernel in the caller's namespace, relative to where they appear in the mount, so a link whose
 * target leaves the tree leads where it would on any filesystem mounted there; the daemon only
 * stores and reads the link text. ".." of the mount's root is the mount point's parent.
 *
 * <p>Layout: the backing directory and the mount point have different parents, each holding a file
 * named "beside" with different content, so that a resolution against the wrong parent shows.
 * <pre>
 *   root/b/backing   root/b/beside ("BACKING SIDE")
 *   root/m/mnt       root/m/beside ("MOUNT SIDE")
 *   root/outside/secret ("OUTSIDE")
 * </pre>
 */
@RequiresFuse
class EscapeTest {
    private static Path root;
    private static final Map<Tier, EfuseMount> mounts = new EnumMap<>(Tier.class);

    @BeforeAll
    static void mountBoth() throws Exception {
        root = Files.createTempDirectory("efuse-escape-");
        Files.createDirectories(root.resolve("outside"));
        Files.writeString(root.resolve("outside/secret"), "OUTSIDE");
        for (Tier tier : new Tier[] {Tier.CLASSIC, Tier.PASSTHROUGH}) {
            String n = tier.name().toLowerCase();
            Path b = Files.createDirectories(root.resolve(n + "/b/backing"));
            Path m = Files.createDirectories(root.resolve(n + "/m/mnt"));
            Files.writeString(b.getParent().resolve("beside"), "BACKING SIDE");
            Files.writeString(m.getParent().resolve("beside"), "MOUNT SIDE");
            mounts.put(tier, EfuseMount.mount(MountOptions.builder(b, m).tier(tier).workers(2).build()));
        }
    }

    @AfterAll
    static void unmount() throws Exception {
        for (EfuseMount m : mounts.values()) {
            m.close();
        }
        mounts.clear();
        if (root != null) {
            ComparedVolumes.deleteTree(root);
        }
    }

    private static Path mnt(Tier tier) {
        return mounts.get(tier).mountPoint();
    }

    private static Path backing(Tier tier) {
        return root.resolve(tier.name().toLowerCase() + "/b/backing");
    }

    @OnBothTiers
    void symlinksOutOfTheTreeResolveInTheCallersNamespace(Tier tier) throws Exception {
        Path mnt = mnt(tier);
        assertEquals("ok", Posix.symlink(root.resolve("outside/secret").toString(), mnt.resolve("abs")));
        assertEquals("ok", Posix.symlink("../beside", mnt.resolve("rel")));
        Files.createDirectory(mnt.resolve("sub"));
        assertEquals("ok", Posix.symlink("../../beside", mnt.resolve("sub/rel2")));
        assertEquals("ok", Posix.symlink("../../../../../../../../../../../../etc/hostname", mnt.resolve("deep")));

        // The daemon stored the text as given, and the backing directory holds links, not copies.
        assertEquals("../beside", Posix.readlink(mnt.resolve("rel")));
        assertEquals("../beside", Posix.readlink(backing(tier).resolve("rel")));
        assertTrue(Posix.attrs(backing(tier).resolve("rel")).startsWith("mode=120777"));

        assertEquals("OUTSIDE", Files.readString(mnt.resolve("abs")));
        // Relative targets go up from the mount point, never from the backing directory.
        assertEquals("MOUNT SIDE", Files.readString(mnt.resolve("rel")));
        assertEquals("MOUNT SIDE", Files.readString(mnt.resolve("sub/rel2")));
        assertEquals(Files.readString(Path.of("/etc/hostname")), Files.readString(mnt.resolve("deep")));
    }

    @OnBothTiers
    void creatingThroughAnEscapingSymlinkNeverMakesTheDaemonWriteOutside(Tier tier) throws Exception {
        Path mnt = mnt(tier);
        EfuseMount m = mounts.get(tier);
        Path mountSide = mnt.getParent();
        Path backingSide = backing(tier).getParent();
        String name = "made-through-link-" + tier;
        Posix.symlink("../" + name, mnt.resolve("dangling-rel"));
        Posix.symlink(root.resolve("outside").resolve(name).toString(), mnt.resolve("dangling-abs"));
        Posix.symlink(root.resolve("outside").toString(), mnt.resolve("dirlink"));

        long creates = m.requests(FuseOpcode.CREATE) + m.requests(FuseOpcode.MKNOD);
        Files.writeString(mnt.resolve("dangling-rel"), "via rel");
        Files.writeString(mnt.resolve("dangling-abs"), "via abs");
        Files.writeString(mnt.resolve("dirlink/" + name + "-in-dir"), "via dir");
        // The kernel followed the links in the caller's namespace: nothing was created through the daemon.
        assertEquals(creates, m.requests(FuseOpcode.CREATE) + m.requests(FuseOpcode.MKNOD));
        assertEquals("via rel", Files.readString(mountSide.resolve(name)));
        assertEquals("via abs", Files.readString(root.resolve("outside").resolve(name)));
        assertEquals("via dir", Files.readString(root.resolve("outside").resolve(name + "-in-dir")));
        assertFalse(Files.exists(backingSide.resolve(name)), "created beside the backing directory");
        assertEquals("BACKING SIDE", Files.readString(backingSide.resolve("beside")));

        // Renames and links into an escaping directory link cross mounts: the kernel refuses them.
        Files.writeString(mnt.resolve("inside"), "in");
        assertEquals("EXDEV", Posix.rename(mnt.resolve("inside"), mnt.resolve("dirlink/moved"), 0));
        assertEquals("EXDEV", Posix.link(mnt.resolve("inside"), mnt.resolve("dirlink/linked")));
        assertEquals("in", Files.readString(backing(tier).resolve("inside")));
    }

    @OnBothTiers
    void aDirectorySwappedForASymlinkBehindTheMountDoesNotRedirectKnownNodes(Tier tier) throws Exception {
        Path mnt = mnt(tier);
        Path d = Files.createDirectory(mnt.resolve("swapped-" + tier));
        Files.writeString(d.resolve("f"), "inside");
        Statx before = Posix.lstat(d);
        // Behind the mount, the directory is moved away and replaced by a link to the outside.
        Path backed = backing(tier).resolve(d.getFileName().toString());
        Files.move(backed, backing(tier).resolve("moved-" + tier));
        Files.createSymbolicLink(backed, root.resolve("outside"));
        // The kernel's cached entry still names the node, whose descriptor is the moved directory.
        assertEquals(before.ino(), Posix.lstat(d).ino());
        assertEquals("inside", Files.readString(d.resolve("f")));
        Files.writeString(d.resolve("new"), "written");
        assertEquals("written", Files.readString(backing(tier).resolve("moved-" + tier + "/new")));
        assertFalse(Files.exists(root.resolve("outside/new")), "the daemon wrote through the swapped-in symlink");
    }

    @OnBothTiers
    void dotDotOfTheMountRootIsTheMountPointsParent(Tier tier) throws Exception {
        Path mnt = mnt(tier);
        Set<String> viaDotDot;
        try (Stream<Path> s = Files.list(mnt.resolve(".."))) {
            viaDotDot = s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
        Set<String> mountSide;
        try (Stream<Path> s = Files.list(mnt.getParent())) {
            mountSide = s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
        assertEquals(mountSide, viaDotDot);
        assertEquals("MOUNT SIDE", Files.readString(mnt.resolve("../beside")));
        assertEquals(Posix.lstat(mnt.getParent()).ino(), Posix.lstat(mnt.resolve("..")).ino());
        assertEquals(Posix.lstat(mnt.getParent()).ino(), Posix.lstat(mnt.resolve("./../.")).ino());
        Files.createDirectories(mnt.resolve("x/y"));
        assertEquals(Posix.lstat(mnt).ino(), Posix.lstat(mnt.resolve("x/y/../..")).ino());
        assertEquals("ENOENT", Posix.tryOpen(mnt.resolve("x/../../b/backing"), O_RDONLY, 0));
    }
}
