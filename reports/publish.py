"""Preview and publish: build the bulletin, render it, and freeze it as a numbered version.

Publishing freezes, in one transaction (`queries.bulletin_store`): the bulletin JSON (every
number and sentence, the office's texts, the 文号), the settings and ranking rules, the files
of *every* format (docx, xlsx, pdf, whatever the request asked for), and a Parquet snapshot of
the period's metric values in scope (city, region and agency grains) — the facts the bulletin
was built from. Re-running the jobs later rewrites the fact tables but not these rows, and a
later request for any format of a version returns its stored bytes (`version_files`).

Publishing again with the same substance (the same numbers, sentences and office texts; the
date of signing aside) does not make a new version; with changed substance (late data,
corrected settings, edited texts) it makes version n + 1, whose text opens with an automatic
更正说明 of what changed from version n (`metrics.bulletin.diff.correction_notice`), and stores
the diff. The 约谈 rule uses last period's *published* criticism list when there is one — that
is what was actually announced — and otherwise recomputes it from the facts. The 文号 number of
a period already published is kept; a new period takes the next number of its year.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine

from metrics.bulletin import Bulletin, BulletinRules, Scope, build_bulletin, period_bounds
from metrics.bulletin.diff import correction_notice, diff_bulletins
from metrics.bulletin.model import Frame, compute_hash
from metrics.bulletin.office import OfficeTexts, default_texts, merged
from metrics.bulletin.scope import PERIOD_MONTHS, scope_filters
from metrics.query import metric_values
from metrics.settings import Settings
from queries import bulletin_store as store
from queries import extracts
from queries.audit import AuditHook
from queries.extracts import add_months, month_start
from queries.settings_store import in_force
from reports import FORMATS, file_name, render

FACTS_FORMAT = "facts"
PREVIEW = "未发布预览"


@dataclass(frozen=True)
class PublishResult:
    bulletin: Bulletin
    version: int
    version_id: int
    unchanged: bool  # True: the same substance as the latest version, nothing new was stored
    diff: dict[str, Any] | None
    files: dict[str, store.StoredFile]


def office_for(engine: Engine, scope: Scope) -> OfficeTexts:
    """The office's texts: defaults for the scope overridden by what the office stored."""
    return merged(default_texts(scope, extracts.load_regions(engine)),
                  store.office_texts(engine, scope.key))


def save_office(engine: Engine, scope: Scope, values: dict[str, Any], username: str,
                role: str | None = None) -> dict[str, tuple[Any, Any]]:
    """Store the office's edited texts (validated; audited before/after): a value equal to the
    scope's default is stored as no override, so later default improvements reach it."""
    defaults = default_texts(scope, extracts.load_regions(engine)).as_dict()
    changes = {k: (None if v == defaults.get(k) else v) for k, v in values.items()}

    def check(merged_values: dict[str, Any]) -> None:
        merged(OfficeTexts(**defaults), merged_values)  # raises with every problem named

    return store.save_office_texts(engine, scope.key, changes, username, role, validate=check)


def previous_published(engine: Engine, month: dt.date, scope: Scope, period: str = "month"):
    """(criticised units, source text) from the previous period's latest published version,
    or (None, None)."""
    first, _ = period_bounds(month_start(month), period)
    prev_last = add_months(first, -1)
    row = store.latest_version(engine, prev_last, store.store_key(scope.key, period))
    if row is None:
        return None, None
    prev = Bulletin.from_json(row["bulletin"])
    bottom = {(u.level, u.code) for u in prev.criticism}
    return bottom, f"{prev_last.year}年{prev_last.month}月已发布通报第{row['version']}版"


def _seq(engine: Engine, scope: Scope, last: dt.date, period: str) -> int:
    """The 文号 number: kept for a bulletin already published, else the office's next of the
    year (one sequence for its monthly, quarterly and annual bulletins)."""
    used: dict[tuple[str, str], int] = {}
    for r in store.issued_bulletins(engine, scope.key, last.year):
        frame = Bulletin.from_json(r["bulletin"]).frame
        if frame is not None and frame.seq:
            used[(r["scope_key"], f"{r['month']:%Y-%m}")] = frame.seq
    mine = (store.store_key(scope.key, period), f"{last:%Y-%m}")
    return used[mine] if mine in used else max(used.values(), default=0) + 1


def build(engine: Engine, month: dt.date, scope: Scope, settings: Settings | None = None,
          rules: BulletinRules | None = None, period: str = "month",
          issued_on: dt.date | None = None) -> Bulletin:
    """The bulletin as it would be published now (last period's published list, the office's
    texts, the next 文号 number)."""
    _, last = period_bounds(month_start(month), period)
    settings = settings or in_force(engine)  # the file and what the office saved on 数据管理
    bottom, source = previous_published(engine, month, scope, period)
    return build_bulletin(engine, month, scope, settings, rules, bottom, source, period=period,
                          office=office_for(engine, scope), issued_on=issued_on,
                          seq=_seq(engine, scope, last, period))


def facts_snapshot(engine: Engine, bulletin: Bulletin, scope: Scope) -> bytes:
    """Parquet of every metric value of the period in scope at the city, region, agency grains."""
    last = dt.date.fromisoformat(bulletin.month + "-01")
    first = add_months(last, 1 - PERIOD_MONTHS[bulletin.period])
    f = scope_filters(scope, first, last)
    frames = []
    for grain in ("city", "region", "agency"):
        df = metric_values(engine, None, f, grain, bulletin.period)  # type: ignore[arg-type]
        key = "agency_code" if grain == "agency" else "region_code"
        frames.append(df.filter(pl.col("period_end") == last).select(
            pl.lit(grain).alias("grain"), "period", pl.col(key).alias("key"), "metric_id",
            "numerator", "denominator", "value"))
    buf = io.BytesIO()
    pl.concat(frames).write_parquet(buf, statistics=False)
    return buf.getvalue()


def _base(b: Bulletin) -> Bulletin:
    return dataclasses.replace(b, correction=(), content_hash="")


def publish_bulletin(
    engine: Engine,
    month: dt.date,
    scope: Scope,
    formats: Iterable[str] = FORMATS,
    settings: Settings | None = None,
    rules: BulletinRules | None = None,
    created_by: str | None = None,
    audit: AuditHook | None = None,
    period: str = "month",
    issued_on: dt.date | None = None,
) -> PublishResult:
    """Build the bulletin and, when its substance differs from the last version, store it as
    the next version with every format; `audit` writes the publication's audit row in the
    version's transaction (an unchanged bulletin publishes nothing, and the caller records
    that as a plain row). `formats` is what the caller wants back: every stored format is in
    `files` anyway."""
    del formats  # every format is stored; the caller picks what it writes out
    settings = settings or in_force(engine)
    month = month_start(month)
    _, last = period_bounds(month, period)
    key = store.store_key(scope.key, period)
    b = build(engine, month, scope, settings, rules, period, issued_on)
    latest = store.latest_version(engine, last, key)
    if latest is not None:
        before = Bulletin.from_json(latest["bulletin"])
        if _base(before).substance_hash() == _base(b).substance_hash():
            return PublishResult(before, latest["version"], latest["id"], True, latest["diff"],
                                 version_files(engine, latest))
    version = (latest["version"] + 1) if latest else 1
    diff = None
    if latest is not None:
        diff = diff_bulletins(before, b)
        printed = before.frame.printed_on if before.frame else latest["created_at"].date().isoformat()
        b = dataclasses.replace(b, correction=correction_notice(diff, latest["version"],
                                                                printed))
        b = dataclasses.replace(b, content_hash=compute_hash(b))
        diff["new_hash"] = b.content_hash
    rendered = render(b, FORMATS)
    files = [store.StoredFile(fmt, file_name(b, fmt, version), data)
             for fmt, data in rendered.items()]
    files.append(store.StoredFile(FACTS_FORMAT, file_name(b, "parquet", version),
                                  facts_snapshot(engine, b, scope)))
    vid = store.insert_version(
        engine, last, key, version, b.content_hash,
        dt.datetime.fromisoformat(b.provenance["as_of"]), b.to_json(),
        {"settings": b.provenance["settings"], "rules": b.provenance["rules"]}, diff, files,
        created_by, audit=audit,
    )
    return PublishResult(b, version, vid, False, diff, {f.format: f for f in files})


def version_files(engine: Engine, row: dict[str, Any],
                  audit: AuditHook | None = None) -> dict[str, store.StoredFile]:
    """Every format of a stored version, as stored. A version published before every format
    was kept gets the missing ones rendered from its own frozen JSON and stored, once."""
    files = store.load_files(engine, row["id"])
    missing = [f for f in FORMATS if f not in files]
    if missing:
        b = Bulletin.from_json(row["bulletin"])
        if b.frame is None:  # stored before the 公文 form: its own texts, a plain frame
            b = dataclasses.replace(b, frame=Frame(
                issuer="政务服务效能监测平台", doc_number="", recipients="",
                issued_on=row["created_at"].date().isoformat()))
        rendered = render(b, missing)
        for fmt, data in rendered.items():
            files[fmt] = store.backfill_file(
                engine, row["id"], store.StoredFile(fmt, file_name(b, fmt, row["version"]),
                                                    data), audit)
    return files


def preview(engine: Engine, month: dt.date, scope: Scope, formats: Iterable[str] = FORMATS,
            settings: Settings | None = None, rules: BulletinRules | None = None,
            period: str = "month") -> tuple[Bulletin, dict[str, bytes]]:
    """Build and render without storing anything (the files say 未发布预览)."""
    b = build(engine, month, scope, settings, rules, period)
    return b, render(b, formats, label=PREVIEW)
