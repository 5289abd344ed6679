#!/usr/bin/env python3
"""What `sluice batch` costs: the throughput of a batch through the in-process gateway
(`sluice batch -c CONFIG`, every line through the gateway's pipeline to the upstream) against
the same client sending the same file straight to the upstream (`sluice batch --url UPSTREAM`,
no gateway), at the same concurrency, and the peak RSS of `sluice batch` for a small and a
large input.

The upstream is proxy_bench.py's nginx answering a fixed chat completion instantly, or after a
delay (--upstream-delay-ms: `sluice mock` with that first-token delay). Runs alternate in paired rounds, the order reversed every other round;
the table gives the median of the per-round ratios gateway/direct of requests per second. The
issue's targets: the gateway's throughput at least 90% of direct; peak RSS under 100 MiB for
1,000 and for 1,000,000 lines.

With --peer-nginx each round also sends the file through nginx as a plain reverse proxy (one
worker, as the in-process gateway has by default; proxy_bench.py's configuration) to the same
upstream: what the hop through a proxy costs on this machine, whatever the proxy.

    python3 bench/load/batch_bench.py                         # 3 rounds of 100,000 lines
    python3 bench/load/batch_bench.py --lines 20000 --rounds 5 --concurrency 64
    python3 bench/load/batch_bench.py --rss-only --rss-lines 1000,1000000
    python3 bench/load/batch_bench.py --rss-lines '' --upstream-delay-ms 2 --peer-nginx

Python 3 standard library only; needs nginx. Everything listens on 127.0.0.1 and lives in a
temporary directory; every process is stopped on exit, and every run has a time bound.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import proxy_bench as pb

HERE = Path(__file__).resolve().parent


def write_input(path: Path, lines: int) -> None:
    """`lines` distinct chat requests (distinct bodies: the cache, if on, would miss)."""
    with path.open("w") as f:
        for i in range(lines):
            f.write(json.dumps({
                "custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": pb.JSON_MODEL, "max_tokens": 64,
                         "messages": [{"role": "user", "content": f"Describe item {i}."}]},
            }, separators=(",", ":")) + "\n")


def run_batch(args, tmp: Path, input_path: Path, target: list[str], name: str,
              timeout: float) -> dict:
    """One `sluice batch` run to the end: its throughput and, from wait4, its peak RSS."""
    out = tmp / f"{name}.out.jsonl"
    out.unlink(missing_ok=True)
    argv = [args.sluice, "batch", str(input_path), "-o", str(out), "--concurrency",
            str(args.concurrency), "-q"] + target
    stdout = tmp / f"{name}.stdout"
    with stdout.open("w") as so, (tmp / f"{name}.log").open("w") as se:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=so, stderr=se, preexec_fn=pb._set_pdeathsig)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise RuntimeError(f"{name}: did not finish within {timeout} s")
            time.sleep(0.02)
        elapsed = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    summary = stdout.read_text()
    m = re.search(r"(\d+) requests in ([\d.]+) s \((\d+)/s\): (\d+) ok, (\d+) failed", summary)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"{name}: exit {proc.returncode}\n{summary}\n" +
                           pb.tail(tmp / f"{name}.log"))
    done, ok = int(m.group(1)), int(m.group(4))
    return {"name": name, "requests": done, "ok": ok, "seconds": elapsed,
            "rps": done / elapsed, "peak_rss_kib": usage.ru_maxrss,
            "cpu_s": usage.ru_utime + usage.ru_stime}


def gateway_config(tmp: Path, upstream_port: int, workers: int) -> Path:
    conf = tmp / "batch-gateway.yaml"
    conf.write_text(f"""\
# Written by bench/load/batch_bench.py: a pure pass-through to the upstream.
workers: {workers}
log_level: warn
providers:
  - name: upstream
    kind: openai
    base_url: http://127.0.0.1:{upstream_port}/v1
models:
  - name: {pb.JSON_MODEL}
    deployments: [{{provider: upstream}}]
""")
    return conf


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sluice", default=str(HERE.parents[1] / "build/release/sluice"))
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--workers", type=int, default=1,
                    help="the in-process gateway's worker threads")
    ap.add_argument("--upstream-delay-ms", type=int, default=0,
                    help="0: nginx answering at once; N: `sluice mock` waiting N ms first")
    ap.add_argument("--rss-lines", default="1000,1000000",
                    help="input sizes whose peak RSS is measured (through the gateway)")
    ap.add_argument("--rss-only", action="store_true")
    ap.add_argument("--peer-nginx", action="store_true",
                    help="also run each round through nginx as a reverse proxy")
    ap.add_argument("--timeout", type=float, default=900, help="seconds, per run")
    args = ap.parse_args()
    args.sluice = os.path.abspath(args.sluice)
    if (args.upstream_delay_ms == 0 or args.peer_nginx) and not shutil.which("nginx"):
        ap.error("nginx is not on PATH")
    command = shlex.join(["python3", os.path.relpath(sys.argv[0])] + sys.argv[1:])

    tmp = Path(tempfile.mkdtemp(prefix="sluice-batch-bench-"))
    for d in ("upstream-tmp", "proxy-tmp", "www"):
        (tmp / d).mkdir()
    started: list = []
    try:
        upstream_port = pb.free_port()
        if args.upstream_delay_ms == 0:
            user = "user root;" if os.geteuid() == 0 else ""
            (tmp / "www/stream.sse").write_text(pb.upstream_chat_sse())
            (tmp / "www/anthropic.sse").write_text(pb.upstream_anthropic_sse())
            upstream = pb.start_nginx("upstream", pb.render("upstream.conf.in", {
                "USER": user, "DIR": tmp, "PORT": upstream_port,
                "CHAT_JSON": pb.nginx_quote(pb.upstream_chat_json())}), tmp)
            what = "nginx answering a fixed chat completion at once"
        else:
            upstream = pb.Server("upstream", [
                args.sluice, "mock", "--listen", f"127.0.0.1:{upstream_port}", "--workers", "1",
                "--first-token-delay", f"{args.upstream_delay_ms}ms", "--log-level", "warn"],
                tmp / "upstream.log", nginx=False)
            what = f"`sluice mock` answering after {args.upstream_delay_ms} ms"
        started.append(upstream)
        pb.wait_port(upstream_port, upstream.proc, "upstream", tmp / "upstream.log")
        conf = gateway_config(tmp, upstream_port, args.workers)
        via_gateway = ["-c", str(conf)]
        direct = ["--url", f"http://127.0.0.1:{upstream_port}"]
        paths = [("direct", direct), ("gateway", via_gateway)]
        if args.peer_nginx:
            json_port, stream_port = pb.free_port(), pb.free_port()
            while stream_port == json_port:
                stream_port = pb.free_port()
            proxy = pb.start_nginx("proxy", pb.render("proxy.conf.in", {
                "USER": "user root;" if os.geteuid() == 0 else "", "DIR": tmp,
                "WORKERS": args.workers, "UPSTREAM_PORT": upstream_port, "STREAM_PATH": "stream",
                "JSON_PORT": json_port, "STREAM_PORT": stream_port}), tmp)
            started.append(proxy)
            pb.wait_port(json_port, proxy.proc, "nginx proxy", tmp / "proxy-error.log")
            paths.append(("nginx", ["--url", f"http://127.0.0.1:{json_port}"]))
        print(f"upstream: {what}; concurrency {args.concurrency}; "
              f"in-process gateway workers {args.workers}", flush=True)

        ratios, nginx_ratios, rows = [], [], []
        if not args.rss_only:
            input_path = tmp / f"in-{args.lines}.jsonl"
            write_input(input_path, args.lines)
            for r in range(args.rounds):
                order = list(paths)
                if r % 2:
                    order.reverse()
                got = {}
                for name, target in order:
                    got[name] = run_batch(args, tmp, input_path, target, name, args.timeout)
                    print(f"  round {r + 1} {name:8s} {got[name]['rps']:8.0f} req/s "
                          f"{got[name]['seconds']:6.1f} s  peak RSS "
                          f"{got[name]['peak_rss_kib'] / 1024:.1f} MiB", flush=True)
                ratios.append(got["gateway"]["rps"] / got["direct"]["rps"])
                if "nginx" in got:
                    nginx_ratios.append(got["nginx"]["rps"] / got["direct"]["rps"])
                rows.append(got)

        rss = []
        for n in [int(x) for x in args.rss_lines.split(",") if x]:
            path = tmp / f"in-{n}.jsonl"
            write_input(path, n)
            got = run_batch(args, tmp, path, via_gateway, f"rss-{n}", args.timeout)
            rss.append((n, got))
            path.unlink()
            (tmp / f"rss-{n}.out.jsonl").unlink(missing_ok=True)
            print(f"  {n:>9,} lines  {got['rps']:8.0f} req/s  peak RSS "
                  f"{got['peak_rss_kib'] / 1024:.1f} MiB", flush=True)

        print(f"\n`{command}`\n")
        if ratios:
            print("| | direct req/s (median) | through the gateway req/s (median) | "
                  "gateway/direct (median of rounds) |")
            print("|---|---|---|---|")
            print(f"| {args.lines:,} lines, concurrency {args.concurrency} | "
                  f"{statistics.median(r['direct']['rps'] for r in rows):,.0f} | "
                  f"{statistics.median(r['gateway']['rps'] for r in rows):,.0f} | "
                  f"{statistics.median(ratios):.3f} (rounds: "
                  f"{', '.join(f'{x:.3f}' for x in ratios)}) |")
            if nginx_ratios:
                print(f"| the same through nginx as a reverse proxy | | "
                      f"{statistics.median(r['nginx']['rps'] for r in rows):,.0f} | "
                      f"{statistics.median(nginx_ratios):.3f} (rounds: "
                      f"{', '.join(f'{x:.3f}' for x in nginx_ratios)}) |")
        if rss:
            print("\n| input lines | peak RSS of `sluice batch -c` | req/s |")
            print("|---|---|---|")
            for n, got in rss:
                print(f"| {n:,} | {got['peak_rss_kib'] / 1024:.1f} MiB | {got['rps']:,.0f} |")
        failed = (ratios and statistics.median(ratios) < 0.9) or any(
            got["peak_rss_kib"] > 100 * 1024 for _, got in rss)
        return 1 if failed else 0
    finally:
        for s in started:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
