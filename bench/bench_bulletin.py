"""Benchmark the monthly bulletin: building it from the facts, then rendering each format.

A script, not a test. Runs against DATABASE_URL (facts must be computed for the month):

    DATABASE_URL=postgresql+psycopg2://… .venv/bin/python bench/bench_bulletin.py --month 2026-09

Prints the wall time of `build_bulletin` (all the queries and the ranking) and of each renderer
separately, best of `--repeat` runs (the first run includes imports and cold caches, also shown).
The target (issue 5) is under 10 s for the city bulletin of one month of 20 million cases.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--scope", default="city")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="docx,xlsx,pdf")
    args = parser.parse_args(argv)

    from metrics.bulletin import build_bulletin, parse_scope
    from queries.engine import check_connection, make_engine
    from reports import render

    engine = make_engine()
    check_connection(engine)
    month = dt.datetime.strptime(args.month, "%Y-%m").date()
    scope = parse_scope(engine, args.scope)
    formats = [f for f in args.formats.split(",") if f]
    times: dict[str, list[float]] = {"build": [], **{f: [] for f in formats}}
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        b = build_bulletin(engine, month, scope)
        times["build"].append(time.perf_counter() - t0)
        for fmt in formats:
            t0 = time.perf_counter()
            render(b, [fmt])
            times[fmt].append(time.perf_counter() - t0)
    url = engine.url.render_as_string(hide_password=True)
    print(f"bulletin {scope.key} {args.month} on {url} (best of {len(times['build'])}; first run)")
    total_best = total_first = 0.0
    for step, ts in times.items():
        print(f"  {step:<6} {min(ts):6.2f} s   ({ts[0]:.2f} s)")
        total_best += min(ts)
        total_first += ts[0]
    print(f"  total  {total_best:6.2f} s   ({total_first:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
