#!/usr/bin/python3
"""Writes the report of one benchmark invocation from the files bench/run.sh left in its results dir.

usage: report.py RESULTS_DIR [--no-chart]

reads   measurements.tsv  run, target, workload, phase, unit, better (higher|lower|none), value
        env.tsv           key, value: the machine and the invocation
        targets.tsv       target, workload, run, what really ran (the daemon's negotiation)
        workloads.tsv     workload, what it does in this invocation
        errors.tsv        workload, target, run of each workload run that failed
writes  results.md        header and the table: median and spread per target, ratio to native
        results.csv       one line per row and target
        chart.dat, chart.gp, chart.png   bar chart of the ratios to native (gnuplot)

The ratio is speed relative to native in the same invocation for every row: target/native where
higher is better (IOPS, MB/s, ops/s), native/target where lower is better (seconds, latency). So a
ratio above 1 is faster than native and "R1 total <= 2x native time" reads "R1 total ratio >= 0.5".
"""
import csv
import math
import os
import statistics
import subprocess
import sys
from collections import OrderedDict, defaultdict

NATIVE = "native"


def read_tsv(path, width):
    if not os.path.exists(path):
        return []
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != width:
                raise ValueError(f"{path}:{number}: expected {width} tab-separated fields, got {len(fields)}")
            rows.append(fields)
    return rows


class Row:
    """One line of the table: a workload's phase, with the values of every run on every target."""

    def __init__(self, workload, phase, unit, better):
        self.workload, self.phase, self.unit, self.better = workload, phase, unit, better
        self.values = defaultdict(dict)  # target -> run -> value

    def key(self):
        return (self.workload, self.phase)

    def stats(self, target):
        runs = self.values.get(target)
        if not runs:
            return None
        vals = sorted(runs.values())
        median = statistics.median(vals)
        spread = (vals[-1] - vals[0]) / 2 / median if median else 0.0
        return {"n": len(vals), "median": median, "min": vals[0], "max": vals[-1], "spread": spread,
                "values": [runs[r] for r in sorted(runs)]}

    def ratio(self, target):
        mine, native = self.stats(target), self.stats(NATIVE)
        if self.better == "none" or not mine or not native or not mine["median"] or not native["median"]:
            return None
        if self.better == "higher":
            return mine["median"] / native["median"]
        return native["median"] / mine["median"]

    def label(self, single_phase):
        return self.workload if single_phase else f"{self.workload} {self.phase}"


def build_rows(measurements, workload_order):
    rows = OrderedDict()
    for run, target, workload, phase, unit, better, value in measurements:
        if better not in ("higher", "lower", "none"):
            raise ValueError(f"measurement {workload}/{phase}: 'better' must be higher, lower or none, got {better!r}")
        row = rows.setdefault((workload, phase), Row(workload, phase, unit, better))
        row.values[target][int(run)] = float(value)
    add_derived(rows)
    order = {w: i for i, w in enumerate(workload_order)}
    return sorted(rows.values(), key=lambda r: order.get(r.workload, len(order)))  # stable: phases keep their order


def add_derived(rows):
    """Rows computed per run from others: S1's scaling factor and R1's total time."""
    one = next((r for r in rows.values() if r.workload == "S1" and r.phase == "1 job"), None)
    two = next((r for r in rows.values() if r.workload == "S1" and r.phase == "2 jobs"), None)
    if one and two:
        scaling = Row("S1", "2 jobs / 1 job", "x", "none")
        for target, runs in two.values.items():
            for run, v in runs.items():
                base = one.values.get(target, {}).get(run)
                if base:
                    scaling.values[target][run] = v / base
        rows[scaling.key()] = scaling
    phases = [r for r in rows.values() if r.workload == "R1" and r.unit == "s"]
    if phases:
        total = Row("R1", "total", "s", "lower")
        for target in set(t for r in phases for t in r.values):
            for run in set(n for r in phases for n in r.values.get(target, {})):
                if all(run in r.values.get(target, {}) for r in phases):
                    total.values[target][run] = sum(r.values[target][run] for r in phases)
        rows[total.key()] = total


def fmt_value(v):
    a = abs(v)
    if a >= 100000:
        return f"{v / 1000:.0f}k"
    if a >= 10000:
        return f"{v / 1000:.1f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_ratio(r):
    return f"{r:.2f}" if r >= 0.1 else f"{r:.3f}"


def fmt_cell(row, target, failed, runs):
    s = row.stats(target)
    if not s:
        return "failed" if (row.workload, target) in failed else "–"
    text = fmt_value(s["median"]) + (f" ±{s['spread'] * 100:.0f}%" if s["n"] > 1 else "")
    if s["n"] < runs:
        text += f" ({s['n']} of {runs} runs)"
    r = row.ratio(target)
    if target != NATIVE and r is not None:
        text = f"**{fmt_ratio(r)}×** {text}"
    return text


def describe_targets(targets, descriptions):
    lines = []
    for t in targets:
        seen = OrderedDict()
        for target, _workload, _run, what in descriptions:
            if target == t:
                seen[what] = seen.get(what, 0) + 1
        if not seen:
            lines.append(f"- **{t}**: never came up")
        elif len(seen) == 1:
            lines.append(f"- **{t}**: {next(iter(seen))}")
        else:
            variants = "; ".join(f"{what} ({n}×)" for what, n in seen.items())
            lines.append(f"- **{t}**: NOT THE SAME IN EVERY MOUNT: {variants}")
    return lines


def write_markdown(path, env, targets, rows, descriptions, errors, workloads):
    failed = {(w, t) for w, t, _ in errors}
    out = [f"# eFuse benchmark, {env.get('date', '?')}", ""]
    for key in ("kernel", "cores", "cpu", "memory", "scratch", "fio", "commit", "mode", "runs", "runtime",
                "duration", "load", "load at end"):
        if key in env:
            out.append(f"- {key}: {env[key]}")
    out += ["", "What each target really ran:", ""] + describe_targets(targets, descriptions)
    if workloads:
        out += ["", "Workloads:", ""] + [f"- {w}: {what}" for w, what in workloads]
    out += ["", "Each cell: **ratio to native** (speed relative to native in this invocation, >1 is faster; "
            "native/target for times and latencies), then the median over runs ± half the spread "
            "between the slowest and fastest run, relative to the median.", ""]
    out.append("| workload | phase | unit | " + " | ".join(targets) + " |")
    out.append("|---|---|---|" + "---|" * len(targets))
    for row in rows:
        cells = [fmt_cell(row, t, failed, int(env.get("runs", "1"))) for t in targets]
        out.append(f"| {row.workload} | {row.phase} | {row.unit} | " + " | ".join(cells) + " |")
    if errors:
        out += ["", "Failed workload runs (see logs/):", ""]
        out += [f"- {w} on {t}, run {r}" for w, t, r in errors]
    out.append("")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    return "\n".join(out)


def write_csv(path, targets, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "phase", "unit", "better", "target", "runs", "median", "min", "max",
                    "spread", "ratio_to_native", "values"])
        for row in rows:
            for t in targets:
                s = row.stats(t)
                if not s:
                    continue
                r = row.ratio(t)
                w.writerow([row.workload, row.phase, row.unit, row.better, t, s["n"], f"{s['median']:.6g}",
                            f"{s['min']:.6g}", f"{s['max']:.6g}", f"{s['spread']:.4f}",
                            "" if r is None else f"{r:.4f}", ";".join(f"{v:.6g}" for v in s["values"])])


def single_phase_workloads(rows):
    count = defaultdict(int)
    for row in rows:
        count[row.workload] += 1
    return {w for w, n in count.items() if n == 1}


def write_chart(results, env, targets, rows):
    others = [t for t in targets if t != NATIVE]
    charted = [r for r in rows if r.better != "none"]
    if not others or not charted:
        return None
    single = single_phase_workloads(rows)
    dat = os.path.join(results, "chart.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write("\t".join(["row"] + others) + "\n")
        for row in charted:
            ratios = [row.ratio(t) for t in others]
            f.write("\t".join([row.label(row.workload in single)] +
                              ["?" if r is None else f"{r:.4f}" for r in ratios]) + "\n")
    finite = [r for row in charted for r in (row.ratio(t) for t in others) if r]
    lo = 2 ** math.floor(math.log2(min(finite + [0.5])))
    hi = 2 ** math.ceil(math.log2(max(finite + [2.0])))
    powers = range(int(math.log2(lo)), int(math.log2(hi)) + 1)
    ytics = ", ".join(f'"{2 ** p:g}" {2 ** p:g}' if p >= 0 else f'"1/{2 ** -p}" {2 ** p:g}' for p in powers)
    title = f"speed relative to native (higher is better), kernel {env.get('kernel', '?')}, {env.get('cores', '?')} cores"
    if env.get("mode", "").startswith("quick"):
        title += ", QUICK SMOKE RUN"
    gp = os.path.join(results, "chart.gp")
    with open(gp, "w", encoding="utf-8") as f:
        f.write(f"""set terminal pngcairo size {max(900, 24 * len(charted) * len(others) + 40 * len(charted) + 250)},560 font "sans,10"
set output "{os.path.join(results, 'chart.png')}"
set termoption noenhanced
set datafile separator "\\t"
set datafile missing "?"
set title "{title}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -40 scale 0 nomirror
set ytics nomirror
set grid ytics
# Ratios on a log scale: 0.5x and 2x are the same distance from native, and one outlier does not flatten the rest.
set logscale y 2
set yrange [{lo}:{hi}]
set ytics ({ytics})
set ylabel "ratio to native (log scale)"
set key outside right top
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linewidth 1.5 front
plot for [i=2:{len(others) + 1}] "{dat}" using i:xtic(1) title columnheader(i)
""")
    subprocess.run(["gnuplot", gp], check=True)
    return os.path.join(results, "chart.png")


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = args[0]
    try:
        env = dict(read_tsv(os.path.join(results, "env.tsv"), 2))
        measurements = read_tsv(os.path.join(results, "measurements.tsv"), 7)
        descriptions = read_tsv(os.path.join(results, "targets.tsv"), 4)
        errors = read_tsv(os.path.join(results, "errors.tsv"), 3)
        workloads = read_tsv(os.path.join(results, "workloads.tsv"), 2)
        targets = env.get("targets", "").split() or sorted({m[1] for m in measurements})
        if NATIVE in targets:  # native first: it is the reference column
            targets = [NATIVE] + [t for t in targets if t != NATIVE]
        rows = build_rows(measurements, env.get("workloads", "").split())
        table = write_markdown(os.path.join(results, "results.md"), env, targets, rows, descriptions, errors, workloads)
        write_csv(os.path.join(results, "results.csv"), targets, rows)
        if "--no-chart" not in argv:
            write_chart(results, env, targets, rows)
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"report: {results}: {e}", file=sys.stderr)
        return 1
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
