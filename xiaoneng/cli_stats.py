"""`xiaoneng stats`: lagging units, the risk backtest and volume forecasts from the command line.

Data come from the database (DATABASE_URL, through the existing readers), from a directory of
contract Parquet files (`--parquet`), or from the seeded demo city generated in memory
(`--demo`, with `--cases` / `--seed`), so the backtest report can be regenerated anywhere by
one command. Results read from the database are audited (an `export` row, as the OS user);
CSV output is formula-safe (`queries.spreadsheet_cells`):

    xiaoneng stats backtest --demo --out docs/backtest.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from xiaoneng.cli_args import month_arg as _month


def _tables(args: argparse.Namespace):
    from metrics.stats import data

    if args.parquet:
        return data.read_parquet_dir(Path(args.parquet)), f"Parquet files in {args.parquet}"
    if args.demo:
        from xiaoneng.demo import generate

        frames = generate(cases=args.cases, seed=args.seed, start=dt.date(2024, 1, 1),
                          end=dt.date(2026, 10, 1))
        return (data.from_frames(frames),
                f"demo city, {args.cases:,} cases, seed {args.seed}, 2024-01 to 2026-10")
    from queries import audit
    from queries.engine import check_connection, make_engine
    from xiaoneng.cli_identity import os_actor

    engine = make_engine()
    check_connection(engine)
    tables = data.read_database(engine)
    actor = os_actor()  # results of the database leave the server: on record before they do
    audit.record(engine, actor.username, "export", **actor.audit(), detail={
        "via": "cli", "os_user": actor.os_user, "what": f"stats:{args.stats_action}",
        "format": getattr(args, "format", "markdown"), "out": args.out or "stdout"})
    return tables, "the configured database"


def _rules():
    """The settings file in force (XIAONENG_SETTINGS): its [stats] table sets the statistics."""
    from metrics.settings import load_settings

    return load_settings()


def _write(frame, fmt: str, out: str | None) -> None:
    import polars as pl

    if fmt == "csv":
        from queries.spreadsheet_cells import csv_text

        text = csv_text(frame.with_columns(
            [pl.col(c).list.join(",") for c, t in frame.schema.items() if t == pl.List(pl.String)]
        ))
    elif fmt == "json":
        text = frame.write_json()
    else:
        with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=400, tbl_width_chars=200):
            text = str(frame)
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")


def cmd_lagging(args: argparse.Namespace) -> int:
    from metrics.stats.lagging import assess

    tables, source = _tables(args)
    month = args.month or tables.last_month
    a = assess(tables, month, rules=_rules(), include_share_alarms=args.include_shares)
    print(f"lagging units, {month:%Y-%m} ({source}); adjusted funnel: {a.adjusted.summary()}",
          file=sys.stderr)
    cols = ["unit", "name", "severity", "reason_zh" if args.lang == "zh" else "reason_en"]
    _write(a.lagging.select(cols) if args.format == "table" else a.lagging, args.format, args.out)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from metrics.stats.risk import backtest, backtest_markdown
    from queries.extracts import add_months

    tables, source = _tables(args)
    last = add_months(tables.last_month, -1)  # the last month whose outcomes can be known
    months = [add_months(last, k - args.months + 1) for k in range(args.months)]
    bt = backtest(tables, months, rules=_rules())
    src = (f"--parquet {args.parquet}" if args.parquet else
           f"--demo --cases {args.cases} --seed {args.seed}" if args.demo else "")
    command = " ".join(p for p in ("xiaoneng stats backtest", src, f"--months {args.months}",
                                   f"--out {args.out}" if args.out else "") if p)
    text = backtest_markdown(bt, source, command)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        o = bt.overall
        print(f"backtest written to {args.out}: Brier recalibrated model "
              f"{o['model_calibrated']:.4f}, model {o['model']:.4f}, base rate "
              f"{o['base_rate']:.4f}, rule {o['rule_calibrated']:.4f}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    from metrics.stats.forecast import forecast_volume, monthly_volume

    tables, _ = _tables(args)
    month = args.month or tables.last_month
    by = {"region": "region_code", "sector": "sector"}[args.by]
    fc = forecast_volume(monthly_volume(tables.cases, tables.agencies, by), tables.calendar, month,
                         _rules().stats)
    _write(fc.filter(fc["kind"] == "forecast"), args.format, args.out)
    return 0


def register(sub) -> None:
    s = sub.add_parser("stats", help="lagging units, predicted-risk backtest, volume forecasts")
    actions = s.add_subparsers(dest="stats_action", required=True)

    def source(p: argparse.ArgumentParser) -> None:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--parquet", help="directory of contract Parquet files")
        g.add_argument("--demo", action="store_true", help="generate the demo city in memory")
        p.add_argument("--cases", type=int, default=200_000, help="demo size (with --demo)")
        p.add_argument("--seed", type=int, default=20241, help="demo seed (with --demo)")
        p.add_argument("--out", help="write to this file instead of standard output")

    p = actions.add_parser("lagging", help="lagging units of a month, with the reasons")
    source(p)
    p.add_argument("--month", type=_month, help="YYYY-MM (default: the latest month)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--include-shares", action="store_true",
                   help="also list 差评率 / 网上办理率 funnel alarms (not case-mix adjusted)")
    p.set_defaults(handler=cmd_lagging)

    p = actions.add_parser("backtest", help="backtest the predicted overdue risk (Markdown)")
    source(p)
    p.add_argument("--months", type=int, default=6, help="months to score (default 6)")
    p.set_defaults(handler=cmd_backtest)

    p = actions.add_parser("forecast", help="next months' volume per region or sector")
    source(p)
    p.add_argument("--by", choices=("region", "sector"), default="region")
    p.add_argument("--month", type=_month, help="last month of history (default: the latest)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(handler=cmd_forecast)
