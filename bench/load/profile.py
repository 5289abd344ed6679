#!/usr/bin/env python3
"""Profile Sluice as a proxy under load, with the upstream of proxy_bench.py.

Starts the benchmark's upstream nginx, then Sluice under a wrapper command (callgrind counts
instructions, reproducibly even on a noisy machine; strace counts system calls), drives it with
wrk for a fixed time, stops it with SIGTERM so the wrapper writes its report, and prints where
the report is and how many requests were served, so costs can be divided per request.

  python3 bench/load/profile.py --wrap callgrind --case json --duration 10
  python3 bench/load/profile.py --wrap strace --case stream
  python3 bench/load/profile.py --wrap perf --workers 2 --keys   # then: perf report -i OUT
  python3 bench/load/profile.py --wrap callgrind --case stream --metrics-off
  callgrind_annotate --inclusive=yes OUT | head -80

Use the `profile` preset's binary (optimised, with debug info): build/profile/sluice.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proxy_bench as pb  # noqa: E402  (the upstream and helpers are shared)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sluice", default=str(pb.REPO / "build/profile/sluice"))
    ap.add_argument("--wrap", choices=("callgrind", "strace", "perf", "none"), default="callgrind")
    ap.add_argument("--case", choices=pb.CASES, default="json")
    ap.add_argument("--duration", type=int, default=10, help="seconds of wrk load")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--out", default="", help="report file (default: in /tmp)")
    ap.add_argument("--stream-upstream", choices=("chunked", "length"), default="chunked")
    ap.add_argument("--stream-kind", choices=("openai", "anthropic"), default="openai",
                    help="anthropic: the stream model reads the upstream's Anthropic-format "
                         "stream through the translation (translate_bench.py's case)")
    ap.add_argument("--keys", action="store_true",
                    help="with keys, limits and the ledger on, as keys_bench.py runs it")
    ap.add_argument("--ledger", action="store_true",
                    help="with a data_dir (the usage ledger) only, as keys_bench.py's ledger run")
    ap.add_argument("--metrics-off", action="store_true",
                    help="with metrics: {enabled: false}, as metrics_bench.py's off run")
    ap.add_argument("--workers", type=int, default=1,
                    help="workers (1 keeps callgrind's counts reproducible; perf can see two "
                         "contend)")
    args = ap.parse_args()
    args.threads = 1
    args.timeout = "10s"

    tmp = Path(tempfile.mkdtemp(prefix="sluice-profile-"))
    out = Path(args.out or f"/tmp/sluice-{args.wrap}-{args.case}.out")
    started: list[pb.Server] = []
    try:
        for d in ("upstream-tmp", "www"):
            (tmp / d).mkdir()
        (tmp / "www/stream.sse").write_text(pb.upstream_chat_sse())
        (tmp / "www/anthropic.sse").write_text(pb.upstream_anthropic_sse())
        upstream_port = pb.free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        upstream = pb.start_nginx("upstream", pb.render("upstream.conf.in", {
            "USER": user, "DIR": tmp, "PORT": upstream_port,
            "CHAT_JSON": pb.nginx_quote(pb.upstream_chat_json())}), tmp)
        started.append(upstream)
        pb.wait_port(upstream_port, upstream.proc, "upstream nginx", tmp / "upstream-error.log")

        wrapper = {
            "callgrind": ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"],
            "strace": ["strace", "-f", "-c", "-o", str(out)],
            "perf": ["perf", "record", "-g", "-o", str(out), "--"],
            "none": [],
        }[args.wrap]
        real = args.sluice
        extra, model_extra, secret = pb.keys_setup(real, tmp) if args.keys else ("", "", "")
        if args.ledger and not args.keys:
            extra = f"data_dir: {tmp / 'data'}\n"
        if args.metrics_off:
            extra += "metrics: {enabled: false}\n"
        # start_sluice runs args.sluice with its own arguments; run the wrapper through sh.
        script = tmp / "run-sluice.sh"
        script.write_text("#!/bin/sh\nexec " + " ".join(wrapper + [real]) + ' "$@"\n')
        script.chmod(0o755)
        args.sluice = str(script)
        sluice, port = pb.start_sluice(args, upstream_port, tmp, cache=args.case == "hit",
                                       extra=extra, model_extra=model_extra,
                                       stream_kind=args.stream_kind)
        started.append(sluice)
        pb.log(f"sluice under {args.wrap} on :{port}; warming up")
        pb.wrk(args, port, args.case, 2, secret)
        if args.wrap == "callgrind":
            # Count only the measured run: start-up and warm-up are zeroed away.
            subprocess.run(["callgrind_control", "-z", str(sluice.proc.pid)], check=True,
                           capture_output=True, timeout=60)
        result = pb.wrk(args, port, args.case, args.duration, secret)
        pb.log(f"{result['requests']} requests in {args.duration}s "
               f"(errors: {result.get('errors')})")
        # Stop Sluice itself (under strace it is the wrapper's child) so the wrapper reports.
        target = sluice.proc.pid
        if args.wrap == "strace":
            children = pb.children_of(target)
            target = children[0] if children else target
        os.kill(target, signal.SIGTERM)
        sluice.proc.wait(timeout=60)
        print(f"report: {out}")
        print(f"requests: {result['requests']}"
              + (" (strace also counts the warm-up and start-up)" if args.wrap == "strace" else ""))
    finally:
        for s in reversed(started):
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
