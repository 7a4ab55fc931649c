package io.efuse.csi.bpf;

/** What the eFuse cache program did with the requests offered to it, per operation (efuse_counters). */
public record EfuseCacheCounters(Outcomes lookup, Outcomes getattr, Outcomes read) {

    public static final EfuseCacheCounters NONE = new EfuseCacheCounters(Outcomes.NONE, Outcomes.NONE, Outcomes.NONE);

    /**
     * @param hit answered in the kernel (negative LOOKUP answers included)
     * @param negative of which negative LOOKUP answers
     * @param miss nothing in the maps: sent to the daemon
     * @param stale a value of an older generation: sent to the daemon
     */
    public record Outcomes(long hit, long negative, long miss, long stale) {
        public static final Outcomes NONE = new Outcomes(0, 0, 0, 0);

        Outcomes plus(Outcomes o) {
            return new Outcomes(hit + o.hit, negative + o.negative, miss + o.miss, stale + o.stale);
        }

        @Override
        public String toString() {
            return "hit=" + hit + " (negative " + negative + "), miss=" + miss + ", stale=" + stale;
        }
    }
}
