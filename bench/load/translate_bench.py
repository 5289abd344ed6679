#!/usr/bin/env python3
"""What translating a provider's stream costs: Sluice streaming from an OpenAI-format upstream
(a pass-through) against Sluice streaming the same answer from an Anthropic-format upstream
(`kind: anthropic`: the request translated to a Messages request, each of the ~50 events
translated back into an OpenAI chunk), side by side.

The setup is proxy_bench.py's (one upstream nginx answering instantly, wrk driving keep-alive
POSTs with a distinct body per request); the two Sluice processes differ only in the kind of
the stream model's provider and the path it reads. Runs alternate in paired rounds, the order
reversed every other round, and the table gives the medians of the per-round ratios
anthropic/openai of CPU time per request and of requests per second. The issue's target: CPU
per request within 1.5x of the pass-through.

    python3 bench/load/translate_bench.py                  # 5 rounds of 10 s runs
    python3 bench/load/translate_bench.py --rounds 4 --duration 5

Python 3 standard library only; needs nginx and wrk. Everything listens on 127.0.0.1 and lives
in a temporary directory; every process is stopped on exit. See bench/load/README.md.
"""

from __future__ import annotations

import json
import sys
import urllib.request

import proxy_bench as pb

NAMES = ("openai", "anthropic")


def first_content(port: int) -> str:
    """The streamed answer's text, to check both processes serve the same answer."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                 data=pb.request_body("stream").encode(),
                                 headers={"content-type": "application/json"})
    text = ""
    with urllib.request.urlopen(req, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:]).get("choices", []):
                    text += choice.get("delta", {}).get("content") or ""
    return text


def start(args, upstream_port, tmp, started):
    plain, plain_port = pb.start_sluice(args, upstream_port, tmp, "sluice-openai")
    started.append(plain)
    translated, translated_port = pb.start_sluice(args, upstream_port, tmp, "sluice-anthropic",
                                                  stream_kind="anthropic")
    started.append(translated)
    a, b = first_content(plain_port), first_content(translated_port)
    if not a or a != b:
        raise RuntimeError(f"the two streams differ:\n{a!r}\n{b!r}")
    return {NAMES[0]: (plain, plain_port), NAMES[1]: (translated, translated_port)}, {}


def main() -> int:
    ap = pb.sluice_bench_parser(__doc__)
    ap.set_defaults(cases="stream")
    args = ap.parse_args()

    def report(runs, command, cases):
        print(f"\n`{command}` — {args.rounds} rounds of {args.duration} s per configuration, "
              f"{args.workers} workers, wrk -t{args.threads} -c{args.connections}.\n")
        return pb.print_pair_table(runs, NAMES, cases)

    return pb.run_sluice_bench(ap, args, "translate", start, report)


if __name__ == "__main__":
    sys.exit(main())
