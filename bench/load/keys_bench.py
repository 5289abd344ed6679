#!/usr/bin/env python3
"""What keys and limits cost: Sluice as a plain pass-through, Sluice with the usage ledger only
(a data_dir, no auth, no limits), and Sluice with `auth.mode: keys`, a key with rpm/tpm limits,
per-model and global limits and the ledger, side by side.

The first table is the cost of auth and limits (keys against ledger: both write one ledger row per
request), the second the ledger's own cost (ledger against plain), the third both together.

The setup is proxy_bench.py's (one upstream nginx answering instantly, wrk driving keep-alive
POSTs with a distinct body per request). The limits are set high enough never to refuse, so every
process serves every request and the difference is the cost of deciding. Runs go in rounds, the
order reversed every other round, and each table gives the medians of the per-round ratios of CPU
time per request and of requests per second.

    python3 bench/load/keys_bench.py                  # 5 rounds of 10 s runs
    python3 bench/load/keys_bench.py --rounds 3 --duration 5

Python 3 standard library only; needs nginx and wrk. Everything listens on 127.0.0.1 and lives
in a temporary directory; every process is stopped on exit. See bench/load/README.md.
"""

from __future__ import annotations

import sys

import proxy_bench as pb


def start(args, upstream_port, tmp, started):
    plain, plain_port = pb.start_sluice(args, upstream_port, tmp, "sluice-plain")
    started.append(plain)
    ledger, ledger_port = pb.start_sluice(args, upstream_port, tmp, "sluice-ledger",
                                          extra=f"data_dir: {tmp / 'data-ledger'}\n")
    started.append(ledger)
    extra, model_extra, secret = pb.keys_setup(args.sluice, tmp)
    keyed, keyed_port = pb.start_sluice(args, upstream_port, tmp, "sluice-keys", extra=extra,
                                        model_extra=model_extra)
    started.append(keyed)
    return ({"plain": (plain, plain_port), "ledger": (ledger, ledger_port),
             "keys": (keyed, keyed_port)}, {"keys": secret})


def main() -> int:
    ap = pb.sluice_bench_parser(__doc__)
    args = ap.parse_args()

    def report(runs, command, cases):
        print(f"\n`{command}` — {args.rounds} rounds of {args.duration} s per configuration, "
              f"{args.workers} workers, wrk -t{args.threads} -c{args.connections}.")
        failed = False
        for title, pair in (("Auth and limits (keys against ledger)", ("ledger", "keys")),
                            ("The usage ledger (ledger against plain)", ("plain", "ledger")),
                            ("Both (keys against plain)", ("plain", "keys"))):
            print(f"\n### {title}\n")
            failed = pb.print_pair_table(runs, pair, cases) or failed
        return failed

    return pb.run_sluice_bench(ap, args, "keys", start, report)


if __name__ == "__main__":
    sys.exit(main())
