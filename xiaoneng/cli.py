"""`xiaoneng`: the product's one command line.

Subcommands are thin: they parse arguments, call the layer that does the work, print a short
result. A problem the user can fix is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from queries.errors import XiaonengError
from xiaoneng.cli_args import cutoff_arg
from xiaoneng.cli_args import month_arg as _month

Handler = Callable[[argparse.Namespace], int]


def _engine():
    from queries.engine import check_connection, make_engine

    engine = make_engine()
    check_connection(engine)
    return engine


def _demo_database_allowed(engine) -> None:
    """`init-db --demo` only creates a database, or re-opens one it created: never marks a
    database that holds anything else as a demo database (where demo accounts may exist)."""
    import sqlalchemy as sa

    from queries import accounts_store

    tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    if tables and not ("database_flags" in tables and accounts_store.is_demo_database(engine)):
        raise XiaonengError(
            f"init-db --demo: {engine.url.render_as_string(hide_password=True)} already holds "
            "a database the demo command did not create; the demo uses a database of its own "
            "(scripts/demo.sh: DATABASE_URL defaults to sqlite:///data/demo.db)")


def cmd_init_db(args: argparse.Namespace) -> int:
    from queries.calendar import seed_calendar_if_empty
    from queries.migrate import current_revision, upgrade

    engine = _engine()
    if args.demo:
        _demo_database_allowed(engine)
    upgrade(engine)
    if args.demo:
        from queries import accounts_store

        accounts_store.mark_demo_database(engine)
    seeded = seed_calendar_if_empty(engine)
    print(f"{'demo ' if args.demo else ''}database ready at "
          f"{engine.url.render_as_string(hide_password=True)} "
          f"(schema revision {current_revision(engine)}"
          + (f", calendar seeded with {seeded} days" if seeded else "") + ")")
    return 0


def _import_audit(engine, args: argparse.Namespace, detail: dict):
    """The audit hook of a CLI import, written in the load's transaction: the OS user, or the
    --actor account if it may import (refused and audited otherwise)."""
    from queries import audit
    from xiaoneng.cli_identity import resolve

    actor = resolve(engine, getattr(args, "actor", None), "import_data", detail=detail)
    return audit.hook(actor.username, "import", **actor.audit(),
                      detail={"via": "cli", "os_user": actor.os_user, **detail})


def cmd_import(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from queries.importer import import_paths, import_url

    engine = _engine()
    mapping = str(args.mapping) if args.mapping else None
    if args.from_url:
        try:  # never put a password in the audit log
            shown = sa.engine.make_url(args.from_url).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:
            shown = "(invalid URL)"
        hook = _import_audit(engine, args, {"from_url": shown, "table": args.table,
                                    "source_table": args.source_table,
                                    "query": args.query, "mapping": mapping})
        report = import_url(engine, args.from_url, table=args.table, query=args.query,
                            source_table=args.source_table, mapping=args.mapping, audit=hook,
                            extracted_at=args.extracted_at)
    else:
        hook = _import_audit(engine, args, {"paths": [str(p) for p in args.paths],
                                            "mapping": mapping})
        report = import_paths(engine, [Path(p) for p in args.paths], mapping=args.mapping,
                              progress=not args.quiet, audit=hook,
                              extracted_at=args.extracted_at)
    print(report.format())
    return 0 if report.ok else 1


def _calendar_audit(engine, args: argparse.Namespace, detail: dict):
    """The audit hook of a calendar change (it moves deadlines): the OS user or --actor."""
    from queries import audit
    from xiaoneng.cli_identity import resolve

    actor = resolve(engine, args.actor, "edit_calendar", detail=detail)
    return audit.hook(actor.username, "calendar", **actor.audit(),
                      detail={"via": "cli", "os_user": actor.os_user, **detail})


def cmd_calendar(args: argparse.Namespace) -> int:
    from queries import audit
    from queries import calendar as cal

    engine = _engine()
    if args.action in ("seed", "import"):
        detail = ({"op": "seed", "from": args.start_year, "to": args.end_year}
                  if args.action == "seed" else {"op": "import", "file": str(args.file)})
        hook = _calendar_audit(engine, args, detail)
        try:
            if args.action == "seed":
                n = cal.seed_official(engine, args.start_year, args.end_year, audit=hook)
            else:
                n = cal.import_calendar_file(engine, Path(args.file), audit=hook)
        except Exception as exc:
            audit.record_failure(hook, engine, exc)
            raise
        print(f"calendar: {n} official days written" if args.action == "seed"
              else f"calendar: {n} days imported from {args.file}")
    elif args.action == "show":
        print(cal.describe(engine, args.year))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from xiaoneng.demo import generate, write_parquet

    if args.if_empty and not args.out:
        from queries.status import data_status

        if not data_status(_engine()).empty:
            print("generate: the database already has cases; nothing generated (--if-empty)")
            return 0
    tables = generate(cases=args.cases, seed=args.seed, start=args.start, end=args.end)
    if args.out:
        write_parquet(tables, Path(args.out))
        print(f"demo data ({len(tables['cases']):,} cases) written to {args.out}")
        return 0
    from queries.importer import import_frames

    engine = _engine()
    from queries.migrate import upgrade

    upgrade(engine)
    report = import_frames(engine, tables, source=f"generator seed={args.seed}",
                           progress=not args.quiet,
                           audit=_import_audit(engine, args, {"generator_seed": args.seed,
                                                              "cases": args.cases}))
    print(report.format())
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xiaoneng", description="政务服务效能监测 (xiaoneng)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init-db", help="create or upgrade the schema; seed the calendar")
    s.add_argument("--demo", action="store_true",
                   help="create a demo database (the only kind that may hold demo accounts); "
                        "refused on a database created otherwise")
    s.set_defaults(handler=cmd_init_db)

    s = sub.add_parser("import", help="import contract tables from files or another database")
    s.add_argument("paths", nargs="*", help="files named after contract tables, or directories")
    s.add_argument("--mapping", type=Path, help="mapping file (TOML or YAML) for foreign headers")
    s.add_argument("--from-url", help="source database URL (SQLAlchemy form)")
    s.add_argument("--table", help="contract table to fill from --from-url")
    s.add_argument("--source-table", help="table or view to read from --from-url")
    s.add_argument("--query", help="SELECT to read from --from-url")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--extracted-at", type=cutoff_arg, metavar="TIMESTAMP",
                   help="the extract's data cut-off (a date means its last second); default: "
                        "the mapping's extracted_at, else the latest event time in the load")
    s.add_argument("--actor", metavar="NAME",
                   help="the account that imports (a supervisor), for the audit log "
                        "(default: the OS user, os:NAME)")
    s.set_defaults(handler=cmd_import)

    s = sub.add_parser("calendar", help="the working-day calendar")
    cal = s.add_subparsers(dest="action", required=True)
    c = cal.add_parser("seed", help="(re)write official days from the State Council notices")
    c.add_argument("--from", dest="start_year", type=int)
    c.add_argument("--to", dest="end_year", type=int)
    c = cal.add_parser("import", help="import days from a CSV/XLSX of a notice (later years)")
    c.add_argument("file")
    c = cal.add_parser("show", help="working days per year, fallback years")
    c.add_argument("--year", type=int)
    for c in (cal.choices["seed"], cal.choices["import"]):
        c.add_argument("--actor", metavar="NAME",
                       help="the account that changes the calendar (a supervisor), for the "
                            "audit log (default: the OS user, os:NAME)")
    s.set_defaults(handler=cmd_calendar)

    s = sub.add_parser("generate", help="generate a seeded, realistic demo city")
    s.add_argument("--cases", type=int, default=200_000)
    s.add_argument("--seed", type=int, default=20241)
    s.add_argument("--from", dest="start", type=_month, default=_month("2024-01"))
    s.add_argument("--to", dest="end", type=_month, default=_month("2026-10"))
    s.add_argument("--out", help="write Parquet files to this directory instead of the database")
    s.add_argument("--if-empty", action="store_true",
                   help="only when the database has no cases yet (the demo start-up uses this)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(handler=cmd_generate)

    _register_later_commands(sub)
    return p


def _register_later_commands(sub) -> None:
    """Commands that live in other modules register themselves here as they are built."""
    for module_name in ("xiaoneng.cli_compute", "xiaoneng.cli_metrics", "xiaoneng.cli_report",
                        "xiaoneng.cli_stats", "xiaoneng.cli_serve", "xiaoneng.cli_accounts"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except XiaonengError as exc:
        print(f"xiaoneng: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xiaoneng: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
