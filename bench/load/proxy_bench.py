#!/usr/bin/env python3
"""Side-by-side load benchmark: Sluice against nginx as a plain keep-alive reverse proxy.

Both proxies sit in front of the same upstream (an nginx answering instantly with fixed
OpenAI-shaped bodies) and are driven by wrk in alternating, paired runs. The result is reported
as Sluice/nginx ratios of requests per second and CPU time per request, with latency and memory.

    python3 bench/load/proxy_bench.py                     # 5 rounds of 10 s runs
    python3 bench/load/proxy_bench.py --rounds 3 --duration 5 --json /tmp/bench.json

Python 3 standard library only; needs nginx and wrk on PATH. Everything listens on 127.0.0.1
and lives in a temporary directory; every process it starts is stopped on exit (also on Ctrl-C).
See bench/load/README.md.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

JSON_MODEL = "gpt-4o-mini"
STREAM_MODEL = "gpt-4o-mini-stream"
CASES = ("json", "stream", "hit")
# "hit": Sluice answers the JSON request from its response cache; nginx proxies it as in "json".
CASE_LABELS = {"json": "JSON", "stream": "streaming", "hit": "cache hit (nginx: proxied JSON)"}
PROXIES = ("nginx", "sluice")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Upstream bodies


def upstream_chat_json() -> str:
    """A non-streaming chat.completion as OpenAI returns it (667 bytes)."""
    body = {
        "id": "chatcmpl-BENCHq7xLr9dKp0aZ3mYt5wVh1cN",
        "object": "chat.completion",
        "created": 1732280000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Exit code 137 is SIGKILL, usually from the OOM killer. "
                           "Check the memory limit.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": 52,
            "completion_tokens": 38,
            "total_tokens": 90,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_0aa8d3e20b",
    }
    return json.dumps(body, separators=(",", ":"))


def upstream_chat_sse() -> str:
    """A streamed chat completion: 49 chat.completion.chunk events, then data: [DONE]."""
    text = ("Exit code 137 means the process received SIGKILL, which is 128 plus signal 9. "
            "In a nightly job this is almost always the out-of-memory killer. First check the "
            "memory limit of the container or cgroup, then look at dmesg for oom-kill lines and compare the input sizes.")
    words = text.split(" ")
    tokens = [words[0]] + [" " + w for w in words[1:]]
    head = {
        "id": "chatcmpl-BENCHs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion.chunk",
        "created": 1732280000,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_0aa8d3e20b",
    }

    def chunk(delta: dict, finish: str | None) -> str:
        c = dict(head)
        c["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return "data: " + json.dumps(c, separators=(",", ":")) + "\n\n"

    events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    events += [chunk({"content": t}, None) for t in tokens]
    events.append(chunk({}, "stop"))
    events.append("data: [DONE]\n\n")
    return "".join(events)


def upstream_anthropic_sse() -> str:
    """The same answer as upstream_chat_sse() in Anthropic's Messages stream format, as the API
    sends it: message_start, a text block with one content_block_delta per token, its stop,
    message_delta with the stop reason and usage, message_stop."""
    text = ("Exit code 137 means the process received SIGKILL, which is 128 plus signal 9. "
            "In a nightly job this is almost always the out-of-memory killer. First check the "
            "memory limit of the container or cgroup, then look at dmesg for oom-kill lines and compare the input sizes.")
    words = text.split(" ")
    tokens = [words[0]] + [" " + w for w in words[1:]]

    def event(name: str, data: dict) -> str:
        return f"event: {name}\ndata: " + json.dumps(data, separators=(",", ":")) + "\n\n"

    events = [event("message_start", {"type": "message_start", "message": {
        "id": "msg_BENCH01XFDUDzJfbKqHnbmrCs", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": {"input_tokens": 52, "cache_creation_input_tokens": 0,
                                         "cache_read_input_tokens": 0, "output_tokens": 1}}})]
    events.append(event("content_block_start", {"type": "content_block_start", "index": 0,
                                                "content_block": {"type": "text", "text": ""}}))
    events.append(event("ping", {"type": "ping"}))
    events += [event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": {"type": "text_delta", "text": t}})
               for t in tokens]
    events.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(event("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 47}}))
    events.append(event("message_stop", {"type": "message_stop"}))
    return "".join(events)


def nginx_quote(s: str) -> str:
    """Text for inside a single-quoted nginx string."""
    if "$" in s:
        raise ValueError("nginx strings cannot hold a literal $")
    return s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")


def request_body(case: str) -> str:
    """The body post.lua sends (kept identical; used for the correctness check)."""
    messages = ('[{"role":"system","content":"You are a concise assistant for a support team.'
                ' Answer in plain English."},{"role":"user","content":"Our nightly export job'
                ' failed with error code 137. What does that usually mean, and what should I'
                ' check first?"}]')
    if case in ("json", "hit"):
        return ('{"model":"' + JSON_MODEL + '","messages":' + messages +
                ',"temperature":0.2,"max_tokens":256,"user":"bench-user-0042"}')
    return ('{"model":"' + STREAM_MODEL + '","messages":' + messages +
            ',"temperature":0.2,"max_tokens":256,"user":"bench-user-0042","stream":true}')


# --------------------------------------------------------------------------------------------
# Processes


def _set_pdeathsig() -> None:
    """In the child: get SIGTERM if the benchmark dies without cleaning up (even SIGKILL)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, logfile: Path | None,
              timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} at startup"
                               + tail(logfile))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s"
                       + tail(logfile))


def tail(path: Path | None, n: int = 20) -> str:
    if not path or not path.exists():
        return ""
    lines = path.read_text(errors="replace").splitlines()[-n:]
    return "\n--- " + str(path) + " ---\n" + "\n".join(lines) if lines else ""


def read_stat(pid: int) -> tuple[int, int, int, int] | None:
    """(ppid, utime + stime in ticks, rss in KiB, stime in ticks) of a process, or None if it
    is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24.
    return (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21]) * PAGE_KIB,
            int(fields[12]))


def children_of(ppid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = read_stat(int(name))
        if st and st[0] == ppid:
            out.append(int(name))
    return sorted(out)


class Server:
    """A process we started. For nginx, `pid` is the master and workers are its children."""

    def __init__(self, name: str, argv: list[str], logfile: Path, nginx: bool):
        self.name = name
        self.argv = argv
        self.logfile = logfile
        self.nginx = nginx
        self._log = open(logfile, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_set_pdeathsig)
        self.pid = self.proc.pid
        self.known_workers: list[int] = []

    def workers(self) -> list[int]:
        if not self.nginx:
            return []
        w = children_of(self.pid)
        self.known_workers = sorted(set(self.known_workers) | set(w))
        return w

    def pids(self) -> list[int]:
        return [self.pid] + self.workers()

    def cpu_ticks(self) -> int:
        return self.cpu_split()[0]

    def cpu_split(self) -> tuple[int, int]:
        """(utime + stime, stime) in ticks, summed over the processes."""
        total = system = 0
        for pid in self.pids():
            st = read_stat(pid)
            if st:
                total += st[1]
                system += st[3]
        return total, system

    def ctx_switches(self) -> int:
        """Voluntary + involuntary context switches of every thread of every process."""
        total = 0
        for pid in self.pids():
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/status") as f:
                        for ln in f:
                            if ln.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")):
                                total += int(ln.split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        return total

    def rss_kib(self) -> tuple[int, int]:
        """(all processes, workers only) resident set size in KiB."""
        total = workers = 0
        for pid in self.pids():
            st = read_stat(pid)
            if not st:
                continue
            total += st[2]
            if pid != self.pid:
                workers += st[2]
        return total, workers

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) ignored SIGTERM for 8 s: SIGKILL")
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        # nginx workers orphaned by a killed master: only the pids we saw, and only if they
        # are still nginx processes.
        for pid in self.known_workers:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if comm == "nginx":
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log.close()


# --------------------------------------------------------------------------------------------
# Measuring


def http_post(port: int, body: str, timeout: float = 5.0) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/chat/completions", body=body.encode(),
                     headers={"Content-Type": "application/json",
                              "Authorization": "Bearer sk-bench-0000000000000000"})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def stub_status(port: int) -> dict:
    """nginx stub_status counters of the upstream (accepted connections, requests)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/nginx_status")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    m = re.search(r"\n\s*(\d+)\s+(\d+)\s+(\d+)", text)
    return {"accepts": int(m.group(1)), "handled": int(m.group(2)),
            "requests": int(m.group(3))} if m else {}


def proc_stat_cpu() -> list[int]:
    """Machine-wide jiffies: user nice system idle iowait irq softirq steal."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


class RssSampler(threading.Thread):
    """Peak RSS of a server while a run is going."""

    def __init__(self, server: Server, interval: float = 0.2):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.peak = (0, 0)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            total, workers = self.server.rss_kib()
            if total > self.peak[0]:
                self.peak = (total, workers)
            self._halt.wait(self.interval)

    def finish(self) -> tuple[int, int]:
        self._halt.set()
        self.join()
        total, workers = self.server.rss_kib()
        if total > self.peak[0]:
            self.peak = (total, workers)
        return self.peak


def wrk(args, port: int, case: str, duration: int, key: str = "") -> dict:
    argv = ["wrk", "-c", str(args.connections), "-t", str(args.threads),
            "-d", f"{duration}s", "--timeout", args.timeout, "--latency",
            "-s", str(HERE / "post.lua"), f"http://127.0.0.1:{port}"]
    argv += ["--", "stream" if case == "stream" else "json", "same" if case == "hit" else "unique"]
    if key:
        argv.append(key)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=duration + 60)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if p.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {p.returncode}): {' '.join(argv)}\n"
                           f"{p.stdout}\n{p.stderr}")
    result = json.loads(line[len("WRK_RESULT "):])
    result["argv"] = argv
    result["stdout"] = p.stdout
    return result


def measured_run(args, servers: dict, proxy: str, case: str) -> dict:
    server = servers["procs"][proxy][case]
    upstream = servers["upstream"]
    port = servers["ports"][proxy][case]
    key = servers.get("keys", {}).get(proxy, "")  # a client key, when the proxy wants one
    if args.warmup > 0:
        warm = wrk(args, port, case, args.warmup, key)
        warm_errors = sum(warm["errors"].values())
    else:
        warm_errors = 0
    if not server.alive():
        raise RuntimeError(f"{proxy} died during warm-up" + tail(server.logfile))
    workers_before = server.workers()
    (cpu0, sys0), up_cpu0, mach0 = server.cpu_split(), upstream.cpu_ticks(), proc_stat_cpu()
    cs0 = server.ctx_switches()
    st0 = stub_status(servers["upstream_port"])
    ru0 = os.times()
    sampler = RssSampler(server)
    sampler.start()
    try:
        res = wrk(args, port, case, args.duration, key)
    finally:
        peak = sampler.finish()
    ru1 = os.times()
    (cpu1, sys1), up_cpu1, mach1 = server.cpu_split(), upstream.cpu_ticks(), proc_stat_cpu()
    cs1 = server.ctx_switches()
    st1 = stub_status(servers["upstream_port"])
    workers_after = server.workers()
    if not server.alive():
        raise RuntimeError(f"{proxy} died during the run" + tail(server.logfile))

    if res["requests"] == 0:
        res["errors"]["no_requests"] = 1  # nothing answered at all
    n = max(res["requests"], 1)
    secs = res["duration_us"] / 1e6
    mach = [b - a for a, b in zip(mach0, mach1)]
    mach_total = max(sum(mach), 1)
    wrk_s = ((ru1.children_user - ru0.children_user) +
             (ru1.children_system - ru0.children_system))
    # CPU used by anything but the proxy, the upstream and wrk: other tenants, this script.
    ours = (cpu1 - cpu0) + (up_cpu1 - up_cpu0) + wrk_s * CLK_TCK
    other = max(0.0, (mach_total - mach[3] - mach[4] - mach[7]) - ours)
    errors = {k: v for k, v in res["errors"].items() if v}
    run = {
        "proxy": proxy,
        "case": case,
        "requests": res["requests"],
        "duration_s": secs,
        "rps": res["requests"] / secs,
        "bytes": res["bytes"],
        "errors": res["errors"],
        "error_total": sum(res["errors"].values()),
        "warmup_errors": warm_errors,
        "latency_us": res["latency_us"],
        "cpu_s": (cpu1 - cpu0) / CLK_TCK,
        "cpu_us_per_req": (cpu1 - cpu0) / CLK_TCK * 1e6 / n,
        "cpu_sys_us_per_req": (sys1 - sys0) / CLK_TCK * 1e6 / n,
        "cpu_user_us_per_req": ((cpu1 - cpu0) - (sys1 - sys0)) / CLK_TCK * 1e6 / n,
        "upstream_cpu_us_per_req": (up_cpu1 - up_cpu0) / CLK_TCK * 1e6 / n,
        "ctx_switches_per_req": (cs1 - cs0) / n,
        "wrk_cpu_us_per_req": wrk_s * 1e6 / n,
        "upstream_new_connections": st1.get("accepts", 0) - st0.get("accepts", 0) - 1,
        "upstream_requests": st1.get("requests", 0) - st0.get("requests", 0) - 1,
        "machine_busy_pct": 100.0 * (mach_total - mach[3] - mach[4]) / mach_total,
        "machine_steal_pct": 100.0 * mach[7] / mach_total,
        "machine_other_pct": 100.0 * other / mach_total,
        "rss_loaded_kib": peak[0],
        "rss_loaded_workers_kib": peak[1],
        "workers_changed": workers_before != workers_after,
        "wrk_argv": res["argv"],
        "wrk_stdout": res["stdout"],
    }
    flag = f"  ERRORS {errors}" if errors else ""
    if warm_errors:
        flag += f"  (warm-up errors: {warm_errors})"
    log(f"  {proxy:6} {case:6} {run['rps']:9.0f} req/s  {run['cpu_us_per_req']:6.1f} us CPU/req"
        f"  p50 {res['latency_us']['p50'] / 1000:.2f} ms  p99 {res['latency_us']['p99'] / 1000:.2f} ms"
        f"  upstream conns +{run['upstream_new_connections']}{flag}")
    return run


# --------------------------------------------------------------------------------------------
# Setup


def render(template: str, values: dict) -> str:
    text = (HERE / template).read_text()
    for k, v in values.items():
        text = text.replace(f"@@{k}@@", str(v))
    leftover = re.findall(r"@@[A-Z_]+@@", text)
    if leftover:
        raise RuntimeError(f"{template}: unfilled placeholders {leftover}")
    return text


def start_nginx(name: str, conf_text: str, tmp: Path) -> Server:
    conf = tmp / f"{name}.conf"
    conf.write_text(conf_text)
    # -e: error log from the start (before the config is read); -p: prefix for relative paths.
    argv = ["nginx", "-p", str(tmp), "-e", str(tmp / f"{name}-error.log"), "-c", str(conf)]
    test = subprocess.run(argv + ["-t", "-q"], capture_output=True, text=True, timeout=30)
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t failed for {conf}:\n{test.stderr}")
    return Server(name, argv, tmp / f"{name}.out", nginx=True)


def stream_path(args) -> str:
    """The upstream's path prefix for streams: chunked or with a Content-Length."""
    return "stream" if args.stream_upstream == "chunked" else "stream-length"


def start_sluice(args, upstream_port: int, tmp: Path, name: str = "sluice",
                 cache: bool = False, deployments: int = 1, extra: str = "",
                 model_extra: str = "", stream_kind: str = "openai") -> tuple[Server, int]:
    """`deployments` > 1 puts that many deployments (each its own provider, all on the same
    upstream) behind each model, balanced by the default strategy, p2c-ewma. `extra` is added
    to the top level of the configuration, `model_extra` to each model. `stream_kind`
    "anthropic" serves the stream model from the upstream's Anthropic-format stream, translated."""
    conf = tmp / f"{name}.yaml"
    purpose = ("answers from its response cache" if cache
               else "a pure pass-through to the upstream nginx")
    if deployments > 1:
        purpose += f", {deployments} deployments per model behind p2c-ewma"
    cache_section = "cache: {enabled: true}\n" if cache else ""
    providers = "".join(f"""\
  - name: upstream{i}
    kind: openai
    base_url: http://127.0.0.1:{upstream_port}/v1
  - name: upstream-stream{i}
    kind: {stream_kind}
    base_url: http://127.0.0.1:{upstream_port}/{stream_path(args) if stream_kind == "openai" else "anthropic"}{"/v1" if stream_kind == "openai" else ""}
""" for i in range(deployments))
    json_deps = ", ".join(f"{{provider: upstream{i}, model: {JSON_MODEL}}}"
                          for i in range(deployments))
    stream_deps = ", ".join(f"{{provider: upstream-stream{i}, model: {STREAM_MODEL}}}"
                            for i in range(deployments))
    conf.write_text(f"""\
# Written by bench/load/proxy_bench.py: {purpose}.
{cache_section}{extra}listen: 127.0.0.1:0
workers: {args.workers}
drain_timeout: 2s
log_level: info
providers:
{providers}models:
  - name: {JSON_MODEL}
{model_extra}    deployments: [{json_deps}]
  - name: {STREAM_MODEL}
{model_extra}    deployments: [{stream_deps}]
""")
    argv = [args.sluice, "serve", "-c", str(conf), "--listen", "127.0.0.1:0",
            "--workers", str(args.workers)]
    server = Server(name, argv, tmp / f"{name}.log", nginx=False)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)",
                      server.logfile.read_text(errors="replace"))
        if m:
            port = int(m.group(1))
            wait_port(port, server.proc, "sluice", server.logfile)
            return server, port
        if not server.alive():
            break
        time.sleep(0.05)
    raise RuntimeError("sluice did not report its port" + tail(server.logfile))


def keys_setup(sluice: str, tmp: Path) -> tuple[str, str, str]:
    """What the keyed Sluice of keys_bench.py and profile.py --keys runs with: a data_dir, keys
    on, global and per-model limits set too high to refuse, and a key (created with the CLI, as
    an operator would) with its own limits. Returns (extra, model_extra, secret) for
    start_sluice and wrk."""
    data = tmp / "data"
    created = subprocess.run(
        [sluice, "keys", "create", "--data-dir", str(data), "--name", "bench",
         "--rpm", "100000000", "--tpm", "10000000000", "--json"],
        capture_output=True, text=True, timeout=30)
    if created.returncode != 0:
        raise RuntimeError(f"sluice keys create failed: {created.stderr}")
    secret = json.loads(created.stdout)["secret"]
    extra = (f"data_dir: {data}\nauth: {{mode: keys}}\n"
             "limits: {global: {rpm: 100000000, tpm: 10000000000}}\n")
    model_extra = "    limits: {rpm: 100000000, tpm: 10000000000}\n"
    return extra, model_extra, secret


def check_responses(servers: dict, expected: dict, cases) -> dict:
    """One request of each kind through each proxy: right status, type and body (and, for the
    cache case, that Sluice's answer really is a hit)."""
    report = {}
    for proxy in PROXIES:
        for case in cases:
            port = servers["ports"][proxy][case]
            if case == "hit" and proxy == "sluice":
                http_post(port, request_body(case))  # the miss that stores the entry
            status, headers, body = http_post(port, request_body(case))
            problems = []
            if status != 200:
                problems.append(f"status {status}")
            want_type = "text/event-stream" if case == "stream" else "application/json"
            if not headers.get("content-type", "").startswith(want_type):
                problems.append(f"content-type {headers.get('content-type')!r}")
            if case == "hit" and proxy == "sluice" and headers.get("x-sluice-cache") != "hit":
                problems.append(f"x-sluice-cache {headers.get('x-sluice-cache')!r}, not a hit")
            if case in ("json", "hit"):
                try:
                    if json.loads(body) != json.loads(expected["json"]):
                        problems.append("JSON body differs from the upstream's")
                    elif body != expected["json"].encode():
                        problems.append("note: same JSON, different bytes")
                except ValueError:
                    problems.append(f"body is not JSON: {body[:200]!r}")
            else:
                if body != expected["stream"].encode():
                    n_got = body.count(b"\n\ndata: ") + (1 if body.startswith(b"data: ") else 0)
                    problems.append(f"stream body differs ({len(body)} bytes, ~{n_got} events;"
                                    f" upstream {len(expected['stream'])} bytes)")
            report[f"{proxy}/{case}"] = {"status": status, "headers": headers,
                                         "body_bytes": len(body), "problems": problems}
            fatal = [p for p in problems if not p.startswith("note:")]
            if fatal:
                raise RuntimeError(f"{proxy} {case}: {'; '.join(fatal)}\n"
                                   f"headers {headers}\nbody {body[:400]!r}")
            for p in problems:
                log(f"{proxy} {case}: {p}")
    return report


def busy_pct(seconds: float) -> float:
    """How busy the machine is (all CPUs, excluding steal), sampled over `seconds`."""
    a = proc_stat_cpu()
    time.sleep(seconds)
    d = [y - x for x, y in zip(a, proc_stat_cpu())]
    return 100.0 * (sum(d) - d[3] - d[4] - d[7]) / max(sum(d), 1)


def machine_info() -> dict:
    cpu_model = ""
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu_model = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def out(argv: list[str]) -> str:
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except Exception:
            return "?"

    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "busy_pct_before": busy_pct(1.0),
        "nginx": out(["nginx", "-v"]),
        "wrk": out(["wrk", "-v"]),
        "python": platform.python_version(),
        "git": out(["git", "-C", str(REPO), "describe", "--always", "--dirty"]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------------------------
# Report


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def paired_rounds(args, servers: dict, names: tuple[str, ...], cases,
                  runs: list[dict] | None = None) -> list[dict]:
    """Runs every case on each of `names`, in order and reversed in alternate rounds, appending each
    run to `runs` as it finishes (so an interrupted benchmark keeps what it measured)."""
    runs = [] if runs is None else runs
    for rnd in range(1, args.rounds + 1):
        order = names if rnd % 2 == 1 else names[::-1]
        log(f"round {rnd}/{args.rounds}: {' then '.join(order)}")
        for case in cases:
            for name in order:
                run = measured_run(args, servers, name, case)
                run["round"] = rnd
                run["first"] = name == order[0]
                runs.append(run)
    return runs


def sluice_bench_parser(doc: str) -> argparse.ArgumentParser:
    """The options of the benchmarks that compare Sluice configurations with each other
    (keys_bench.py, routing_bench.py); each adds its own."""
    default_workers = max(1, min(2, os.cpu_count() or 1))
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--sluice", default=str(REPO / "build/release/sluice"))
    ap.add_argument("--workers", type=int, default=default_workers)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    ap.add_argument("--rounds", type=int, default=5, help="paired rounds (default 5)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--timeout", default="2s")
    ap.add_argument("--cases", default="json,stream")
    ap.add_argument("--stream-upstream", choices=("chunked", "length"), default="chunked")
    return ap


def run_sluice_bench(ap: argparse.ArgumentParser, args, prefix: str, start, report) -> int:
    """The frame those benchmarks share: checks the cases and tools, starts the upstream nginx
    in a temporary directory, then `start(args, upstream_port, tmp)`, which starts the Sluice
    processes and returns ({name: (server, port)} in run order, {name: client key}); runs the
    paired rounds, and `report(runs, command, cases)`, which prints the tables and returns
    whether any request failed. Every process is stopped and the directory removed at the end,
    Ctrl-C and SIGTERM included."""
    cases = [c for c in args.cases.split(",") if c]
    if not cases or not set(cases) <= {"json", "stream"}:
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

    tmp = Path(tempfile.mkdtemp(prefix=f"sluice-{prefix}-bench-"))
    for d in ("upstream-tmp", "proxy-tmp", "www"):
        (tmp / d).mkdir()
    started: list[Server] = []
    user = "user root;" if os.geteuid() == 0 else ""
    try:
        (tmp / "www/stream.sse").write_text(upstream_chat_sse())
        (tmp / "www/anthropic.sse").write_text(upstream_anthropic_sse())
        upstream_port = free_port()
        upstream = start_nginx("upstream", render("upstream.conf.in", {
            "USER": user, "DIR": tmp, "PORT": upstream_port,
            "CHAT_JSON": nginx_quote(upstream_chat_json())}), tmp)
        started.append(upstream)
        wait_port(upstream_port, upstream.proc, "upstream nginx", tmp / "upstream-error.log")
        sluices, keys = start(args, upstream_port, tmp, started)
        servers = {"upstream": upstream, "upstream_port": upstream_port,
                   "procs": {n: {c: srv for c in cases} for n, (srv, _) in sluices.items()},
                   "ports": {n: {c: port for c in cases} for n, (_, port) in sluices.items()},
                   "keys": keys}
        time.sleep(0.5)
        runs = paired_rounds(args, servers, tuple(sluices), cases)
        return 1 if report(runs, command, cases) else 0
    except KeyboardInterrupt as e:
        log(f"interrupted ({e.args[0] if e.args else 'Ctrl-C'}): stopping")
        return 130
    finally:
        for srv in reversed(started):
            try:
                srv.stop()
            except Exception as e:
                log(f"stopping {srv.name}: {e}")
        shutil.rmtree(tmp, ignore_errors=True)


def print_pair_table(runs: list[dict], names: tuple[str, ...], cases) -> bool:
    """A Markdown table of names[1]/names[0] per case: medians of the per-round ratios of CPU
    time per request and of requests per second. Returns whether any request failed."""
    a, b = names
    print(f"| case | CPU/req {a} (µs) | CPU/req {b} (µs) | CPU/req ratio | req/s ratio | errors |")
    print("|---|---|---|---|---|---|")
    failed = False
    for case in cases:
        by_round: dict[int, dict] = {}
        for r in runs:
            if r["case"] == case:
                by_round.setdefault(r["round"], {})[r["proxy"]] = r
        pairs = [v for _, v in sorted(by_round.items()) if a in v and b in v]
        cpu = [p[b]["cpu_us_per_req"] / p[a]["cpu_us_per_req"] for p in pairs]
        rps = [p[b]["rps"] / p[a]["rps"] for p in pairs]
        errors = sum(r["error_total"] for r in runs if r["case"] == case)
        failed = failed or errors > 0
        print(f"| {case} | {med([p[a]['cpu_us_per_req'] for p in pairs]):.1f} "
              f"| {med([p[b]['cpu_us_per_req'] for p in pairs]):.1f} "
              f"| **{med(cpu):.3f}** ({min(cpu):.3f}–{max(cpu):.3f}) "
              f"| {med(rps):.3f} ({min(rps):.3f}–{max(rps):.3f}) | {errors} |")
    return failed


def summarize(runs: list[dict], cases) -> dict:
    summary = {}
    for case in cases:
        by_round: dict[int, dict] = {}
        for r in runs:
            if r["case"] == case:
                by_round.setdefault(r["round"], {})[r["proxy"]] = r
        pairs = [v for _, v in sorted(by_round.items()) if len(v) == 2]
        s = {"rounds": len(pairs)}
        for proxy in PROXIES:
            rs = [p[proxy] for p in pairs]
            s[proxy] = {
                "rps": med([r["rps"] for r in rs]),
                "cpu_us_per_req": med([r["cpu_us_per_req"] for r in rs]),
                "p50_us": med([r["latency_us"]["p50"] for r in rs]),
                "p99_us": med([r["latency_us"]["p99"] for r in rs]),
                "upstream_cpu_us_per_req": med([r["upstream_cpu_us_per_req"] for r in rs]),
                "ctx_switches_per_req": med([r["ctx_switches_per_req"] for r in rs]),
                "cpu_user_us_per_req": med([r["cpu_user_us_per_req"] for r in rs]),
                "cpu_sys_us_per_req": med([r["cpu_sys_us_per_req"] for r in rs]),
                "upstream_new_connections": max([r["upstream_new_connections"] for r in rs]),
                "rss_loaded_kib": max([r["rss_loaded_kib"] for r in rs]),
                "rss_loaded_workers_kib": max([r["rss_loaded_workers_kib"] for r in rs]),
                "errors": sum(r["error_total"] for r in rs),
            }
        for key in ("rps", "cpu_us_per_req", "p50", "p99"):
            def get(r, key=key):
                return r["latency_us"][key] if key in ("p50", "p99") else r[key]
            ratios = [get(p["sluice"]) / get(p["nginx"]) for p in pairs if get(p["nginx"]) > 0]
            s[f"ratio_{key}"] = {"median": med(ratios),
                                 "min": min(ratios) if ratios else float("nan"),
                                 "max": max(ratios) if ratios else float("nan"),
                                 "per_round": ratios}
        summary[case] = s
    return summary


def fmt_ratio(r: dict) -> str:
    return f"**{r['median']:.2f}** ({r['min']:.2f}–{r['max']:.2f})"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def report(args, info: dict, summary: dict, runs: list[dict], idle: dict, cases,
           sizes: dict) -> str:
    out = []
    out.append("## Sluice vs nginx: keep-alive reverse proxy in front of the same upstream\n")
    out.append(f"Command: `{args.command}`\n")
    out.append(f"Machine: {info['nproc']} CPUs ({info['cpu_model']}), kernel {info['kernel']}, "
               f"load average at start {' '.join(info['loadavg_at_start'])}, "
               f"{info['busy_pct_before']:.0f}% busy in the second before; {info['nginx']}; "
               f"{info['wrk']}; git {info['git']}; {info['date']}\n")
    out.append(f"Sluice binary: {info['sluice']['path']} ({info['sluice']['version']}, built "
               f"{info['sluice']['mtime']})\n")
    out.append(f"Setup: {args.workers} workers each (nginx `worker_processes {args.workers}`, "
               f"Sluice `--workers {args.workers}`); wrk `-c {args.connections} -t {args.threads}"
               f" -d {args.duration:g}s --timeout {args.timeout}`, {args.warmup:g} s warm-up "
               f"before each run; {args.rounds} rounds, nginx and Sluice back to back in each, "
               "order alternating. nginx has `keepalive_requests 1000000` on both sides "
               "(its default of 1000 would close wrk's connections every 1000 requests) and "
               "`keepalive 64` to the upstream; the stream location has `proxy_buffering off`. "
               f"Upstream: nginx, 1 worker, fixed bodies (JSON {sizes['json']} B; stream: "
               f"{sizes['events']} SSE events, {sizes['stream']} B, sent at once, "
               f"{'chunked' if args.stream_upstream == 'chunked' else 'with a Content-Length'}"
               f"); request bodies {len(request_body('json'))} B (JSON) and "
               f"{len(request_body('stream'))} B (stream).\n")
    out.append("Medians over rounds; ratios are Sluice/nginx, the median of the per-round "
               "paired ratios (min–max). req/s: higher is better. CPU/req: the proxy's "
               "utime+stime (all processes or threads) over the run / requests; lower is better."
               "\n")
    out.append("| case | nginx req/s | Sluice req/s | req/s ratio | nginx µs CPU/req "
               "| Sluice µs CPU/req | CPU/req ratio | nginx p50 / p99 ms | Sluice p50 / p99 ms "
               "| errors (nginx / Sluice) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        s = summary[case]
        n, sl = s["nginx"], s["sluice"]
        errs = f"{n['errors']} / {sl['errors']}"
        if n["errors"] or sl["errors"]:
            errs = f"**{errs} !!**"
        out.append(
            f"| {CASE_LABELS[case]} | {n['rps']:.0f} | {sl['rps']:.0f} | "
            f"{fmt_ratio(s['ratio_rps'])} | {n['cpu_us_per_req']:.1f} | "
            f"{sl['cpu_us_per_req']:.1f} | {fmt_ratio(s['ratio_cpu_us_per_req'])} | "
            f"{n['p50_us'] / 1000:.2f} / {n['p99_us'] / 1000:.2f} | "
            f"{sl['p50_us'] / 1000:.2f} / {sl['p99_us'] / 1000:.2f} | {errs} |")
    out.append("")
    out.append("| memory (RSS, MiB) | nginx all processes | nginx workers | Sluice |")
    out.append("|---|---:|---:|---:|")
    out.append(f"| idle (after start, before load) | {mib(idle['nginx'][0])} | "
               f"{mib(idle['nginx'][1])} | {mib(idle['sluice'][0])} |")
    for case in cases:
        n, sl = summary[case]["nginx"], summary[case]["sluice"]
        out.append(f"| peak under load, {CASE_LABELS[case]} | "
                   f"{mib(n['rss_loaded_kib'])} | {mib(n['rss_loaded_workers_kib'])} | "
                   f"{mib(sl['rss_loaded_kib'])} |")
    out.append("")
    out.append("Where the proxy's CPU goes (medians, µs per request): user space (the proxy's "
               "own code and libraries) and kernel (system calls, TCP on loopback).\n")
    out.append("| case | nginx user | nginx kernel | Sluice user | Sluice kernel "
               "| user ratio | kernel ratio |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        n, sl = summary[case]["nginx"], summary[case]["sluice"]
        ur = sl["cpu_user_us_per_req"] / n["cpu_user_us_per_req"] if n["cpu_user_us_per_req"] else 0
        kr = sl["cpu_sys_us_per_req"] / n["cpu_sys_us_per_req"] if n["cpu_sys_us_per_req"] else 0
        out.append(f"| {CASE_LABELS[case]} | "
                   f"{n['cpu_user_us_per_req']:.1f} | {n['cpu_sys_us_per_req']:.1f} | "
                   f"{sl['cpu_user_us_per_req']:.1f} | {sl['cpu_sys_us_per_req']:.1f} | "
                   f"{ur:.2f} | {kr:.2f} |")
    out.append("")
    out.append("Side measurements (medians): the proxy's context switches per request, the "
               "upstream's CPU per request, and new upstream connections per measured run "
               "(keep-alive reuse; max over rounds).\n")
    out.append("| case | ctx switches/req, nginx | Sluice | upstream µs CPU/req behind nginx "
               "| behind Sluice | new upstream conns per run, nginx | Sluice |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        n, sl = summary[case]["nginx"], summary[case]["sluice"]
        out.append(f"| {CASE_LABELS[case]} | "
                   f"{n['ctx_switches_per_req']:.2f} | {sl['ctx_switches_per_req']:.2f} | "
                   f"{n['upstream_cpu_us_per_req']:.1f} | {sl['upstream_cpu_us_per_req']:.1f} | "
                   f"{n['upstream_new_connections']} | {sl['upstream_new_connections']} |")
    out.append("")
    out.append("Every run:\n")
    out.append("| round | case | proxy | req/s | µs CPU/req | ctx sw/req | p50 ms | p99 ms "
               "| max ms | upstream µs/req | wrk µs/req | machine busy % | other procs % "
               "| steal % | errors |")
    out.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in runs:
        lat = r["latency_us"]
        errs = {k: v for k, v in r["errors"].items() if v}
        e = f"**{errs}**" if errs else "0"
        if r["warmup_errors"]:
            e += f" (warm-up: {r['warmup_errors']})"
        if r["workers_changed"]:
            e += " **workers changed!**"
        out.append(f"| {r['round']} | {r['case']} | {r['proxy']} | {r['rps']:.0f} | "
                   f"{r['cpu_us_per_req']:.1f} | {r['ctx_switches_per_req']:.2f} | "
                   f"{lat['p50'] / 1000:.2f} | "
                   f"{lat['p99'] / 1000:.2f} | {lat['max'] / 1000:.1f} | "
                   f"{r['upstream_cpu_us_per_req']:.1f} | {r['wrk_cpu_us_per_req']:.1f} | "
                   f"{r['machine_busy_pct']:.0f} | {r['machine_other_pct']:.1f} | "
                   f"{r['machine_steal_pct']:.1f} | {e} |")
    if info["busy_pct_before"] > 10:
        out.append("")
        out.append(f"**NOISE: the machine was {info['busy_pct_before']:.0f}% busy before the "
                   "benchmark started; other processes compete for the CPUs.**")
    noisy = [r for r in runs if r["machine_other_pct"] > 10]
    if noisy:
        out.append("")
        out.append(f"**NOISE: in {len(noisy)} run(s) other processes used more than 10% of the "
                   "machine (column 'other procs %'); compare CPU/req rather than req/s.**")
    bad = [r for r in runs if r["error_total"] or r["workers_changed"]]
    if bad:
        out.append("")
        out.append(f"**WARNING: {len(bad)} run(s) had errors or lost a worker; their numbers "
                   "are not comparable. See the rows marked above and the logs.**")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------


def main() -> int:
    default_workers = len(os.sched_getaffinity(0))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sluice", default=str(REPO / "build/release/sluice"),
                    help="the sluice binary (default: build/release/sluice)")
    ap.add_argument("--workers", type=int, default=default_workers,
                    help=f"worker threads (Sluice) and processes (nginx) (default: "
                         f"{default_workers}, the number of CPUs)")
    ap.add_argument("--duration", type=int, default=10,
                    help="seconds per measured run (default 10; wrk takes whole seconds)")
    ap.add_argument("--rounds", type=int, default=5, help="paired rounds (default 5)")
    ap.add_argument("--connections", type=int, default=32, help="wrk -c (default 32)")
    ap.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="warm-up seconds before each run (default 1; 0 for none)")
    ap.add_argument("--timeout", default="2s", help="wrk --timeout (default 2s)")
    ap.add_argument("--cases", default="json,stream,hit",
                    help="a comma-separated subset of json, stream, hit (default: all)")
    ap.add_argument("--stream-upstream", choices=("chunked", "length"), default="chunked",
                    help="how the upstream frames the stream body: chunked (default, as real "
                         "providers do) or with a Content-Length")
    ap.add_argument("--json", metavar="FILE", help="save raw results as JSON")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    args.command = shlex.join(["python3", os.path.relpath(sys.argv[0])] + sys.argv[1:])
    cases = [c for c in args.cases.split(",") if c]
    if not set(cases) <= set(CASES) or args.rounds < 1 or args.duration < 1 or args.warmup < 0:
        ap.error("bad --cases, --rounds, --duration or --warmup")
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            ap.error(f"{tool} is not on PATH")
    if not os.access(args.sluice, os.X_OK):
        ap.error(f"{args.sluice} is not executable (cmake --build --preset release)")
    args.sluice = os.path.abspath(args.sluice)

    # SIGTERM/SIGHUP unwind like Ctrl-C, so the finally below stops everything.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    info = machine_info()
    st = os.stat(args.sluice)
    info["sluice"] = {
        "path": args.sluice,
        "version": subprocess.run([args.sluice, "--version"], capture_output=True, text=True,
                                  timeout=10).stdout.strip(),
        "mtime": datetime.datetime.fromtimestamp(st.st_mtime).isoformat(timespec="seconds"),
        "size": st.st_size,
    }
    tmp = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    for d in ("upstream-tmp", "proxy-tmp"):
        (tmp / d).mkdir()
    started: list[Server] = []
    user = "user root;" if os.geteuid() == 0 else ""
    runs: list[dict] = []
    try:
        expected = {"json": upstream_chat_json(), "stream": upstream_chat_sse()}
        log(f"temp dir {tmp}; upstream bodies: JSON {len(expected['json'])} B, stream "
            f"{len(expected['stream'])} B in {expected['stream'].count('data: ')} events")

        (tmp / "www").mkdir()
        (tmp / "www/stream.sse").write_text(expected["stream"])
        upstream_port = free_port()
        upstream = start_nginx("upstream", render("upstream.conf.in", {
            "USER": user, "DIR": tmp, "PORT": upstream_port,
            "CHAT_JSON": nginx_quote(expected["json"])}), tmp)
        started.append(upstream)
        wait_port(upstream_port, upstream.proc, "upstream nginx", tmp / "upstream-error.log")

        json_port, stream_port = free_port(), free_port()
        while stream_port == json_port:
            stream_port = free_port()
        proxy = start_nginx("proxy", render("proxy.conf.in", {
            "USER": user, "DIR": tmp, "WORKERS": args.workers, "UPSTREAM_PORT": upstream_port,
            "STREAM_PATH": stream_path(args),
            "JSON_PORT": json_port, "STREAM_PORT": stream_port}), tmp)
        started.append(proxy)
        wait_port(json_port, proxy.proc, "nginx proxy", tmp / "proxy-error.log")
        wait_port(stream_port, proxy.proc, "nginx proxy", tmp / "proxy-error.log")

        sluice, sluice_port = start_sluice(args, upstream_port, tmp)
        started.append(sluice)
        log(f"upstream nginx :{upstream_port}, nginx proxy :{json_port} (JSON) "
            f":{stream_port} (stream), sluice :{sluice_port}")

        servers = {"upstream": upstream, "nginx": proxy, "sluice": sluice,
                   "upstream_port": upstream_port,
                   "procs": {"nginx": {"json": proxy, "stream": proxy, "hit": proxy},
                             "sluice": {"json": sluice, "stream": sluice}},
                   "ports": {"nginx": {"json": json_port, "stream": stream_port,
                                       "hit": json_port},
                             "sluice": {"json": sluice_port, "stream": sluice_port}}}
        if "hit" in cases:
            cached, cached_port = start_sluice(args, upstream_port, tmp, "sluice-cache", True)
            started.append(cached)
            servers["procs"]["sluice"]["hit"] = cached
            servers["ports"]["sluice"]["hit"] = cached_port
            log(f"sluice with the cache on :{cached_port}")
        time.sleep(0.5)  # let the workers settle before the idle RSS
        idle = {"nginx": proxy.rss_kib(), "sluice": sluice.rss_kib(),
                "upstream": upstream.rss_kib()}
        if len(proxy.workers()) != args.workers:
            raise RuntimeError(f"nginx proxy has {len(proxy.workers())} workers, "
                               f"expected {args.workers}")
        checks = check_responses(servers, expected, cases)
        log("responses check out; idle RSS nginx "
            f"{idle['nginx'][0]} KiB (workers {idle['nginx'][1]}), sluice {idle['sluice'][0]} KiB")

        paired_rounds(args, servers, PROXIES, cases, runs)

        summary = summarize(runs, cases)
        sizes = {"json": len(expected["json"]), "stream": len(expected["stream"]),
                 "events": expected["stream"].count("data: ")}
        print(report(args, info, summary, runs, idle, cases, sizes))
        sluice_log = sluice.logfile.read_text(errors="replace")
        noisy = [ln for ln in sluice_log.splitlines()
                 if re.search(r"\b(warn|warning|error|critical)\b", ln, re.I)]
        if noisy:
            print(f"\n**Sluice logged {len(noisy)} warning/error line(s)**, first ones:\n")
            print("```\n" + "\n".join(noisy[:10]) + "\n```")
        for name in ("upstream-error.log", "proxy-error.log"):
            t = (tmp / name).read_text(errors="replace").strip() if (tmp / name).exists() else ""
            if t:
                print(f"\n**nginx {name} is not empty**:\n```\n{t[-2000:]}\n```")
        if args.json:
            Path(args.json).write_text(json.dumps({
                "command": args.command, "machine": info,
                "settings": {k: getattr(args, k) for k in (
                    "sluice", "workers", "duration", "rounds", "connections", "threads",
                    "warmup", "timeout", "stream_upstream")},
                "upstream_bodies": {"json_bytes": len(expected["json"]),
                                    "stream_bytes": len(expected["stream"])},
                "response_checks": checks, "idle_rss_kib": idle,
                "summary": summary, "runs": runs,
                "sluice_log": sluice_log.splitlines()[-50:]}, indent=1))
            log(f"raw results in {args.json}")
        return 1 if any(r["error_total"] for r in runs) else 0
    except KeyboardInterrupt as e:
        log(f"interrupted ({e.args[0] if e.args else 'Ctrl-C'}): stopping")
        return 130
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {s.name}: {e}")
        if args.keep_tmp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
