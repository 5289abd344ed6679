#!/usr/bin/env python3
"""What the balancer costs: Sluice with one deployment per model against Sluice with three
behind p2c-ewma, side by side.

The setup is proxy_bench.py's (one upstream nginx answering instantly, wrk driving keep-alive
POSTs with a distinct body per request); the two Sluice processes differ only in the number of
deployments per model (each deployment its own provider, so its own connection pool). Runs
alternate in paired rounds and the result is the median of the per-round ratios
three/one of CPU time per request and of requests per second.

    python3 bench/load/routing_bench.py                  # 5 rounds of 10 s runs
    python3 bench/load/routing_bench.py --rounds 3 --duration 5 --deployments 3

Python 3 standard library only; needs nginx and wrk. Everything listens on 127.0.0.1 and lives
in a temporary directory; every process is stopped on exit. See bench/load/README.md.
"""

from __future__ import annotations

import sys

import proxy_bench as pb


def main() -> int:
    ap = pb.sluice_bench_parser(__doc__)
    ap.add_argument("--deployments", type=int, default=3)
    args = ap.parse_args()
    if args.deployments < 2:
        ap.error("bad --deployments")
    names = ("one", f"{args.deployments}x")

    def start(args, upstream_port, tmp, started):
        one, one_port = pb.start_sluice(args, upstream_port, tmp, "sluice-one")
        started.append(one)
        many, many_port = pb.start_sluice(args, upstream_port, tmp, "sluice-many",
                                          deployments=args.deployments)
        started.append(many)
        return {names[0]: (one, one_port), names[1]: (many, many_port)}, {}

    def report(runs, command, cases):
        print(f"\n## Balancer cost: {args.deployments} deployments behind p2c-ewma vs one\n")
        print(f"`{command}` — {args.rounds} paired rounds of {args.duration} s, "
              f"{args.workers} workers, wrk -t{args.threads} -c{args.connections}.\n")
        return pb.print_pair_table(runs, names, cases)

    return pb.run_sluice_bench(ap, args, "routing", start, report)


if __name__ == "__main__":
    sys.exit(main())
