"""`xiaoneng compute`: run the metric job for one month, a range, or everything."""

from __future__ import annotations

import argparse

from xiaoneng.cli_args import moment_arg as _moment
from xiaoneng.cli_args import month_arg as _month


def cmd_compute(args: argparse.Namespace) -> int:
    from metrics.jobs import month_range, run_compute
    from metrics.settings import load_settings
    from queries.engine import check_connection, make_engine
    from queries.facts_store import last_run
    from queries.status import data_status

    engine = make_engine()
    check_connection(engine)
    if args.if_stale:
        run = last_run(engine)
        status = data_status(engine)
        loaded = (status.last_load or {}).get("finished_at")
        if run and (loaded is None or run["finished_at"] >= loaded):
            print("compute: facts are up to date with the last load (--if-stale)")
            return 0
    months = None if args.all else month_range(args.month, args.to or args.month)
    result = run_compute(engine, months, as_of=args.as_of, settings=load_settings())
    print(result.format())
    return 0


def register(sub) -> None:
    s = sub.add_parser("compute", help="compute metric facts (cards, reviews, index, …)")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--month", type=_month, help="YYYY-MM (with --to: the first of a range)")
    g.add_argument("--all", action="store_true", help="every month with data")
    s.add_argument("--to", type=_month, help="last month of a range")
    s.add_argument("--as-of", type=_moment, help="measure as of this moment (default: now)")
    s.add_argument("--if-stale", action="store_true",
                   help="skip when the last run is newer than the last load")
    s.set_defaults(handler=cmd_compute)
