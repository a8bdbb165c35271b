"""数据管理 actions: upload with column mapping, calendar edits, running a job.

Each action calls the layer that owns it (the importer, the calendar store, the metric job)
and then invalidates the dashboard cache, so the pages show the new data at once. Imports and
job runs hand their audit row to that layer (`queries.audit.hook`), which writes it in the
transaction of the act: an import or a job run is on record exactly when it took effect.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from dashboard import data
from dashboard.state import engine
from queries import audit
from queries.contract import TABLES
from xiaoneng.authz import User, require


def read_preview(name: str, payload: bytes, rows: int = 20) -> tuple[list[str], pl.DataFrame]:
    """Headers and the first rows of an uploaded file, read by the importer's own readers.

    Using the importer's readers means the preview sees the same encoding (UTF-8, BOM, GBK),
    delimiter and sheet as the import will.
    """
    from queries.importer.readers import open_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(payload)
        source = open_file(path)
        try:
            headers = list(source.headers)
            batch = next(iter(source.batches(rows)), None)
        finally:
            source.close()
    if batch is None:
        return headers, pl.DataFrame({h: [] for h in headers})
    shown = [h for h in headers if h in batch.columns]
    return headers, batch.head(rows).select(shown).select(pl.all().cast(pl.String))


def guess_table(name: str) -> str | None:
    from queries.importer.mapping import table_for_name

    return table_for_name(Path(name).stem)


def default_mapping(table: str, headers: list[str]) -> dict[str, str | None]:
    """Contract column → the file header that matches its name or Chinese header (or None)."""
    by_key = {h.strip().lower(): h for h in headers}
    out: dict[str, str | None] = {}
    for col in TABLES[table].columns:
        out[col.name] = by_key.get(col.name.lower()) or by_key.get(col.zh.lower())
    return out


def mapping_toml(file_name: str, table: str, columns: Mapping[str, str | None]) -> str:
    """A mapping file (queries.importer.mapping format) for one uploaded file."""
    lines = ["[[sources]]", f"file = {json.dumps(file_name, ensure_ascii=False)}", "",
             "[[sources.tables]]", f"name = {json.dumps(table)}", "",
             "[sources.tables.columns]"]
    for col, header in columns.items():
        if header:
            lines.append(f"{col} = {json.dumps(header, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def import_upload(name: str, payload: bytes, table: str, columns: Mapping[str, str | None],
                  user: User | None = None) -> Any:
    """Import an uploaded file with the chosen mapping; audited in the load's transaction."""
    from queries.importer import import_paths

    require(user, "import_data")
    assert user is not None
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    detail: dict[str, Any] = {"file": Path(name).name, "table": table, "bytes": len(payload),
                              "via": "dashboard"}
    hook = audit.hook(user.username, "import", role=user.role, scope=user.scope_label,
                      detail=detail)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(payload)
        mapping = Path(tmp) / "mapping.toml"
        mapping.write_text(mapping_toml(path.name, table, columns), encoding="utf-8")
        try:
            return import_paths(engine(), [path], mapping=mapping, progress=False, audit=hook)
        finally:
            data.invalidate()


def report_frame(report: Any) -> pl.DataFrame:
    rows = [{"table": t, **c.to_dict()} for t, c in report.tables.items()]
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def _calendar_hook(user: User, detail: dict[str, Any]) -> audit.AuditHook:
    return audit.hook(user.username, "calendar", role=user.role, scope=user.scope_label,
                      detail={"via": "dashboard", **detail})


def save_calendar(edited: pl.DataFrame, original: pl.DataFrame, user: User | None = None
                  ) -> int:
    """Write the days whose workday flag or name changed (source: the dashboard edit).

    Audited with each changed day's before and after, in the transaction of the write.
    """
    from queries.calendar import upsert_days

    require(user, "edit_calendar")
    assert user is not None
    joined = edited.join(original, on="date", suffix="_old")
    changed = joined.filter(
        (pl.col("is_workday") != pl.col("is_workday_old"))
        | (pl.col("name").fill_null("") != pl.col("name_old").fill_null(""))
    ).select("date", "is_workday", "name",
             pl.lit(f"edited in the dashboard {dt.date.today():%Y-%m-%d}").alias("source"))
    n = (upsert_days(engine(), changed, audit=_calendar_hook(user, {"op": "edit"}))
         if changed.height else 0)
    data.invalidate()
    return n


def import_calendar(name: str, payload: bytes, user: User | None = None) -> int:
    """Import a notice's days (CSV/XLSX); audited in the write's transaction (a refused file
    is recorded too, `ok: false`)."""
    from queries.calendar import import_calendar_file

    require(user, "edit_calendar")
    assert user is not None
    hook = _calendar_hook(user, {"op": "import", "file": Path(name).name})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(payload)
        try:
            n = import_calendar_file(engine(), path, audit=hook)
        except Exception as exc:
            audit.record_failure(hook, engine(), exc)
            raise
    data.invalidate()
    return n


def save_settings(changes: Mapping[str, Any], user: User | None = None) -> dict:
    """Store changed thresholds (validated; audited before/after in the same transaction)."""
    from queries.settings_store import save

    require(user, "edit_settings")
    assert user is not None
    try:
        return save(engine(), changes, user.username, user.role)
    finally:
        data.invalidate()


def run_job(months: list[dt.date] | None, as_of: dt.datetime, user: User | None = None) -> Any:
    """Run the metric job (the whole history when `months` is None), audited, invalidate.

    The audit row is written in the transaction that replaces the facts (see
    `xiaoneng.cli_compute.run_compute_audited`, shared with `xiaoneng compute`).
    """
    from xiaoneng.cli_compute import run_compute_audited

    require(user, "run_job")
    assert user is not None
    try:
        return run_compute_audited(engine(), months, as_of=as_of,
                                   settings=data.settings_in_force(), username=user.username,
                                   role=user.role, scope=user.scope_label,
                                   detail={"via": "dashboard"})
    finally:
        data.invalidate()


ACCOUNT_HEADS = {"username": "用户名", "role": "角色", "disabled": "已停用", "demo": "演示账号",
                 "regions": "区划代码", "agencies": "部门代码", "email": "统一身份邮箱",
                 "last_login_at": "最近登录", "failed_logins": "连续登录失败",
                 "locked_until": "暂停登录至"}


def accounts_panel(user: User | None, lang: str) -> None:
    """Admin: the account list, create an account, disable / enable and unlock one (audited)."""
    import streamlit as st

    from queries import accounts_store
    from xiaoneng.authz import ROLE_LABELS, ROLES

    require(user, "manage_accounts")
    assert user is not None
    zh = lang == "zh"
    by = {"by": user.username, "by_role": user.role}
    now = dt.datetime.now()
    rows = accounts_store.list_accounts(engine())
    heads = ACCOUNT_HEADS if zh else {k: k for k in ACCOUNT_HEADS}
    table = pl.DataFrame(
        [{"username": a.username, "role": ROLE_LABELS[a.role][0 if zh else 1],
          "disabled": a.disabled, "demo": a.demo,
          "regions": ",".join(a.regions), "agencies": ",".join(a.agencies),
          "email": a.email, "last_login_at": a.last_login_at, "failed_logins": a.failed_logins,
          "locked_until": a.locked_until if a.locked_until and a.locked_until > now else None}
         for a in rows]) if rows else pl.DataFrame({k: [] for k in ACCOUNT_HEADS})
    st.dataframe(table.rename(heads), hide_index=True, width="stretch")
    if any(a.demo and not a.disabled for a in rows):
        st.warning("存在使用公开演示密码的演示账号；它们只能在演示模式下登录，正式环境请停用。"
                   if zh else "Demo accounts with the published password exist; they sign in "
                   "only in demo mode. Disable them on a real server.")
    with st.form("account_create", clear_on_submit=True):
        c1, c2, c3 = st.columns(3)
        username = c1.text_input("用户名" if zh else "Username", max_chars=64)
        role = c2.selectbox("角色" if zh else "Role", ROLES,
                            format_func=lambda r: ROLE_LABELS[r][0 if zh else 1])
        password = c3.text_input("初始密码" if zh else "Initial password", type="password",
                                 max_chars=1024)
        regions = c1.text_input("区划代码（单位用户、县区督查）" if zh
                                else "Region codes (unit users, county supervisors)",
                                max_chars=2000)
        agencies = c2.text_input("部门代码（单位用户）" if zh else "Agency codes (unit users)",
                                 max_chars=2000)
        email = c3.text_input("统一身份邮箱（可选）" if zh else "SSO email (optional)",
                              max_chars=200)
        if st.form_submit_button("创建" if zh else "Create"):
            try:
                accounts_store.create_account(
                    engine(), username.strip(), role, password or None,
                    regions=[c.strip() for c in regions.split(",") if c.strip()],
                    agencies=[c.strip() for c in agencies.split(",") if c.strip()],
                    email=email.strip() or None, **by)
                st.success(username)
            except Exception as exc:
                st.error(str(exc))
    names = [a.username for a in rows if a.username != user.username]
    if names:
        c1, c2, c3 = st.columns([3, 1, 1])
        who = c1.selectbox("账号" if zh else "Account", names, key="acc_pick")
        target = next(a for a in rows if a.username == who)
        label = ("启用" if zh else "Enable") if target.disabled else ("停用" if zh else "Disable")
        if c2.button(label, key="acc_toggle"):
            accounts_store.set_disabled(engine(), who, not target.disabled, **by)
            st.rerun()
        if c3.button("解锁" if zh else "Unlock", key="acc_unlock",
                     disabled=not target.failed_logins and not target.locked_until,
                     help="清除登录失败计数与退避锁定（记入审计日志）" if zh
                     else "Clear failed sign-ins and the back-off block (audited)"):
            accounts_store.unlock(engine(), who, **by)
            st.rerun()
