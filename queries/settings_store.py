"""Settings overrides kept in the database (`settings` table), written by the supervision office.

`overrides(engine)` returns {setting: value} to pass to `metrics.settings.load_settings`;
`in_force(engine)` is that merge (defaults ← settings file ← these overrides), the settings every
job run uses, whether started from the dashboard or from `xiaoneng compute`;
`save(engine, changes, user)` validates the result first (an invalid value is refused with the
message naming the setting), then writes the rows and the audit entry (before/after) in one
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries import audit, schema

if TYPE_CHECKING:
    from metrics.settings import Settings

# the thresholds the dashboard lets the supervision office change (others: settings file)
EDITABLE: tuple[str, ...] = ("warn_days", "warn_share", "red_grace_days", "rectify_days",
                             "callback_days", "min_n_rank", "top_n")
# whole tables the dashboard edits (validated and audited like the thresholds)
EDITABLE_TABLES: tuple[str, ...] = ("scoring",)


def overrides(engine: Engine) -> dict[str, Any]:
    if not sa.inspect(engine).has_table("settings"):
        return {}
    t = schema.settings
    with engine.connect() as conn:
        return {r.key: r.value for r in conn.execute(sa.select(t.c.key, t.c.value)).all()}


def in_force(engine: Engine, path: Path | None = None) -> Settings:
    """The settings in force: defaults ← settings file ← the overrides stored in the database.

    Why here and not only in the dashboard: a job started by cron (`xiaoneng compute`) must
    measure with the thresholds the supervision office set on the 数据管理 page, exactly as
    a job started from that page does.
    """
    from metrics.settings import load_settings

    return load_settings(path, overrides=overrides(engine))


def save(engine: Engine, changes: Mapping[str, Any], username: str, role: str | None = None
         ) -> dict[str, tuple[Any, Any]]:
    """Store changed settings; returns {key: (before, after)} (empty when nothing changed)."""
    from metrics.settings import load_settings

    unknown = sorted(set(changes) - set(EDITABLE) - set(EDITABLE_TABLES))
    if unknown:
        from queries.errors import XiaonengError

        raise XiaonengError(f"these settings cannot be changed here: {unknown}")
    current = overrides(engine)
    before = load_settings(overrides=current).as_dict()
    merged = {**current, **dict(changes)}
    after = load_settings(overrides=merged).as_dict()  # raises on an invalid value
    diff = {k: (before[k], after[k]) for k in changes if before[k] != after[k]}
    if not diff:
        return {}
    t = schema.settings
    now = dt.datetime.now()
    with engine.begin() as conn:
        for key, (_, new) in diff.items():
            conn.execute(sa.delete(t).where(t.c.key == key))
            conn.execute(sa.insert(t).values(key=key, value=new, updated_at=now,
                                             updated_by=username[:64]))
        audit.record(conn, username, "settings", role=role, scope="all",
                     detail={"before": {k: b for k, (b, _) in diff.items()},
                             "after": {k: a for k, (_, a) in diff.items()}})
    return diff
