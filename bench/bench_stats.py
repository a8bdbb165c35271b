"""Time every statistics step for one month: case-mix funnel, trends, share funnels, forecasts,
predicted risk.

    python bench/bench_stats.py --demo --cases 200000            # the seeded demo, in memory
    python bench/bench_stats.py --parquet demo/ --month 2026-10  # contract Parquet files
    python bench/bench_stats.py --month 2026-10                  # DATABASE_URL (or the default)

The target is under 30 s for one month of a 20-million-case log. Parquet files are scanned
lazily, so reading happens inside the steps and is counted (only the small tables are read
up front). Prints one line per step, the total, the peak resident memory of the process
(getrusage) and the load average before and after: on a shared machine the timings are only
meaningful next to it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--parquet", help="directory of contract Parquet files")
    g.add_argument("--demo", action="store_true", help="generate the demo city in memory")
    p.add_argument("--cases", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=20241)
    p.add_argument("--month", help="YYYY-MM (default: the latest month with data)")
    args = p.parse_args()

    import polars as pl

    from metrics.settings import load_settings
    from metrics.stats import data
    from metrics.stats.forecast import agency_volume, forecast_volume, monthly_volume
    from metrics.stats.lagging import assess
    from metrics.stats.risk import fit_current_model, open_cases, predict_risk

    load_before = os.getloadavg()

    t0 = time.perf_counter()
    if args.parquet:
        tables, source = data.read_parquet_dir(Path(args.parquet)), args.parquet
    elif args.demo:
        from xiaoneng.demo import generate

        tables = data.from_frames(generate(cases=args.cases, seed=args.seed,
                                           start=dt.date(2024, 1, 1), end=dt.date(2026, 10, 1)))
        source = f"demo {args.cases:,} cases seed {args.seed}"
    else:
        from queries.engine import check_connection, make_engine

        engine = make_engine()
        check_connection(engine)
        tables, source = data.read_database(engine), "database"
    load = time.perf_counter() - t0
    month = (dt.datetime.strptime(args.month, "%Y-%m").date() if args.month
             else tables.last_month)
    print(f"data: {source}, {tables.case_count():,} cases; month {month:%Y-%m}")
    print(f"  read / generate            {load:7.2f} s (not counted; Parquet: small tables "
          "only, the log is scanned inside the steps)")

    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    rules = load_settings()  # XIAONENG_SETTINGS; its [stats] table sets the statistics
    a = assess(tables, month, rules=rules)
    steps.update({f"assess: {k}": v for k, v in a.timings.items()})
    steps["assess: total"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    per_agency = agency_volume(tables.cases)
    series = 0
    for by in ("region_code", "sector"):
        fc = forecast_volume(monthly_volume(tables.cases, tables.agencies, by, per_agency),
                             tables.calendar, month, rules.stats)
        series += fc["unit"].n_unique()
    steps["forecast (regions + sectors)"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    moment = data.month_end_moment(month)
    model, rc = fit_current_model(tables, moment, rules=rules)
    scored = predict_risk(model, open_cases(rc.open, rules))
    steps["risk (clock, Cox fit, score)"] = time.perf_counter() - t0

    for k, v in steps.items():
        print(f"  {k:<27}{v:7.2f} s")
    total = steps["assess: total"] + steps["forecast (regions + sectors)"] + \
        steps["risk (clock, Cox fit, score)"]
    print(f"  {'TOTAL':<27}{total:7.2f} s   ({a.casemix.units.height} agencies, "
          f"{a.lagging.height} lagging, {scored.height:,} open cases scored, "
          f"{model.trained_on:,} training cases sampled from {rc.window_cases:,}, "
          f"{series} forecast series; recalibration {model.calibration})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB on Linux
    print(f"  peak RSS {peak:.2f} GB; load average before {load_before[0]:.2f}, after "
          f"{os.getloadavg()[0]:.2f}")
    del pl
    return 0


if __name__ == "__main__":
    sys.exit(main())
