"""Benchmark the demo generator: generation to frames, then Parquet writing, separately.

A script, not a test:  .venv/bin/python bench/bench_generate.py --cases 10000000
Prints wall times, rows/s and the peak resident set size of the process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path


def _peak_rss_gb() -> float:
    """Peak RSS of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**3 if sys.platform == "darwin" else 1024**2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=20241)
    parser.add_argument("--from", dest="start", default="2024-01")
    parser.add_argument("--to", dest="end", default="2026-10")
    parser.add_argument("--workers", type=int, default=None, help="threads (default: up to 2)")
    parser.add_argument("--no-write", action="store_true", help="skip the Parquet step")
    args = parser.parse_args(argv)
    start = dt.datetime.strptime(args.start, "%Y-%m").date()
    end = dt.datetime.strptime(args.end, "%Y-%m").date()

    t0 = time.perf_counter()
    from xiaoneng.demo import generate, write_parquet
    from xiaoneng.demo.world import build_world

    build_world()  # the static catalogue, built once per process
    t_setup = time.perf_counter() - t0

    t0 = time.perf_counter()
    tables = generate(cases=args.cases, seed=args.seed, start=start, end=end,
                      workers=args.workers)
    t_gen = time.perf_counter() - t0
    rows = {name: frame.height for name, frame in tables.items()}
    rss_gen = _peak_rss_gb()
    print(f"cases={args.cases:,} seed={args.seed} months={args.start}..{args.end}")
    print(f"setup (imports, catalogue): {t_setup:7.2f} s")
    print(f"generation to frames:       {t_gen:7.2f} s   "
          f"{args.cases / t_gen:,.0f} cases/s   "
          f"{sum(rows.values()) / t_gen:,.0f} rows/s (all tables)")
    print("rows: " + ", ".join(f"{k}={v:,}" for k, v in rows.items()))
    print(f"peak RSS after generation:  {rss_gen:7.2f} GiB")
    if not args.no_write:
        with tempfile.TemporaryDirectory(prefix="xiaoneng-bench-") as tmp:
            t0 = time.perf_counter()
            paths = write_parquet(tables, Path(tmp))
            t_write = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in paths) / 1024**2
        print(f"parquet writing:            {t_write:7.2f} s   "
              f"{sum(rows.values()) / t_write:,.0f} rows/s   {size:,.0f} MiB")
    print(f"peak RSS (whole run):       {_peak_rss_gb():7.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
