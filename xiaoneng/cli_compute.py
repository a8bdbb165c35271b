"""`xiaoneng compute`: run the metric job for one month, a range, or everything.

The job measures with the settings in force — defaults ← settings file ← the overrides the
supervision office stored on the 数据管理 page (`queries.settings_store.in_force`) — the same
values a job started from the dashboard uses. Every run is in the audit log as the OS user (or
the `--actor` account, which must be allowed to run jobs), written in the transaction that
replaces the facts (`run_compute_audited`).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine

from xiaoneng.cli_args import moment_arg as _moment
from xiaoneng.cli_args import month_arg as _month


def run_compute_audited(
    engine: Engine,
    months: list[dt.date] | None,
    *,
    as_of: dt.datetime | None,
    settings: Any,
    username: str,
    role: str | None,
    scope: str | None = "all",
    detail: dict[str, Any] | None = None,
) -> Any:
    """`metrics.jobs.run_compute` with its audit row written in the facts' transaction.

    Shared by `xiaoneng compute` and the dashboard's run-a-job action. A failed run is
    recorded afterwards with `ok: false`.
    """
    from metrics.jobs import run_compute
    from queries import audit

    info = {"months": [f"{m:%Y-%m}" for m in months] if months else "all",
            "as_of": as_of, "settings_digest": settings.digest(), **(detail or {})}
    write = audit.hook(username, "job_run", role=role, scope=scope, detail=info)
    try:
        return run_compute(engine, months, as_of=as_of, settings=settings, audit=write)
    except Exception as exc:
        audit.record_failure(write, engine, exc)
        raise


def cmd_compute(args: argparse.Namespace) -> int:
    from queries.engine import check_connection, make_engine
    from queries.facts_store import last_run
    from queries.settings_store import in_force
    from queries.status import data_status
    from xiaoneng.cli_identity import resolve

    engine = make_engine()
    check_connection(engine)
    actor = resolve(engine, args.actor, "run_job")
    if args.if_stale:
        run = last_run(engine)
        status = data_status(engine)
        loaded = (status.last_load or {}).get("finished_at")
        if run and (loaded is None or run["finished_at"] >= loaded):
            print("compute: facts are up to date with the last load (--if-stale)")
            return 0
    from metrics.jobs import month_range

    months = None if args.all else month_range(args.month, args.to or args.month)
    result = run_compute_audited(engine, months, as_of=args.as_of, settings=in_force(engine),
                                 username=actor.username, role=actor.role,
                                 scope=actor.scope,
                                 detail={"via": "cli", "os_user": actor.os_user})
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
    s.add_argument("--actor", metavar="NAME",
                   help="the account that runs it (a supervisor), for the audit log "
                        "(default: the OS user, os:NAME)")
    s.set_defaults(handler=cmd_compute)
