"""The audit log: who did what, in which scope, with what effect.

One table, `audit_log`. Every login (and failed login), export (every download and CLI file that
lets data out), bulletin preview, settings and calendar change (with before/after, from the app
and the CLI), job run, import, bulletin publication and account change (including an unlock)
writes a row.
Where the act itself is a database write, the row is written on the same connection and in the
same transaction (`record(conn, …)`), so an act is on record exactly when it took effect: an
import or a job run whose audit row cannot be written is rolled back, and an act that rolls
back takes its audit row with it. Store functions that own their transaction (the importer,
`facts_store.replace_months`) take an `AuditHook` built by `hook(...)` and call it on their
connection just before they commit, passing what the act did (row counts) to merge into the
detail. A failed attempt is recorded afterwards, in a transaction of its own (`ok: false`).

The table joins `queries.schema.metadata` when this module is imported; migration
`0005_accounts_audit` creates it with explicit `op.create_table` calls.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from queries.schema import metadata

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(), nullable=False),
    sa.Column("username", sa.String(64), nullable=False, comment="who (or the name tried)"),
    sa.Column("role", sa.String(16), comment="the role at the time"),
    sa.Column("action", sa.String(40), nullable=False,
              comment="login / login_failed / logout / export / preview / settings / calendar / "
                      "job_run / import / publish / account"),
    sa.Column("scope", sa.Text(), comment="the user's data scope (all / region:… / agency:…)"),
    sa.Column("detail", sa.JSON(), comment="what: before/after, row counts, file, filters"),
    comment="audit log of logins, exports, changes, job runs and publications",
)
sa.Index("ix_audit_at", audit_log.c.at)

MAX_TEXT = 2000  # a detail string longer than this is cut (a user value must not bloat the log)


def _clean(value: Any) -> Any:
    """JSON-safe, bounded detail (dates as ISO text, long strings cut)."""
    if isinstance(value, dict):
        return {str(k)[:100]: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in list(value)[:1000]]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_TEXT]


def record(
    target: Engine | Connection,
    username: str,
    action: str,
    *,
    role: str | None = None,
    scope: str | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Write one audit row (on `target`'s transaction when it is a connection)."""
    row = {"at": at or dt.datetime.now(), "username": str(username)[:64],
           "role": role, "action": action[:40], "scope": (scope or "")[:MAX_TEXT] or None,
           "detail": _clean(detail) if detail is not None else None}
    if isinstance(target, Connection):
        target.execute(sa.insert(audit_log).values(**row))
    else:
        with target.begin() as conn:
            conn.execute(sa.insert(audit_log).values(**row))


AuditHook = Callable[[Connection, Mapping[str, Any]], None]
"""Writes the caller's audit row on the store's connection; the mapping is the act's outcome."""


def hook(
    username: str,
    action: str,
    *,
    role: str | None = None,
    scope: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditHook:
    """An audit writer for a store function to call inside its own transaction.

    Why a callback and not a row written by the caller: only the store knows its connection
    and the outcome (rows loaded, facts written) before it commits; the caller knows who acted.
    """
    base = dict(detail or {})

    def write(conn: Connection, outcome: Mapping[str, Any]) -> None:
        record(conn, username, action, role=role, scope=scope, detail={**base, **outcome})

    return write


def record_failure(hook_fn: AuditHook | None, engine: Engine, exc: BaseException,
                   outcome: Mapping[str, Any] | None = None) -> None:
    """Record a failed attempt with `hook_fn` in a transaction of its own (after the rollback).

    Never raises: a failure to record must not hide the error that stopped the act (the caller
    re-raises that one), so it becomes a note on `exc`; the act itself left nothing behind.
    """
    if hook_fn is None:
        return
    orig = getattr(exc, "orig", None)
    error = (str(orig if orig is not None else exc).strip() or type(exc).__name__)
    try:
        with engine.begin() as conn:
            hook_fn(conn, {**(outcome or {}), "ok": False, "error": error.splitlines()[0][:500]})
    except Exception as audit_exc:  # e.g. the database went away; the act's error wins
        exc.add_note(f"(the failed attempt could not be written to the audit log: "
                     f"{type(audit_exc).__name__})")


def entries(
    engine: Engine, limit: int = 500, action: str | None = None, username: str | None = None
) -> pl.DataFrame:
    """The newest audit rows first (detail as JSON text)."""
    a = audit_log
    stmt = sa.select(a.c.id, a.c.at, a.c.username, a.c.role, a.c.action, a.c.scope, a.c.detail)
    if action:
        stmt = stmt.where(a.c.action == action)
    if username:
        stmt = stmt.where(a.c.username == username)
    stmt = stmt.order_by(a.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pl.DataFrame(
        [(r.id, r.at, r.username, r.role, r.action, r.scope,
          json.dumps(r.detail, ensure_ascii=False) if r.detail is not None else None)
         for r in rows],
        schema={"id": pl.Int64(), "at": pl.Datetime("us"), "username": pl.String(),
                "role": pl.String(), "action": pl.String(), "scope": pl.String(),
                "detail": pl.String()},
        orient="row",
    )
