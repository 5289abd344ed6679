#!/usr/bin/env python3
"""What the metrics cost: Sluice as a plain pass-through with `metrics: {enabled: false}` against
the same with metrics on (the default), side by side.

The setup is proxy_bench.py's (one upstream nginx answering instantly, wrk driving keep-alive
POSTs with a distinct body per request); the two Sluice processes differ only in the metrics
switch. With metrics on, each request is recorded (requests, duration, upstream and overhead
histograms, and for a stream its time to first token) and its answer's usage read for the token
and cost counters; nothing scrapes /metrics during the runs. Runs alternate in paired rounds,
the order reversed every other round, and the table gives the medians of the per-round ratios
on/off of CPU time per request and of requests per second. The issue's target: CPU per request
differs by less than 3%.

    python3 bench/load/metrics_bench.py                  # 5 rounds of 10 s runs
    python3 bench/load/metrics_bench.py --rounds 4 --duration 5

Python 3 standard library only; needs nginx and wrk. Everything listens on 127.0.0.1 and lives
in a temporary directory; every process is stopped on exit. See bench/load/README.md.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

import proxy_bench as pb

NAMES = ("off", "on")


def metrics_status(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def start(args, upstream_port, tmp, started):
    off, off_port = pb.start_sluice(args, upstream_port, tmp, "sluice-metrics-off",
                                    extra="metrics: {enabled: false}\n")
    started.append(off)
    on, on_port = pb.start_sluice(args, upstream_port, tmp, "sluice-metrics-on")
    started.append(on)
    # The switch really is what differs: /metrics is 404 on one and served by the other.
    for name, port, want in (("off", off_port, 404), ("on", on_port, 200)):
        got = metrics_status(port)
        if got != want:
            raise RuntimeError(f"metrics {name}: GET /metrics answered {got}, expected {want}")
    return {NAMES[0]: (off, off_port), NAMES[1]: (on, on_port)}, {}


def main() -> int:
    ap = pb.sluice_bench_parser(__doc__)
    args = ap.parse_args()

    def report(runs, command, cases):
        print(f"\n`{command}` — {args.rounds} rounds of {args.duration} s per configuration, "
              f"{args.workers} workers, wrk -t{args.threads} -c{args.connections}.\n")
        return pb.print_pair_table(runs, NAMES, cases)

    return pb.run_sluice_bench(ap, args, "metrics", start, report)


if __name__ == "__main__":
    sys.exit(main())
