"""Preview and publish: build the bulletin, render it, and freeze it as a numbered version.

Publishing freezes, in one transaction (`queries.bulletin_store`): the bulletin JSON (every
number and sentence), the settings and ranking rules, the rendered files, and a Parquet
snapshot of the month's metric values in scope (city, region and agency grains) — the facts the
bulletin was built from. Re-running the jobs later rewrites the fact tables but not these rows.

Publishing again with unchanged content does not make a new version (the content hash is the
same); with changed content (late data, corrected settings) it makes version n + 1 and stores
the diff from version n. The 约谈 rule uses last month's *published* criticism list when there
is one — that is what was actually announced — and otherwise recomputes it from the facts.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine

from metrics.bulletin import Bulletin, BulletinRules, Scope, build_bulletin, scope_filters
from metrics.bulletin.diff import diff_bulletins
from metrics.query import metric_values
from metrics.settings import Settings
from queries import bulletin_store as store
from queries.audit import AuditHook
from queries.extracts import add_months, month_start
from reports import FORMATS, file_name, render

FACTS_FORMAT = "facts"


@dataclass(frozen=True)
class PublishResult:
    bulletin: Bulletin
    version: int
    version_id: int
    unchanged: bool  # True: identical to the latest version, nothing new was stored
    diff: dict[str, Any] | None
    files: dict[str, store.StoredFile]


def previous_published(engine: Engine, month: dt.date, scope: Scope):
    """(bottom units, source text) from last month's latest published version, or (None, None)."""
    prev_month = add_months(month_start(month), -1)
    row = store.latest_version(engine, prev_month, scope.key)
    if row is None:
        return None, None
    prev = Bulletin.from_json(row["bulletin"])
    bottom = {(u.level, u.code) for u in prev.criticism}
    return bottom, f"{prev_month:%Y年%m月}已发布通报第{row['version']}版"


def build(engine: Engine, month: dt.date, scope: Scope, settings: Settings | None = None,
          rules: BulletinRules | None = None) -> Bulletin:
    """The bulletin as it would be published now (uses last month's published list if any)."""
    bottom, source = previous_published(engine, month, scope)
    return build_bulletin(engine, month, scope, settings, rules, bottom, source)


def facts_snapshot(engine: Engine, bulletin: Bulletin, scope: Scope) -> bytes:
    """Parquet of every metric value of the month in scope at the city, region, agency grains."""
    month = dt.date.fromisoformat(bulletin.month + "-01")
    f = scope_filters(scope, month)
    frames = []
    for grain in ("city", "region", "agency"):
        df = metric_values(engine, None, f, grain)  # type: ignore[arg-type]
        key = "agency_code" if grain == "agency" else "region_code"
        frames.append(df.select(pl.lit(grain).alias("grain"), "period", pl.col(key).alias("key"),
                                "metric_id", "numerator", "denominator", "value"))
    buf = io.BytesIO()
    pl.concat(frames).write_parquet(buf, statistics=False)
    return buf.getvalue()


def publish_bulletin(
    engine: Engine,
    month: dt.date,
    scope: Scope,
    formats: Iterable[str] = FORMATS,
    settings: Settings | None = None,
    rules: BulletinRules | None = None,
    created_by: str | None = None,
    audit: AuditHook | None = None,
) -> PublishResult:
    """Build the bulletin and, when it differs from the last version, store it as the next
    version; `audit` writes the publication's audit row in the version's transaction (an
    unchanged bulletin publishes nothing, and the caller records that as a plain row)."""
    settings = settings or Settings()
    month = month_start(month)
    b = build(engine, month, scope, settings, rules)
    last = store.latest_version(engine, month, scope.key)
    if last is not None and last["content_hash"] == b.content_hash:
        return PublishResult(b, last["version"], last["id"], True, last["diff"],
                             store.load_files(engine, last["id"]))
    version = (last["version"] + 1) if last else 1
    rendered = render(b, formats, label=f"第{version}版")
    files = [store.StoredFile(fmt, file_name(b, fmt, version), data)
             for fmt, data in rendered.items()]
    files.append(store.StoredFile(FACTS_FORMAT, file_name(b, "parquet", version),
                                  facts_snapshot(engine, b, scope)))
    diff = diff_bulletins(Bulletin.from_json(last["bulletin"]), b) if last else None
    vid = store.insert_version(
        engine, month, scope.key, version, b.content_hash,
        dt.datetime.fromisoformat(b.provenance["as_of"]), b.to_json(),
        {"settings": b.provenance["settings"], "rules": b.provenance["rules"]}, diff, files,
        created_by, audit=audit,
    )
    return PublishResult(b, version, vid, False, diff, {f.format: f for f in files})


def preview(engine: Engine, month: dt.date, scope: Scope, formats: Iterable[str] = FORMATS,
            settings: Settings | None = None, rules: BulletinRules | None = None,
            ) -> tuple[Bulletin, dict[str, bytes]]:
    """Build and render without storing anything (the files say 未发布预览)."""
    b = build(engine, month, scope, settings, rules)
    return b, render(b, formats, label="未发布预览")
