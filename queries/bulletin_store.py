"""Published bulletins: numbered, frozen versions with their files, settings and diff.

Publishing a bulletin stores everything needed to show it again exactly as it was: the frozen
bulletin JSON (every number and sentence), the settings it was built with, the rendered files
as blobs (docx, xlsx, pdf and a Parquet snapshot of the month's metric values), their sha256,
and what changed from the previous version. Later job runs rewrite the fact tables but never
touch these rows, so a published bulletin is byte-identical forever; late data shows up only
when someone publishes again, as a new version with its diff.

The tables join `queries.schema.metadata` when this module is imported; the migration
`0003_bulletins` creates them with explicit `op.create_table` calls (a test checks the two
agree), so `queries.schema` does not need to import this module.
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
