"""Export writer and `xiaoneng export`: the file holds exactly what metric_values returns."""

from __future__ import annotations

import polars as pl
import pytest

from metrics.export import export_columns, export_metrics
from metrics.query import Filters, metric_values
from tests.metrics.test_query import FEB, MAR, seeded  # noqa: F401 - fixture
from xiaoneng.cli import main

METRICS = ["accepted", "online_rate", "on_time_rate", "median_used_days", "review_score"]


def _expected(engine, grain: str) -> pl.DataFrame:
    # the seeded facts have no job run: the provenance columns are there, empty
    return metric_values(engine, METRICS, Filters(FEB, MAR), grain).select(
        export_columns(grain)).with_columns(
        pl.lit(None, dtype=pl.String).alias("as_of"),
        pl.lit(None, dtype=pl.String).alias("data_cutoff"))


def _read(path, fmt: str) -> pl.DataFrame:
    if fmt == "csv":
        return pl.read_csv(path, encoding="utf8-lossy", infer_schema_length=None,
                           schema_overrides={"period": pl.String})
    if fmt == "parquet":
        return pl.read_parquet(path)
    return pl.read_excel(path, sheet_name="metrics")


def _assert_same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert got.columns == want.columns
    assert got.height == want.height > 0
    for col in want.columns:
        if want[col].dtype == pl.Float64:
            g = got[col].cast(pl.Float64).to_list()
            w = want[col].to_list()
            assert [x is None for x in g] == [x is None for x in w], col
            assert [x for x in g if x is not None] == pytest.approx(
                [x for x in w if x is not None]), col
        else:  # a spreadsheet cannot tell '' (review not tied to an item) from a blank
            assert got[col].cast(pl.String).fill_null("").to_list() == \
                want[col].fill_null("").to_list(), col


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
@pytest.mark.parametrize("grain", ["city", "region", "agency", "item", "channel"])
def test_export_file_equals_metric_values(seeded, tmp_path, fmt, grain):  # noqa: F811
    path = export_metrics(seeded, grain, FEB, MAR, METRICS, fmt, tmp_path / f"out.{fmt}")
    _assert_same(_read(path, fmt), _expected(seeded, grain))


def test_export_columns_follow_the_grain():
    assert export_columns("agency") == [
        "period", "region_code", "agency_code", "metric_id", "numerator", "denominator", "value"
    ]
    assert export_columns("channel")[:2] == ["period", "channel"]


def test_xlsx_numbers_are_numeric_cells(seeded, tmp_path):  # noqa: F811
    import openpyxl

    path = export_metrics(seeded, "city", FEB, MAR, ["online_rate"], "xlsx", tmp_path / "o.xlsx")
    ws = openpyxl.load_workbook(path)["metrics"]
    header = [c.value for c in ws[1]]
    row = {h: c for h, c in zip(header, ws[2], strict=True)}
    assert row["metric_id"].value == "online_rate"
    assert isinstance(row["value"].value, float) and row["value"].data_type == "n"
    assert isinstance(row["denominator"].value, int | float)
    march = {h: c.value for h, c in zip(header, ws[3], strict=True)}
    assert march["period"] == "2024-03" and march["value"] == pytest.approx(16 / 22)


def test_cli_choices_match_the_export_module():
    from metrics import export
    from xiaoneng import cli_metrics

    assert cli_metrics.EXPORT_GRAINS == export.EXPORT_GRAINS
    assert cli_metrics.FORMATS == export.FORMATS
    from queries.contract import REGION_LEVELS

    assert cli_metrics.REGION_LEVELS == REGION_LEVELS


def test_cli_export_writes_csv(seeded, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("DATABASE_URL", seeded.url.render_as_string(hide_password=False))
    out = tmp_path / "e.csv"
    rc = main(["export", "--grain", "region", "--from", "2024-02", "--to", "2024-03",
               "--metrics", "accepted,online_rate", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    got = _read(out, "csv")
    want = metric_values(seeded, ["accepted", "online_rate"], Filters(FEB, MAR), "region")
    _assert_same(got.select(export_columns("region")), want.select(export_columns("region")))
    assert got.columns[-2:] == ["as_of", "data_cutoff"]


@pytest.mark.parametrize("argv, message", [
    (["--from", "2024-13", "--to", "2024-03"], "--from expects a month as YYYY-MM"),
    (["--from", "2024/01", "--to", "2024-03"], "--from expects a month as YYYY-MM"),
    (["--from", "2024-03", "--to", "2024-01"], "is after"),
    (["--from", "2024-01", "--to", "2024-03", "--metrics", "accepted,nope"],
     "unknown metric id(s) nope; valid ids: accepted, completed"),
])
def test_cli_export_user_errors_are_one_line(sqlite_url, sqlite_engine, monkeypatch, capsys,
                                             tmp_path, argv, message):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    rc = main(["export", "--out", str(tmp_path / "x.csv"), *argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
