package io.efuse.csi.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** What the daemon answers to INIT for kernels old and new, with and without passthrough. */
class InitNegotiationTest {
    /** Everything a 6.18 kernel offers (FUSE 7.45), as flags2 << 32 | flags. */
    private static final long ALL_7_45 = InitNegotiation.BASE_FLAGS | FuseAbi.WRITEBACK_CACHE | FuseAbi.PASSTHROUGH
            | FuseAbi.POSIX_LOCKS | FuseAbi.FLOCK_LOCKS | FuseAbi.EXPORT_SUPPORT | FuseAbi.SPLICE_READ
            | FuseAbi.SECURITY_CTX | FuseAbi.CREATE_SUPP_GROUP | FuseAbi.HAS_RESEND | FuseAbi.OVER_IO_URING
            | FuseAbi.DIRECT_IO_ALLOW_MMAP | FuseAbi.POSIX_ACL | FuseAbi.DONT_MASK;
    /** What Linux 5.4 (FUSE 7.31) offers: no INIT_EXT, so nothing above bit 31. */
    private static final long ALL_7_31 = (ALL_7_45 & 0xffffffffL) & ~FuseAbi.INIT_EXT & ~FuseAbi.SETXATTR_EXT
            & ~FuseAbi.HANDLE_KILLPRIV_V2;

    private static final InitNegotiation PASSTHROUGH = new InitNegotiation(true, false);
    private static final InitNegotiation CLASSIC = new InitNegotiation(false, false);
    private static final InitNegotiation CLASSIC_WRITEBACK = new InitNegotiation(false, true);

    private static boolean has(InitNegotiation.Result r, long flag) {
        return (r.flags() & flag) != 0;
    }

    @Test
    void aNewerMajorIsAnsweredWithOursSoThatTheKernelRetries() {
        InitNegotiation.Result r = PASSTHROUGH.negotiate(8, 0, ALL_7_45, 131072);
        assertEquals(7, r.major());
        assertEquals(-1, r.minor());
    }

    @Test
    void kernelsOlderThan731AreRefusedClearly() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> PASSTHROUGH.negotiate(7, 30, ALL_7_31, 131072));
        assertTrue(e.getMessage().contains("7.30"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> PASSTHROUGH.negotiate(6, 99, ALL_7_31, 131072));
    }

    @Test
    void linux54GetsItsOwnMinorAndOnlyLowFlags() {
        InitNegotiation.Result r = PASSTHROUGH.negotiate(7, 31, ALL_7_31, 131072);
        assertEquals(31, r.minor());
        assertEquals(0, r.flags() >>> 32, "no flags2 without INIT_EXT");
        assertEquals(0, r.maxStackDepth());
        assertTrue(has(r, FuseAbi.DO_READDIRPLUS) && has(r, FuseAbi.MAX_PAGES) && has(r, FuseAbi.ATOMIC_O_TRUNC));
        assertEquals(256, r.maxPages());
        assertEquals(256 * 4096, r.maxWrite());
        assertEquals(131072, r.maxReadahead());
    }

    @Test
    void linux612NegotiatesPassthroughWhenWanted() {
        long offered = ALL_7_45 & ~FuseAbi.OVER_IO_URING;
        InitNegotiation.Result r = PASSTHROUGH.negotiate(7, 41, offered, 131072);
        assertEquals(41, r.minor());
        assertTrue(has(r, FuseAbi.PASSTHROUGH));
        assertTrue(has(r, FuseAbi.INIT_EXT) && has(r, FuseAbi.SETXATTR_EXT) && has(r, FuseAbi.HANDLE_KILLPRIV_V2));
        assertEquals(1, r.maxStackDepth(), "passthrough needs a stacking depth");
        InitNegotiation.Result classic = CLASSIC.negotiate(7, 41, offered, 131072);
        assertTrue(!has(classic, FuseAbi.PASSTHROUGH));
        assertEquals(0, classic.maxStackDepth());
    }

    @Test
    void theEfuseKernelsAnnouncementIsKeptInTheConnectionsFlags() {
        long offered = (ALL_7_45 & ~FuseAbi.OVER_IO_URING) | EfuseKernelAbi.EFUSE;
        assertTrue(has(PASSTHROUGH.negotiate(7, 41, offered, 131072), EfuseKernelAbi.EFUSE));
        assertTrue(!has(PASSTHROUGH.negotiate(7, 41, ALL_7_45, 131072), EfuseKernelAbi.EFUSE),
                "a kernel that does not offer the hook never looks as if it did");
        // Without INIT_EXT the kernel cannot have sent flags2, so a stray high bit means nothing.
        long withoutExt = (ALL_7_31 | EfuseKernelAbi.EFUSE);
        assertEquals(0, PASSTHROUGH.negotiate(7, 31, withoutExt, 131072).flags() >>> 32);
    }

    @Test
    void theNewestKernelIsAnsweredWithTheNewestMinorWeSpeak() {
        assertEquals(45, PASSTHROUGH.negotiate(7, 45, ALL_7_45, 131072).minor());
        assertEquals(FuseAbi.MAX_MINOR, PASSTHROUGH.negotiate(7, 99, ALL_7_45, 131072).minor());
    }

    @Test
    void passthroughIsNotAskedForWhenTheKernelDoesNotOfferIt() {
        InitNegotiation.Result r = PASSTHROUGH.negotiate(7, 45, ALL_7_45 & ~FuseAbi.PASSTHROUGH, 131072);
        assertTrue(!has(r, FuseAbi.PASSTHROUGH));
        assertEquals(0, r.maxStackDepth());
    }

    @Test
    void writebackCacheOnlyWithoutPassthrough() {
        InitNegotiation.Result wb = CLASSIC_WRITEBACK.negotiate(7, 45, ALL_7_45, 131072);
        assertTrue(has(wb, FuseAbi.WRITEBACK_CACHE));
        assertTrue(!has(wb, FuseAbi.AUTO_INVAL_DATA), "the kernel owns size and mtime with the writeback cache");
        InitNegotiation both = new InitNegotiation(true, true);
        InitNegotiation.Result pt = both.negotiate(7, 45, ALL_7_45, 131072);
        assertTrue(has(pt, FuseAbi.PASSTHROUGH));
        assertTrue(!has(pt, FuseAbi.WRITEBACK_CACHE));
        // Without passthrough on offer, the writeback cache is taken instead.
        InitNegotiation.Result fallback = both.negotiate(7, 45, ALL_7_45 & ~FuseAbi.PASSTHROUGH, 131072);
        assertTrue(has(fallback, FuseAbi.WRITEBACK_CACHE));
        InitNegotiation.Result notOffered = CLASSIC_WRITEBACK.negotiate(7, 45, ALL_7_45 & ~FuseAbi.WRITEBACK_CACHE,
                131072);
        assertTrue(!has(notOffered, FuseAbi.WRITEBACK_CACHE));
        assertTrue(!has(CLASSIC.negotiate(7, 45, ALL_7_45, 131072), FuseAbi.WRITEBACK_CACHE));
    }

    @Test
    void posixAclsOnlyOverABackingFilesystemThatKeepsThem() {
        // With FUSE_POSIX_ACL the kernel must leave the umask to the daemon (a parent's default ACL replaces it).
        InitNegotiation.Result acl = CLASSIC.withPosixAcl(true).negotiate(7, 45, ALL_7_45, 131072);
        assertTrue(has(acl, FuseAbi.POSIX_ACL) && has(acl, FuseAbi.DONT_MASK));
        assertTrue(has(PASSTHROUGH.withPosixAcl(true).withUring(true).negotiate(7, 45, ALL_7_45, 131072),
                FuseAbi.POSIX_ACL), "withUring keeps the ACL wish");
        InitNegotiation.Result none = CLASSIC.negotiate(7, 45, ALL_7_45, 131072);
        assertTrue(!has(none, FuseAbi.POSIX_ACL) && !has(none, FuseAbi.DONT_MASK),
                "without ACLs the kernel applies the umask, as before");
        InitNegotiation.Result old = CLASSIC.withPosixAcl(true).negotiate(7, 31, ALL_7_31 & ~FuseAbi.POSIX_ACL, 131072);
        assertTrue(!has(old, FuseAbi.POSIX_ACL));
    }

    @Test
    void withoutMaxPagesRequestsStayAtTheKernelDefault() {
        InitNegotiation.Result r = CLASSIC.negotiate(7, 45, ALL_7_45 & ~FuseAbi.MAX_PAGES, 131072);
        assertEquals(32, r.maxPages());
        assertEquals(32 * 4096, r.maxWrite());
    }

    @Test
    void neverAsksForAFlagTheKernelDidNotOffer() {
        Random random = new Random(7);
        InitNegotiation[] all = {PASSTHROUGH, CLASSIC, CLASSIC_WRITEBACK, new InitNegotiation(true, true),
            CLASSIC.withPosixAcl(true), PASSTHROUGH.withPosixAcl(true)};
        for (int i = 0; i < 2000; i++) {
            long offered = random.nextLong() & (ALL_7_45 | 0xffffffffL);
            int minor = 31 + random.nextInt(20);
            for (InitNegotiation n : all) {
                InitNegotiation.Result r = n.negotiate(7, minor, offered, 65536);
                assertEquals(0, r.flags() & ~offered, "asked for unoffered flags " + Long.toHexString(r.flags() & ~offered));
                if ((offered & FuseAbi.INIT_EXT) == 0) {
                    assertEquals(0, r.flags() >>> 32);
                }
                assertTrue(!(has(r, FuseAbi.PASSTHROUGH) && has(r, FuseAbi.WRITEBACK_CACHE)));
                assertEquals(r.maxPages() * 4096, r.maxWrite());
            }
        }
    }
}
