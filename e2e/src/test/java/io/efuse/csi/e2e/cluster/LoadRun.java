package io.efuse.csi.e2e.cluster;

import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A pod that keeps a volume busy for a while and reports what its application saw: fio writing with crc32c
 * verification, run after run, beside a probe that writes and fsyncs a small file in a loop and timestamps each
 * round. A fault during the run shows as a long probe round (the pause) and must show nowhere else: every fio run
 * exits 0 with verified data and no probe write fails.
 */
final class LoadRun {

    static final int SECONDS = Integer.getInteger("cluster.loadSeconds", 60);
    static final String STARTED = "LOAD STARTED";
    /** Ends the run early, after the fio run under way: for a test that cannot know beforehand how long its event takes. */
    static final String STOP_FILE = "/tmp/end";

    /** Probe rounds of at least this long are printed with their end time, to find the one around a fault. */
    private static final long SLOW_US = 100_000;

    static String script(int seconds) {
        return String.join("\n",
                "set -u",
                "mkdir -p /data/fio /data/probe",
                "end=$(( $(date +%s) + " + seconds + " ))",
                ": > /tmp/gaps; : > /tmp/slow; : > /tmp/probe.err",
                // the probe: a synced 4 KiB write per round; each line is the round's length in microseconds
                "( i=0; errs=0; prev=$(date +%s%N)",
                "  while [ ! -e /tmp/stop ]; do",
                "    i=$((i+1))",
                "    dd if=/dev/zero of=/data/probe/p bs=4k count=1 conv=fsync status=none 2>>/tmp/probe.err || errs=$((errs+1))",
                "    now=$(date +%s%N); gap=$(( (now - prev) / 1000 )); prev=$now",
                "    echo $gap >> /tmp/gaps",
                "    [ $gap -ge " + SLOW_US + " ] && echo \"SLOW $(( now / 1000000 )) $gap\" >> /tmp/slow",
                "  done",
                "  echo \"PROBE rounds=$i errors=$errs\" ) &",
                "probe=$!",
                "echo '" + STARTED + "'",
                "runs=0; failed=0",
                "while [ \"$(date +%s)\" -lt \"$end\" ] && [ ! -e " + STOP_FILE + " ]; do",
                "  runs=$((runs+1)); rm -f /tmp/fio.json",
                "  fio --name=load --directory=/data/fio --size=16m --bs=4k --rw=randwrite --ioengine=psync"
                        + " --verify=crc32c --verify_fatal=1 --do_verify=1 --numjobs=2 --group_reporting"
                        + " --output-format=json --output=/tmp/fio.json",
                "  rc=$?",
                "  [ $rc -eq 0 ] || { failed=$((failed+1)); echo \"FIO RUN $runs FAILED exit $rc\"; }",
                "  echo \"FIO-JSON-BEGIN $runs\"; cat /tmp/fio.json 2>/dev/null; echo \"FIO-JSON-END $runs\"",
                "done",
                "touch /tmp/stop; wait $probe",
                "sed 's/^/PROBE-ERROR /' /tmp/probe.err; cat /tmp/slow",
                "echo \"GAPS-US $(tr '\\n' ' ' < /tmp/gaps)\"",
                "echo \"LOAD DONE runs=$runs failed=$failed\"",
                "[ $failed -eq 0 ] && [ ! -s /tmp/probe.err ]");
    }

    record Slow(long endEpochMs, long gapUs) {
    }

    final String log;
    final int fioRuns;
    final int fioFailed;
    final int probeRounds;
    final int probeErrors;
    final List<String> problems = new ArrayList<>();
    final long[] gapsUs;
    final List<Slow> slow = new ArrayList<>();
    /** The longest completion latency of a write (and of a verifying read) over all fio runs, in ms. */
    double fioMaxWriteMs;
    double fioMaxReadMs;

    private LoadRun(String log) {
        this.log = log;
        Matcher done = Pattern.compile("LOAD DONE runs=(\\d+) failed=(\\d+)").matcher(log);
        if (!done.find()) {
            throw new AssertionError("the load pod did not finish its report:\n" + tail(log));
        }
        fioRuns = Integer.parseInt(done.group(1));
        fioFailed = Integer.parseInt(done.group(2));
        Matcher probe = Pattern.compile("PROBE rounds=(\\d+) errors=(\\d+)").matcher(log);
        if (!probe.find()) {
            throw new AssertionError("the load pod's probe did not report:\n" + tail(log));
        }
        probeRounds = Integer.parseInt(probe.group(1));
        probeErrors = Integer.parseInt(probe.group(2));
        List<Long> gaps = new ArrayList<>();
        KubernetesSerialization json = new KubernetesSerialization();
        StringBuilder fioJson = null;
        for (String line : log.split("\n")) {
            if (line.startsWith("GAPS-US ")) {
                for (String g : line.substring(8).strip().split("\\s+")) {
                    if (!g.isEmpty()) {
                        gaps.add(Long.parseLong(g));
                    }
                }
            } else if (line.startsWith("SLOW ")) {
                String[] f = line.split(" ");
                slow.add(new Slow(Long.parseLong(f[1]), Long.parseLong(f[2])));
            } else if (line.startsWith("PROBE-ERROR ") || line.startsWith("FIO RUN ")) {
                problems.add(line);
            } else if (line.startsWith("FIO-JSON-BEGIN")) {
                fioJson = new StringBuilder();
            } else if (line.startsWith("FIO-JSON-END")) {
                readFio(json, fioJson == null ? "" : fioJson.toString());
                fioJson = null;
            } else if (fioJson != null) {
                fioJson.append(line).append('\n');
            }
        }
        gapsUs = gaps.stream().mapToLong(Long::longValue).sorted().toArray();
    }

    static LoadRun parse(String log) {
        return new LoadRun(log);
    }

    private void readFio(KubernetesSerialization json, String text) {
        // fio may print notes before its JSON document
        int brace = text.indexOf('{');
        if (brace < 0) {
            problems.add("a fio run left no JSON report");
            return;
        }
        Map<?, ?> root = json.unmarshal(text.substring(brace), Map.class);
        if (!(root.get("jobs") instanceof List<?> jobs)) {
            problems.add("a fio report without jobs");
            return;
        }
        for (Object o : jobs) {
            Map<?, ?> job = (Map<?, ?>) o;
            if (job.get("error") instanceof Number n && n.intValue() != 0) {
                problems.add("job " + job.get("jobname") + " error " + n + errnoName(n.intValue()));
            }
            fioMaxWriteMs = Math.max(fioMaxWriteMs, number(job, "write", "clat_ns", "max") / 1e6);
            fioMaxReadMs = Math.max(fioMaxReadMs, number(job, "read", "clat_ns", "max") / 1e6);
        }
    }

    private static String errnoName(int errno) {
        String name = switch (errno) {
            case 5 -> "EIO";
            case 28 -> "ENOSPC";
            case 103 -> "ECONNABORTED";
            case 107 -> "ENOTCONN";
            case 122 -> "EDQUOT";
            default -> null;
        };
        return name == null ? "" : " (" + name + ")";
    }

    private static double number(Map<?, ?> map, String... path) {
        Object o = map;
        for (String key : path) {
            o = o instanceof Map<?, ?> m ? m.get(key) : null;
        }
        return o instanceof Number n ? n.doubleValue() : 0;
    }

    boolean clean() {
        return fioFailed == 0 && probeErrors == 0 && problems.isEmpty() && fioRuns > 0;
    }

    double maxGapMs() {
        return gapsUs.length == 0 ? 0 : gapsUs[gapsUs.length - 1] / 1000.0;
    }

    double percentileGapMs(double p) {
        if (gapsUs.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(p / 100 * gapsUs.length) - 1;
        return gapsUs[Math.max(0, Math.min(gapsUs.length - 1, i))] / 1000.0;
    }

    /** The longest probe round that was under way at, or began within the bound after, the given instant. */
    double pauseAfterMs(long epochMs, Duration within) {
        return slow.stream().filter(s -> s.endEpochMs >= epochMs && s.endEpochMs - s.gapUs / 1000 <= epochMs + within.toMillis())
                .mapToDouble(s -> s.gapUs / 1000.0).max().orElse(0);
    }

    String summary() {
        return String.format("fio runs %d (failed %d), write clat max %.0f ms, verify read clat max %.0f ms;"
                        + " probe rounds %d (errors %d), round p50 %.1f ms, p99 %.1f ms, max %.0f ms",
                fioRuns, fioFailed, fioMaxWriteMs, fioMaxReadMs, probeRounds, probeErrors, percentileGapMs(50),
                percentileGapMs(99), maxGapMs());
    }

    /** What went wrong, grouped: a broken volume fails every run and every probe round alike. */
    String problemsText() {
        if (problems.isEmpty()) {
            return "none";
        }
        List<String> failedRuns = problems.stream().filter(p -> p.startsWith("FIO RUN ")).toList();
        List<String> probe = problems.stream().filter(p -> p.startsWith("PROBE-ERROR ")).map(p -> p.substring(12)).toList();
        List<String> other = problems.stream().filter(p -> !p.startsWith("FIO RUN ") && !p.startsWith("PROBE-ERROR "))
                .distinct().toList();
        StringBuilder s = new StringBuilder();
        if (!failedRuns.isEmpty()) {
            s.append(String.format("fio: %d of %d runs failed, the first: %s%n", failedRuns.size(), fioRuns, failedRuns.getFirst()));
        }
        if (!other.isEmpty()) {
            s.append("fio: ").append(String.join("; ", other.subList(0, Math.min(10, other.size())))).append('\n');
        }
        if (!probe.isEmpty()) {
            s.append(String.format("probe: %d failed writes: %s%n", probe.size(),
                    String.join("; ", probe.stream().distinct().limit(5).toList())));
        }
        return s.toString().strip();
    }

    /** The end of a load pod's log, its line of probe rounds cut short. */
    static String tail(String log) {
        List<String> lines = log == null ? List.of() : Arrays.stream(log.split("\n"))
                .map(l -> l.length() > 300 ? l.substring(0, 300) + "…" : l).toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }
}
