"""Metric commands of the CLI: `xiaoneng export` (and, later, `xiaoneng compute`).

`register(sub)` is called by `xiaoneng.cli` to add the subcommands. Arguments are parsed as
plain strings and validated here, so that a bad month or an unknown metric id is one line on
stderr (via XiaonengError), not an argparse usage dump.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re

from queries.errors import XiaonengError

_MONTH = re.compile(r"^\d{4}-\d{2}$")


def parse_month(text: str, option: str) -> dt.date:
    """'YYYY-MM' → first day of that month; anything else is a one-line user error."""
    if not _MONTH.match(text or ""):
        raise XiaonengError(f"{option} expects a month as YYYY-MM, got {text!r}")
    try:
        return dt.date(int(text[:4]), int(text[5:7]), 1)
    except ValueError:
        raise XiaonengError(f"{option} expects a month as YYYY-MM, got {text!r}") from None


def cmd_export(args: argparse.Namespace) -> int:
    from metrics.export import export_metrics
    from metrics.query import validate_metric_ids
    from queries.engine import check_connection, make_engine

    month_from = parse_month(args.month_from, "--from")
    month_to = parse_month(args.month_to, "--to")
    if month_from > month_to:
        raise XiaonengError(f"--from {args.month_from} is after --to {args.month_to}")
    ids = validate_metric_ids(args.metrics.split(",")) if args.metrics else None
    engine = make_engine()
    check_connection(engine)
    path = export_metrics(engine, args.grain, month_from, month_to, ids, args.format, args.out,
                          period=args.period)
    print(f"export: metric values written to {path}")
    return 0


# Kept here (not imported from metrics.export) so that building the parser imports no Polars;
# a test checks they match metrics.export.
EXPORT_GRAINS = ("city", "region", "agency", "item", "channel")
FORMATS = ("csv", "parquet", "xlsx")


def _register_export(sub) -> None:
    s = sub.add_parser("export", help="write metric values (one row per period × key × metric)")
    s.add_argument("--grain", choices=EXPORT_GRAINS, default="city")
    s.add_argument("--from", dest="month_from", required=True, metavar="YYYY-MM")
    s.add_argument("--to", dest="month_to", required=True, metavar="YYYY-MM")
    s.add_argument("--metrics", help="comma-separated metric ids (default: all)")
    s.add_argument("--format", choices=FORMATS, default="csv")
    s.add_argument("--period", choices=("month", "quarter", "year", "r12"), default="month")
    s.add_argument("--out", help="output file (default xiaoneng_<grain>_<from>_<to>.<format>)")
    s.set_defaults(handler=cmd_export)


def register(sub) -> None:
    """Add the metric subcommands to the CLI's subparsers."""
    _register_export(sub)
