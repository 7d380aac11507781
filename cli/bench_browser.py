"""What a visitor waits for, in Chromium: the lab served on a free port and timed from the click to the result on
screen (a benchmark, not a test; the targets are in tools/browser_bench.py). Needs Playwright and Debian's Chromium.

    python -m cli.bench_browser [--repeats 3] [--sessions 30]
"""
from __future__ import annotations

import argparse
import sys

from cli import common
from tools.browser_bench import SHARED_LINK_P95, TARGETS, session_figures, shared_link_figures
from tools.serve import serving


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--repeats", type=int, default=3, help="fresh browser sessions (the first also warms the server)")
    p.add_argument("--sessions", type=int, default=30, help="browser pages opening one shared link at once")
    return p


def run(args: argparse.Namespace) -> None:
    with serving({}) as server:
        figures = session_figures(server.url, args.repeats)
        for name, target in TARGETS.items():
            seconds = figures[name]
            print(f"{name:44s} {seconds:6.2f} s   target <= {target:.1f} s   {'ok' if seconds <= target else 'SLOW'}",
                  flush=True)
        for client, (p95, errors) in shared_link_figures(server.url, args.sessions).items():
            verdict = "ok" if p95 <= SHARED_LINK_P95 else "SLOW"
            print(f"{args.sessions} {client} opening one shared link at once: p95 {p95:.2f} s "
                  f"(target <= {SHARED_LINK_P95:.0f} s, {verdict}), with an error: {errors}")
        print(f"server peak memory {server.peak_memory_mb():.0f} MB")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
