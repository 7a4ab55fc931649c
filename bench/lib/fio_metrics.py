#!/usr/bin/python3
"""Turns one fio JSON result into measurement rows: phase, unit, better, value (tab separated).

usage: fio_metrics.py iops|mbps|clat FILE PHASE     (PHASE may be empty for clat)

  iops  read + write IOPS of the (group-reported) job          -> PHASE  IOPS  higher
  mbps  read + write bandwidth in MB/s (10^6 bytes per second)  -> PHASE  MB/s  higher
  clat  completion latency percentiles of reads in microseconds -> [PHASE ]p50|p99|p99.9  us  lower
"""
import json
import os
import sys

PERCENTILES = (("p50", "50.000000"), ("p99", "99.000000"), ("p99.9", "99.900000"))


def load(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # fio prints notes such as "fio: file hash not empty on exit" before the JSON document.
    start = text.find("{")
    if start < 0:
        raise ValueError(f"{path}: no JSON object in fio output")
    doc = json.loads(text[start:])
    jobs = doc.get("jobs") or []
    if not jobs:
        raise ValueError(f"{path}: fio reported no jobs")
    for job in jobs:
        if job.get("error", 0) != 0:
            err = job["error"]
            raise ValueError(f"{path}: fio job {job.get('jobname')} failed with error {err} ({os.strerror(err)})")
    return jobs


def rows(metric, path, phase):
    jobs = load(path)
    if metric == "iops":
        return [(phase, "IOPS", "higher", sum(j[d]["iops"] for j in jobs for d in ("read", "write")))]
    if metric == "mbps":
        return [(phase, "MB/s", "higher",
                 sum(j[d]["bw_bytes"] for j in jobs for d in ("read", "write")) / 1e6)]
    if metric == "clat":
        if len(jobs) != 1:
            raise ValueError(f"{path}: latency needs one reported job, got {len(jobs)}")
        clat = jobs[0]["read"]["clat_ns"]
        if clat.get("N", 0) == 0:
            raise ValueError(f"{path}: fio completed no reads")
        pct = clat["percentile"]
        return [(f"{phase} {name}".strip(), "us", "lower", pct[key] / 1000.0) for name, key in PERCENTILES]
    raise ValueError(f"unknown metric {metric!r}: use iops, mbps or clat")


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        for phase, unit, better, value in rows(argv[1], argv[2], argv[3]):
            print(f"{phase}\t{unit}\t{better}\t{value:.6g}")
    except (OSError, ValueError) as e:
        print(f"fio_metrics: {e}", file=sys.stderr)
        return 1
    except KeyError as e:
        print(f"fio_metrics: {argv[2]}: fio output has no field {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
