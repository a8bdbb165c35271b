"""Metric commands of the CLI: `xiaoneng export`.

`register(sub)` is called by `xiaoneng.cli` to add the subcommands. Arguments are parsed as
plain strings and validated here, so that a bad month or an unknown metric id is one line on
stderr (via XiaonengError), not an argparse usage dump.

Scope: `--as-user USERNAME` (or `--actor USERNAME`, the same) exports as that dashboard
account — it must exist, be enabled and its role must allow exports (analyst, unit user; see
`xiaoneng.cli_identity`) — and a unit user's file holds only its region subtree / agency list,
the same scope the dashboard enforces. Without either the export is unscoped: that mode is for
the local operator on the server only, who holds DATABASE_URL and could read every table
anyway; it is never offered through the dashboard. Either way the export is in the audit log
(who, scope, rows, what); if that row cannot be written the file is removed and the command
fails, so no export leaves the server unrecorded.
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


def user_scope(engine, user) -> tuple[str, ...] | None:
    """The user's agencies (None: all), from the region tree and agencies in the database."""
    from queries import extracts
    from xiaoneng.authz import allowed_agencies

    regions = extracts.load_regions(engine).select("region_code", "parent_code").iter_rows()
    agencies = extracts.load_agencies(engine).select("agency_code", "region_code").iter_rows()
    return allowed_agencies(user, regions, agencies)


def _rows_in(path, fmt: str) -> int:
    """Rows in the written file (what left the server, as the audit log records it)."""
    import polars as pl

    if fmt == "csv":
        return pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item()
    if fmt == "parquet":
        return pl.scan_parquet(path).select(pl.len()).collect().item()
    return pl.read_excel(path, sheet_name="metrics").height


def cmd_export(args: argparse.Namespace) -> int:
    from metrics.export import export_metrics
    from metrics.query import Filters, validate_metric_ids
    from queries import audit
    from queries.engine import check_connection, make_engine
    from xiaoneng.cli_identity import resolve

    month_from = parse_month(args.month_from, "--from")
    month_to = parse_month(args.month_to, "--to")
    if month_from > month_to:
        raise XiaonengError(f"--from {args.month_from} is after --to {args.month_to}")
    ids = validate_metric_ids(args.metrics.split(",")) if args.metrics else None
    engine = make_engine()
    check_connection(engine)
    if args.as_user and args.actor and args.as_user != args.actor:
        raise XiaonengError("--as-user and --actor name different accounts; give one")
    actor = resolve(engine, args.as_user or args.actor, "export",
                    flag="--as-user" if args.as_user else "--actor")
    allowed = None  # the local operator (OS user): unscoped, see the module docstring
    if actor.user is not None:
        allowed = user_scope(engine, actor.user)
        if allowed is not None and not allowed:
            raise XiaonengError(f"{'--as-user' if args.as_user else '--actor'} "
                                f"{actor.username}: the account's scope ({actor.scope}) "
                                "matches no agency")
    if args.level and args.grain != "region":
        raise XiaonengError(f"--level lists regions: use it with --grain region, not "
                            f"--grain {args.grain}")
    if args.region is not None:
        from queries import extracts

        if args.region not in set(extracts.load_regions(engine)["region_code"].to_list()):
            raise XiaonengError(f"--region {args.region}: no such region code")
    filters = Filters(month_from, month_to, region_code=args.region, allowed_agencies=allowed)
    path = export_metrics(engine, args.grain, month_from, month_to, ids, args.format, args.out,
                          filters=filters, period=args.period, level=args.level)
    rows = _rows_in(path, args.format)
    try:
        audit.record(engine, actor.username, "export", **actor.audit(), detail={
            "via": "cli", "ok": True, "os_user": actor.os_user, "what": f"metrics:{args.grain}",
            "grain": args.grain, "region": args.region, "level": args.level,
            "from": args.month_from, "to": args.month_to,
            "period": args.period, "metrics": ids or "all", "format": args.format,
            "rows": rows, "file": str(path),
            "scoped_to": None if allowed is None else len(allowed)})
    except Exception as exc:
        path.unlink(missing_ok=True)
        raise XiaonengError(f"export not recorded in the audit log, file removed: "
                            f"{type(exc).__name__}") from exc
    print(f"export: {rows:,} metric values written to {path}"
          + (f" (scope of {actor.username}: {actor.scope})" if actor.user
             else " (unscoped: local operator)"))
    return 0


# Kept here (not imported from metrics.export) so that building the parser imports no Polars;
# a test checks they match metrics.export.
EXPORT_GRAINS = ("city", "region", "agency", "item", "channel")
FORMATS = ("csv", "parquet", "xlsx")
REGION_LEVELS = ("province", "city", "county", "town", "village")  # queries.contract


def _register_export(sub) -> None:
    s = sub.add_parser("export", help="write metric values (one row per period × key × metric)")
    s.add_argument("--grain", choices=EXPORT_GRAINS, default="city",
                   help="city: one row for the city (or --region); region: the children of "
                        "the city (or of --region) and its own agencies as …本级, or with "
                        "--level every region of that level")
    s.add_argument("--region", metavar="CODE",
                   help="the region the export is about (its subtree; its children at "
                        "--grain region)")
    s.add_argument("--level", choices=REGION_LEVELS,
                   help="with --grain region: every region of this level (e.g. county)")
    s.add_argument("--from", dest="month_from", required=True, metavar="YYYY-MM")
    s.add_argument("--to", dest="month_to", required=True, metavar="YYYY-MM")
    s.add_argument("--metrics", help="comma-separated metric ids (default: all)")
    s.add_argument("--format", choices=FORMATS, default="csv")
    s.add_argument("--period", choices=("month", "quarter", "year", "r12"), default="month")
    s.add_argument("--out", help="output file (default xiaoneng_<grain>_<from>_<to>.<format>)")
    s.add_argument("--as-user", metavar="USERNAME",
                   help="export as this dashboard account: its role must allow exports and a "
                        "unit user gets only its scope (without it: unscoped, for the local "
                        "operator on the server only)")
    s.add_argument("--actor", metavar="NAME",
                   help="the same as --as-user: an account allowed to export (default: the OS "
                        "user, os:NAME, unscoped)")
    s.set_defaults(handler=cmd_export)


def register(sub) -> None:
    """Add the metric subcommands to the CLI's subparsers."""
    _register_export(sub)
