#!/usr/bin/env python3
"""What keys and limits cost: Sluice as a plain pass-through, Sluice with the usage ledger only
(a data_dir, no auth, no limits), and Sluice with `auth.mode: keys`, a key with rpm/tpm limits,
per-model and global limits and the ledger, side by side.

The first table is the cost of auth and limits (keys against ledger: both write one ledger row per
request), the second the ledger's own cost (ledger against plain), the third both together.

The setup is proxy_bench.py's (one upstream nginx answering instantly, wrk driving keep-alive
POSTs with a distinct body per request); the two Sluice processes differ only in auth, limits and
the control plane. The limits are set high enough never to refuse, so both serve every request
and the difference is the cost of deciding. Runs alternate in paired rounds and the result is
the median of the per-round ratios keys/plain of CPU time per request and of requests per second.

    python3 bench/load/keys_bench.py                  # 5 rounds of 10 s runs
    python3 bench/load/keys_bench.py --rounds 3 --duration 5

Python 3 standard library only; needs nginx and wrk. Everything listens on 127.0.0.1 and lives
in a temporary directory; every process is stopped on exit. See bench/load/README.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import proxy_bench as pb


def main() -> int:
    default_workers = max(1, min(2, os.cpu_count() or 1))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sluice", default=str(pb.REPO / "build/release/sluice"))
    ap.add_argument("--workers", type=int, default=default_workers)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    ap.add_argument("--rounds", type=int, default=5, help="paired rounds (default 5)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--timeout", default="2s")
    ap.add_argument("--cases", default="json,stream")
    ap.add_argument("--stream-upstream", choices=("chunked", "length"), default="chunked")
    args = ap.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    if not set(cases) <= {"json", "stream"}:
        ap.error("bad --cases")
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            ap.error(f"{tool} is not on PATH")
    args.sluice = os.path.abspath(args.sluice)
    command = shlex.join(["python3", os.path.relpath(sys.argv[0])] + sys.argv[1:])

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    tmp = Path(tempfile.mkdtemp(prefix="sluice-keys-bench-"))
    for d in ("upstream-tmp", "proxy-tmp"):
        (tmp / d).mkdir()
    started: list[pb.Server] = []
    user = "user root;" if os.geteuid() == 0 else ""
    names = ("plain", "ledger", "keys")
    try:
        (tmp / "www").mkdir()
        (tmp / "www/stream.sse").write_text(pb.upstream_chat_sse())
        upstream_port = pb.free_port()
        upstream = pb.start_nginx("upstream", pb.render("upstream.conf.in", {
            "USER": user, "DIR": tmp, "PORT": upstream_port,
            "CHAT_JSON": pb.nginx_quote(pb.upstream_chat_json())}), tmp)
        started.append(upstream)
        pb.wait_port(upstream_port, upstream.proc, "upstream nginx", tmp / "upstream-error.log")
        plain, plain_port = pb.start_sluice(args, upstream_port, tmp, "sluice-plain")
        started.append(plain)

        ledger, ledger_port = pb.start_sluice(args, upstream_port, tmp, "sluice-ledger",
                                              extra=f"data_dir: {tmp / 'data-ledger'}\n")
        started.append(ledger)
        extra, model_extra, secret = pb.keys_setup(args.sluice, tmp)
        keyed, keyed_port = pb.start_sluice(args, upstream_port, tmp, "sluice-keys", extra=extra,
                                            model_extra=model_extra)
        started.append(keyed)
        servers = {"upstream": upstream, "upstream_port": upstream_port,
                   "procs": {"plain": {c: plain for c in cases},
                             "ledger": {c: ledger for c in cases},
                             "keys": {c: keyed for c in cases}},
                   "ports": {"plain": {c: plain_port for c in cases},
                             "ledger": {c: ledger_port for c in cases},
                             "keys": {c: keyed_port for c in cases}},
                   "keys": {"keys": secret}}
        time.sleep(0.5)
        runs = pb.paired_rounds(args, servers, names, cases)

        print(f"\n`{command}` — {args.rounds} rounds of {args.duration} s per configuration, "
              f"{args.workers} workers, wrk -t{args.threads} -c{args.connections}.")
        failed = False
        for title, pair in (("Auth and limits (keys against ledger)", ("ledger", "keys")),
                            ("The usage ledger (ledger against plain)", ("plain", "ledger")),
                            ("Both (keys against plain)", ("plain", "keys"))):
            print(f"\n### {title}\n")
            failed = pb.print_pair_table(runs, pair, cases) or failed
        return 1 if failed else 0
    except KeyboardInterrupt as e:
        pb.log(f"interrupted ({e.args[0] if e.args else 'Ctrl-C'}): stopping")
        return 130
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception as e:
                pb.log(f"stopping {s.name}: {e}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
