"""Published bulletins: numbered, frozen versions with their files, settings and diff.

Publishing a bulletin stores everything needed to show it again exactly as it was: the frozen
bulletin JSON (every number and sentence), the settings it was built with, the rendered files
as blobs (docx, xlsx, pdf and a Parquet snapshot of the month's metric values), their sha256,
and what changed from the previous version. Later job runs rewrite the fact tables but never
touch these rows, so a published bulletin is byte-identical forever; late data shows up only
when someone publishes again, as a new version with its diff.

Every version stores every format (docx, xlsx, pdf and the facts), whatever the request that
published it asked for, so a later request for any format of a frozen version returns the
stored bytes. A version stored before that rule may lack a format: `backfill_file` adds the
file rendered from the version's own frozen JSON, once, audited.

A quarterly or annual 考核 bulletin is stored under its scope key with the period appended
(`city:331200#quarter`), its month being the period's last month.

Each office's own texts (发文机关, 文号 pattern, 主送, 依据, 工作要求, 抄送, 印发,
`metrics.bulletin.office`) are kept in `bulletin_office_texts`, one row per scope and text,
edited on the 月度通报 page (audited before/after like the settings).

The tables join `queries.schema.metadata` when this module is imported; the migrations
`0003_bulletins` and `0011_bulletin_office_texts` create them with explicit `op.create_table`
calls (a test checks the two agree), so `queries.schema` does not need to import this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries.audit import AuditHook
from queries.errors import XiaonengError
from queries.schema import metadata

bulletin_versions = sa.Table(
    "bulletin_versions", metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("month", sa.Date(), nullable=False, comment="first day of the bulletin's month"),
    sa.Column("scope_key", sa.String(200), nullable=False,
              comment="city:<code> / county:<code> / sector:<code>:<sector>"),
    sa.Column("version", sa.Integer(), nullable=False, comment="1, 2, … per month and scope"),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("created_by", sa.String(64)),
    sa.Column("content_hash", sa.String(64), nullable=False,
              comment="sha256 of the bulletin's canonical JSON"),
    sa.Column("as_of", sa.DateTime(), comment="data as-of time of the facts used"),
    sa.Column("bulletin", sa.Text(), nullable=False, comment="frozen bulletin, canonical JSON"),
    sa.Column("settings", sa.JSON(), nullable=False, comment="settings and ranking rules used"),
    sa.Column("diff", sa.JSON(), comment="changes from the previous version (null for v1)"),
    sa.UniqueConstraint("month", "scope_key", "version", name="uq_bulletin_version"),
    comment="published monthly bulletins (月度通报), one row per version",
)
bulletin_files = sa.Table(
    "bulletin_files", metadata,
    sa.Column("version_id", sa.Integer(), sa.ForeignKey("bulletin_versions.id"),
              primary_key=True),
    sa.Column("format", sa.String(16), primary_key=True, comment="docx / xlsx / pdf / facts"),
    sa.Column("filename", sa.Text(), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    comment="the files of a published bulletin version, byte for byte",
)


bulletin_office_texts = sa.Table(
    "bulletin_office_texts", metadata,
    sa.Column("scope_key", sa.String(200), primary_key=True,
              comment="the office: city:<code> / county:<code> / sector:<code>:<sector>"),
    sa.Column("key", sa.String(40), primary_key=True,
              comment="issuer / doc_number / recipients / basis / requirements / cc / …"),
    sa.Column("value", sa.JSON(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.Column("updated_by", sa.String(64)),
    comment="each office's own texts of its bulletins (版头, 主送, 依据, 工作要求, 版记)",
)


def store_key(scope_key: str, period: str = "month") -> str:
    """The key versions are stored under: the scope's, with a non-monthly period appended."""
    return scope_key if period == "month" else f"{scope_key}#{period}"


@dataclass(frozen=True)
class StoredFile:
    format: str
    filename: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _check_ready(engine: Engine) -> None:
    if not sa.inspect(engine).has_table("bulletin_versions"):
        raise XiaonengError("the database has no bulletin tables yet: run `xiaoneng init-db`")


def latest_version(engine: Engine, month: dt.date, scope_key: str) -> dict[str, Any] | None:
    """The newest version's row (without files) for a month and scope, or None."""
    _check_ready(engine)
    v = bulletin_versions
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(v).where(v.c.month == month, v.c.scope_key == scope_key)
            .order_by(v.c.version.desc()).limit(1)
        ).mappings().first()
    return dict(row) if row else None


def get_version(engine: Engine, month: dt.date, scope_key: str,
                version: int | None = None) -> dict[str, Any] | None:
    """One version's row (the newest when `version` is None)."""
    if version is None:
        return latest_version(engine, month, scope_key)
    _check_ready(engine)
    v = bulletin_versions
    with engine.connect() as conn:
        row = conn.execute(sa.select(v).where(
            v.c.month == month, v.c.scope_key == scope_key, v.c.version == version
        )).mappings().first()
    return dict(row) if row else None


def list_versions(engine: Engine, month: dt.date | None = None,
                  scope_key: str | None = None) -> list[dict[str, Any]]:
    """Version history without the bulletin JSON or files, newest first."""
    _check_ready(engine)
    v = bulletin_versions
    stmt = sa.select(v.c.id, v.c.month, v.c.scope_key, v.c.version, v.c.created_at,
                     v.c.created_by, v.c.content_hash, v.c.as_of, v.c.diff)
    if month is not None:
        stmt = stmt.where(v.c.month == month)
    if scope_key is not None:
        stmt = stmt.where(v.c.scope_key == scope_key)
    stmt = stmt.order_by(v.c.month.desc(), v.c.scope_key, v.c.version.desc())
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def load_files(engine: Engine, version_id: int) -> dict[str, StoredFile]:
    f = bulletin_files
    with engine.connect() as conn:
        rows = conn.execute(sa.select(f.c.format, f.c.filename, f.c.data)
                            .where(f.c.version_id == version_id)).all()
    return {fmt: StoredFile(fmt, name, bytes(data)) for fmt, name, data in rows}


def insert_version(
    engine: Engine,
    month: dt.date,
    scope_key: str,
    version: int,
    content_hash: str,
    as_of: dt.datetime | None,
    bulletin_json: str,
    settings: dict[str, Any],
    diff: dict[str, Any] | None,
    files: list[StoredFile],
    created_by: str | None = None,
    audit: AuditHook | None = None,
) -> int:
    """Store a version and its files in one transaction; returns its id.

    `audit` writes the publication's audit row in that transaction, so a version is published
    exactly when its record is.

    The (month, scope, version) unique constraint turns a concurrent publish of the same
    number into a clear error instead of two "version 3"s.
    """
    _check_ready(engine)
    try:
        with engine.begin() as conn:
            vid = conn.execute(bulletin_versions.insert().values(
                month=month, scope_key=scope_key, version=version,
                created_at=dt.datetime.now().replace(microsecond=0), created_by=created_by,
                content_hash=content_hash, as_of=as_of, bulletin=bulletin_json,
                settings=settings, diff=diff,
            ).returning(bulletin_versions.c.id)).scalar_one()
            if files:
                conn.execute(bulletin_files.insert(), [
                    {"version_id": vid, "format": f.format, "filename": f.filename,
                     "data": f.data, "sha256": f.sha256} for f in files
                ])
            if audit is not None:
                audit(conn, {"ok": True, "version": version, "version_id": int(vid),
                             "content_hash": content_hash})
    except sa.exc.IntegrityError as exc:
        raise XiaonengError(
            f"version {version} of the {month:%Y-%m} bulletin ({scope_key}) was published by "
            "someone else at the same time; publish again"
        ) from exc
    return int(vid)


def backfill_file(engine: Engine, version_id: int, file: StoredFile,
                  audit: AuditHook | None = None) -> StoredFile:
    """Add a format a version stored before every format was kept (rendered from the
    version's frozen JSON by the caller); an existing file is never replaced — it is returned
    instead, so two concurrent requests end with the same bytes."""
    f = bulletin_files
    try:
        with engine.begin() as conn:
            conn.execute(f.insert().values(version_id=version_id, format=file.format,
                                           filename=file.filename, data=file.data,
                                           sha256=file.sha256))
            if audit is not None:
                audit(conn, {"ok": True, "version_id": version_id, "format": file.format,
                             "backfilled": True})
    except sa.exc.IntegrityError:
        pass
    return load_files(engine, version_id)[file.format]


def issued_bulletins(engine: Engine, scope_key: str, year: int) -> list[dict[str, Any]]:
    """Latest version (key, month, version, bulletin JSON) of every bulletin of the office of
    `scope_key` (monthly, quarterly, annual) whose month is in `year`: what the office's 文号
    numbering of that year has used."""
    _check_ready(engine)
    v = bulletin_versions
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(v.c.scope_key, v.c.month, v.c.version, v.c.bulletin, v.c.created_at)
            .where(sa.or_(v.c.scope_key == scope_key, v.c.scope_key.like(f"{scope_key}#%")),
                   v.c.month >= dt.date(year, 1, 1), v.c.month <= dt.date(year, 12, 1))
            .order_by(v.c.scope_key, v.c.month, v.c.version)).mappings().all()
    latest: dict[tuple[str, dt.date], dict[str, Any]] = {}
    for r in rows:
        latest[(r["scope_key"], r["month"])] = dict(r)
    return [latest[k] for k in sorted(latest)]


def office_texts(engine: Engine, scope_key: str) -> dict[str, Any]:
    """The office's stored texts ({} when it has kept the defaults)."""
    if not sa.inspect(engine).has_table("bulletin_office_texts"):
        return {}
    t = bulletin_office_texts
    with engine.connect() as conn:
        return {r.key: r.value for r in conn.execute(
            sa.select(t.c.key, t.c.value).where(t.c.scope_key == scope_key)).all()}


def save_office_texts(engine: Engine, scope_key: str, changes: dict[str, Any], username: str,
                      role: str | None = None, validate=None) -> dict[str, tuple[Any, Any]]:
    """Store changed texts (None resets one to its default); returns {key: (before, after)}.
    `validate(merged)` raises on an invalid value before anything is written; the audit row
    (before/after) is written in the same transaction."""
    current = office_texts(engine, scope_key)
    merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
    if validate is not None:
        validate(merged)
    diff = {k: (current.get(k), merged.get(k)) for k in changes
            if current.get(k) != merged.get(k)}
    if not diff:
        return {}
    t = bulletin_office_texts
    now = dt.datetime.now().replace(microsecond=0)
    with engine.begin() as conn:
        for key, (_, new) in diff.items():
            conn.execute(sa.delete(t).where(t.c.scope_key == scope_key, t.c.key == key))
            if new is not None:
                conn.execute(sa.insert(t).values(scope_key=scope_key, key=key, value=new,
                                                 updated_at=now, updated_by=username[:64]))
        from queries import audit

        audit.record(conn, username, "bulletin_texts", role=role, scope=scope_key,
                     detail={"before": {k: b for k, (b, _) in diff.items()},
                             "after": {k: a for k, (_, a) in diff.items()}})
    return diff
