"""The command line: imports and job runs audited as the OS user (or --actor), `compute` measures
with the settings stored in the database, `export --as-user` is scoped, gated and audited."""

from __future__ import annotations

import json

import polars as pl
import pytest
import sqlalchemy as sa

from tests.security.conftest import COUNTY_A, COUNTY_B
from xiaoneng.cli import main

PW = "correct horse battery"


def _audit(engine, action: str) -> list[dict]:
    from queries import audit

    rows = audit.entries(engine, action=action).reverse()  # oldest first
    return [{**r, "detail": json.loads(r["detail"]) if r["detail"] else None}
            for r in rows.iter_rows(named=True)]


def _subtree_agencies(engine, root: str) -> set[str]:
    from queries import extracts
    from xiaoneng.authz import subtree

    codes = subtree(extracts.load_regions(engine).select("region_code", "parent_code")
                    .iter_rows(), [root])
    agencies = extracts.load_agencies(engine)
    return set(agencies.filter(pl.col("region_code").is_in(list(codes)))["agency_code"])


# --- import --------------------------------------------------------------------------------


def test_cli_import_is_audited_as_the_os_user_with_its_load(sqlite_url, sqlite_engine, tmp_path,
                                                            monkeypatch, capsys) -> None:
    import getpass

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setattr(getpass, "getuser", lambda: "alice")
    out = tmp_path / "city"
    assert main(["generate", "--cases", "300", "--from", "2025-01", "--to", "2025-02",
                 "--out", str(out), "--quiet"]) == 0
    assert main(["import", str(out), "--quiet"]) == 0, capsys.readouterr().err
    (row,) = _audit(sqlite_engine, "import")
    assert row["username"] == "os:alice" and row["role"] == "operator"
    d = row["detail"]
    assert d["ok"] is True and d["via"] == "cli" and d["paths"] == [str(out)]
    with sqlite_engine.connect() as conn:
        load_id, report = conn.execute(sa.text(
            "SELECT load_id, report FROM load_runs WHERE status = 'ok'")).one()
    report = json.loads(report) if isinstance(report, str) else report
    assert d["load_id"] == load_id and d["read"] == report["totals"]["read"] > 300


def test_cli_import_names_the_actor_and_records_a_refused_file(sqlite_url, sqlite_engine,
                                                               tmp_path, monkeypatch) -> None:
    from queries import accounts_store

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    accounts_store.create_account(sqlite_engine, "ops-bob", "supervisor", PW)
    bad = tmp_path / "cases.csv"
    bad.write_text("nothing,useful\n1,2\n", encoding="utf-8")
    assert main(["import", str(bad), "--actor", "ops-bob", "--quiet"]) == 2
    (row,) = _audit(sqlite_engine, "import")
    assert row["username"] == "ops-bob" and row["role"] == "supervisor"
    assert row["detail"]["ok"] is False and row["detail"]["error"]
    assert row["detail"]["os_user"].startswith("os:")


@pytest.mark.parametrize("actor, reason", [
    ("nobody", "unknown account"),
    ("an-alyst", "role analyst may not import data"),
])
def test_cli_import_actor_must_be_an_account_allowed_to_import(sqlite_url, sqlite_engine,
                                                               tmp_path, monkeypatch, capsys,
                                                               actor, reason) -> None:
    from queries import accounts_store

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    accounts_store.create_account(sqlite_engine, "an-alyst", "analyst", PW)
    out = tmp_path / "city"
    assert main(["generate", "--cases", "200", "--from", "2025-01", "--to", "2025-01",
                 "--out", str(out), "--quiet"]) == 0
    assert main(["import", str(out), "--actor", actor, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"--actor {actor}: {reason}" in err and err.count("\n") == 1
    (row,) = _audit(sqlite_engine, "import")
    assert row["username"] == actor and row["detail"]["ok"] is False
    assert row["detail"]["reason"] == reason
    with sqlite_engine.connect() as conn:  # nothing was loaded
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar_one() == 0


# --- compute -------------------------------------------------------------------------------


def _warnings_eom(engine, month: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT coalesce(sum(warnings_eom), 0) FROM case_facts WHERE month = :m"),
            {"m": f"{month}-01"}).scalar_one())


def _last_run_settings(engine) -> tuple[dict, str]:
    with engine.connect() as conn:
        settings, digest = conn.execute(sa.text(
            "SELECT settings, settings_hash FROM job_runs WHERE status = 'ok' "
            "ORDER BY finished_at DESC LIMIT 1")).one()
    return (json.loads(settings) if isinstance(settings, str) else settings), digest


def test_cli_compute_uses_the_thresholds_stored_in_the_database(demo_copy, capsys) -> None:
    from queries import accounts_store, settings_store

    accounts_store.create_account(demo_copy, "cron", "supervisor", PW)
    argv = ["compute", "--month", "2025-05", "--as-of", "2025-06-30T18:00", "--actor", "cron"]
    assert main(argv) == 0, capsys.readouterr().err
    default_warnings = _warnings_eom(demo_copy, "2025-05")
    assert _last_run_settings(demo_copy)[0]["warn_days"] == 1
    # the supervision office widens the warning window on the 数据管理 page
    settings_store.save(demo_copy, {"warn_days": 5}, "t-supervisor", "supervisor")
    assert main(argv) == 0, capsys.readouterr().err
    used, digest = _last_run_settings(demo_copy)
    assert used["warn_days"] == 5
    assert _warnings_eom(demo_copy, "2025-05") > default_warnings
    runs = _audit(demo_copy, "job_run")
    assert [(r["username"], r["role"]) for r in runs] == [("cron", "supervisor")] * 2
    assert runs[-1]["detail"]["ok"] is True and runs[-1]["detail"]["settings_digest"] == digest
    assert runs[-1]["detail"]["months"] == ["2025-05"]
    assert runs[-1]["detail"]["written"]["case_facts"] > 0


# --- export --------------------------------------------------------------------------------


def _accounts(engine) -> None:
    from queries import accounts_store

    accounts_store.create_account(engine, "jh-unit", "unit", PW, regions=[COUNTY_A])
    accounts_store.create_account(engine, "an-alyst", "analyst", PW)
    accounts_store.create_account(engine, "le-ader", "leader", PW)
    accounts_store.create_account(engine, "gone", "unit", PW, regions=[COUNTY_A])
    accounts_store.set_disabled(engine, "gone")


def _export(tmp_path, name: str, *extra: str) -> tuple[int, object]:
    out = tmp_path / f"{name}.csv"
    rc = main(["export", "--grain", "agency", "--from", "2025-01", "--to", "2025-06",
               "--metrics", "accepted,on_time_rate", "--out", str(out), *extra])
    return rc, out


def test_unit_user_export_holds_only_their_subtree_and_is_audited(demo_copy, tmp_path,
                                                                  capsys, monkeypatch) -> None:
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: "ops-alice")
    _accounts(demo_copy)
    own, other = _subtree_agencies(demo_copy, COUNTY_A), _subtree_agencies(demo_copy, COUNTY_B)
    assert own and other
    rc, out = _export(tmp_path, "unit", "--as-user", "jh-unit")
    assert rc == 0, capsys.readouterr().err
    df = pl.read_csv(out, infer_schema=False)
    assert df.height > 0
    assert set(df["agency_code"]) <= own and not set(df["agency_code"]) & other
    # the same export unscoped (local operator) does reach the other county: the filter did it
    rc, full = _export(tmp_path, "all")
    assert rc == 0
    assert set(pl.read_csv(full, infer_schema=False)["agency_code"]) & other
    unit_row, op_row = _audit(demo_copy, "export")
    assert unit_row["username"] == "jh-unit" and unit_row["role"] == "unit"
    assert unit_row["scope"] == f"region:{COUNTY_A}"
    assert unit_row["detail"]["rows"] == df.height and unit_row["detail"]["ok"] is True
    assert unit_row["detail"]["what"] == "metrics:agency"
    assert op_row["username"] == "os:ops-alice" and op_row["role"] == "operator"
    assert op_row["scope"] == "all" and op_row["detail"]["scoped_to"] is None


def test_analyst_export_is_whole_city(demo_copy, tmp_path, capsys) -> None:
    _accounts(demo_copy)
    rc, out = _export(tmp_path, "an", "--as-user", "an-alyst")
    assert rc == 0, capsys.readouterr().err
    codes = set(pl.read_csv(out, infer_schema=False)["agency_code"])
    assert codes & _subtree_agencies(demo_copy, COUNTY_A)
    assert codes & _subtree_agencies(demo_copy, COUNTY_B)


@pytest.mark.parametrize("username, reason", [
    ("le-ader", "role leader may not export"),
    ("gone", "account disabled"),
    ("nobody", "unknown account"),
])
def test_export_as_an_account_without_export_rights_is_refused_and_audited(
        demo_copy, tmp_path, capsys, username, reason) -> None:
    _accounts(demo_copy)
    rc, out = _export(tmp_path, username, "--as-user", username)
    err = capsys.readouterr().err
    assert rc == 2 and reason in err and err.count("\n") == 1
    assert not out.exists()
    (row,) = _audit(demo_copy, "export")
    assert row["username"] == username and row["detail"] == {
        "via": "cli", "ok": False, "reason": reason, "os_user": row["detail"]["os_user"]}


def test_export_that_cannot_be_audited_leaves_no_file(demo_copy, tmp_path, monkeypatch,
                                                      capsys) -> None:
    from queries import audit

    _accounts(demo_copy)

    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))

    monkeypatch.setattr(audit, "record", broken)
    rc, out = _export(tmp_path, "unrecorded", "--as-user", "jh-unit")
    assert rc == 2 and "not recorded in the audit log" in capsys.readouterr().err
    assert not out.exists()
