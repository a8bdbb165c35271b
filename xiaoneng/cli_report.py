"""`xiaoneng report`: the monthly bulletin (月度通报) as files, optionally published.

    xiaoneng report --month 2026-09 --scope city --format docx,xlsx,pdf --out DIR [--publish]
    xiaoneng report --month previous --on-workday 3 --publish --out /srv/bulletins
    xiaoneng report --month 2026-09 --period quarter --publish --out DIR   # 季度考核通报

`--month previous` is the month before today. `--on-workday N` makes the command do nothing
(exit 0) unless today is the N-th working day of the month by the product's own calendar
(holidays and 调休 included), so a plain daily cron line publishes on the right day.
`--period quarter|year` builds the 考核 bulletin of the quarter or year containing the month
from the same facts. A publication stores every format; the files asked for are written out
(a later request for another format of the same version gets its stored bytes).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from queries.errors import XiaonengError


def resolve_month(text: str, today: dt.date | None = None) -> dt.date:
    from xiaoneng.cli_metrics import parse_month

    today = today or dt.date.today()
    if text == "previous":
        first = today.replace(day=1)
        return (first - dt.timedelta(days=1)).replace(day=1)
    return parse_month(text, "--month")


def nth_workday_of_month(engine, day: dt.date) -> int | None:
    """N when `day` is the N-th working day of its month, None on a day off."""
    from metrics.calendar import WorkCalendar

    cal = WorkCalendar.from_engine(engine)
    if not cal.is_workday(day):
        return None
    start = day.replace(day=1)
    return cal.between(start - dt.timedelta(days=1), day)


def cmd_report(args: argparse.Namespace) -> int:
    from metrics.bulletin import BulletinRules, parse_scope
    from queries.engine import check_connection, make_engine
    from queries.settings_store import in_force
    from reports import FORMATS, file_name

    if args.user and not args.publish:
        raise XiaonengError("--user names the publisher: it goes with --publish")
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise XiaonengError(f"--format takes a comma-separated list of {', '.join(FORMATS)}")
    out = Path(args.out)
    if not out.is_dir():
        raise XiaonengError(f"output directory does not exist: {out}")
    month = resolve_month(args.month)
    engine = make_engine()
    check_connection(engine)
    if args.on_workday is not None:
        today = dt.date.today()
        n = nth_workday_of_month(engine, today)
        if n != args.on_workday:
            print(f"report: today ({today}) is not working day {args.on_workday} of the month "
                  f"({'a day off' if n is None else f'working day {n}'}); nothing to do")
            return 0
    settings = in_force(engine)  # file/defaults with the supervisor's saved overrides
    rules = BulletinRules.from_settings(settings, top_n=args.top_n)
    scope = parse_scope(engine, args.scope)
    from queries import audit
    from xiaoneng.cli_identity import resolve

    issued_on = parse_date(args.issued_on) if args.issued_on else None
    what = {"month": month, "bulletin_scope": scope.key, "via": "cli", "period": args.period}
    if args.publish:
        from reports.publish import publish_bulletin

        # the publisher: the OS user, or an account that may publish this scope's bulletin
        actor = resolve(engine, args.user, "publish_bulletin", flag="--user",
                        bulletin_scope=scope.key, detail=what)
        what["os_user"] = actor.os_user
        write = audit.hook(actor.username, "publish", **actor.audit(), detail=what)
        try:
            res = publish_bulletin(engine, month, scope, formats, settings, rules,
                                   created_by=actor.username, audit=write, period=args.period,
                                   issued_on=issued_on)
        except Exception as exc:
            audit.record_failure(write, engine, exc)
            raise
        if res.unchanged:
            audit.record(engine, actor.username, "publish", **actor.audit(),
                         detail={**what, "version": res.version, "unchanged": True})
        for fmt in formats:
            f = res.files[fmt]
            (out / f.filename).write_bytes(f.data)
        if res.unchanged:
            print(f"report: {scope.name} {month:%Y-%m} is unchanged since version {res.version} "
                  f"(hash {res.bulletin.content_hash[:12]}); files of version {res.version} "
                  f"written to {out}")
        else:
            print(f"report: published version {res.version} of {res.bulletin.title} "
                  f"{month:%Y-%m} (hash {res.bulletin.content_hash[:12]}) to {out}")
            if res.diff:
                print("  changes from version", res.version - 1, ":", res.diff["summary"])
                for line in change_lines(res.diff, limit=20):
                    print("   ", line)
        return 0
    from reports.publish import preview
    from xiaoneng.cli_identity import os_actor

    actor = os_actor()
    b, files = preview(engine, month, scope, formats, settings, rules, args.period)
    written = [out / file_name(b, fmt) for fmt in files]
    for path, data in zip(written, files.values(), strict=True):
        path.write_bytes(data)
    try:  # as `xiaoneng export`: no file leaves unrecorded
        audit.record(engine, actor.username, "preview", **actor.audit(), detail={
            **what, "os_user": actor.os_user, "formats": formats, "out": str(out),
            "content_hash": b.content_hash})
    except Exception as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise XiaonengError(f"preview not recorded in the audit log, files removed: "
                            f"{type(exc).__name__}") from exc
    print(f"report: preview of {b.title} {month:%Y-%m} written to {out} "
          f"({', '.join(formats)}; hash {b.content_hash[:12]}; not published)")
    return 0


def change_lines(diff: dict, limit: int = 50) -> list[str]:
    from metrics.bulletin.diff import change_lines as lines

    return lines(diff, limit)


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise XiaonengError(f"--issued-on must be a date YYYY-MM-DD, got {text!r}") from None


def register(sub) -> None:
    s = sub.add_parser("report", help="the monthly bulletin (月度通报) as docx/xlsx/pdf")
    s.add_argument("--month", required=True, metavar="YYYY-MM|previous")
    s.add_argument("--scope", default="city",
                   help="city (default), county:<region code> or sector:<sector>")
    s.add_argument("--format", default="docx,xlsx,pdf", help="comma-separated: docx,xlsx,pdf")
    s.add_argument("--out", default=".", help="directory for the files (must exist)")
    s.add_argument("--publish", action="store_true",
                   help="freeze as a numbered version (a new version only if content changed)")
    s.add_argument("--top-n", type=int, default=None,
                   help="units praised / criticised (default: settings top_n)")
    s.add_argument("--on-workday", type=int, default=None, metavar="N",
                   help="do nothing unless today is the N-th working day of the month")
    s.add_argument("--user", default=None,
                   help="the publishing account (a supervisor whose scope covers the "
                        "bulletin), recorded in the version and the audit log (default: the "
                        "OS user, os:NAME)")
    s.add_argument("--period", default="month", choices=("month", "quarter", "year"),
                   help="month (月度通报, default) or the quarter / year containing --month "
                        "(季度 / 年度考核通报)")
    s.add_argument("--issued-on", default=None, metavar="YYYY-MM-DD",
                   help="成文日期 and 印发日期 of the document (default: today)")
    s.set_defaults(handler=cmd_report)
