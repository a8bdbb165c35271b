"""SQL metacharacters and oversized values in filters, URL parameters, import headers, login."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tests.security.conftest import USERS, app_as

MONTH = dt.date(2025, 6, 1)
NASTY = ["x' OR '1'='1", "'; DROP TABLE cases; --", '" OR ""="', "%", "_", "\\", "\x00",
         "1) UNION SELECT password_hash FROM accounts --", "区划'--", "A" * 100_000]


def _counts(url: str) -> dict[str, int]:
    from queries.engine import make_engine

    eng = make_engine(url)
    with eng.connect() as conn:
        out = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
               for t in ("cases", "agencies", "accounts", "case_facts", "audit_log")}
    eng.dispose()
    return out


def test_metacharacters_in_every_filter_are_plain_values(demo_copy_url) -> None:
    from metrics.query import case_list, metric_values
    from queries import views
    from queries.engine import make_engine
    from queries.errors import XiaonengError
    from queries.extracts import Filters

    before = _counts(demo_copy_url)
    eng = make_engine(demo_copy_url)
    for v in NASTY:
        for f in (Filters(MONTH, MONTH, region_code=v), Filters(MONTH, MONTH, sectors=(v,)),
                  Filters(MONTH, MONTH, agency_codes=(v,)),
                  Filters(MONTH, MONTH, item_types=(v,)), Filters(MONTH, MONTH, item_codes=(v,)),
                  Filters(MONTH, MONTH, channels=(v,)),
                  Filters(MONTH, MONTH, allowed_agencies=(v,))):
            try:
                vals = metric_values(eng, ["accepted"], f)
            except XiaonengError:
                continue
            assert vals["numerator"].fill_null(0).sum() == 0
            assert case_list(eng, "accepted", f, MONTH)[1] == 0
            codes = [f.region_code] if f.region_code else None
            assert views.warnings_list(eng, f, codes)[1] == 0
        assert views.case_detail(eng, v) is None
        assert views.quarantine_rows(eng, v, v)[1] == 0
    eng.dispose()
    assert _counts(demo_copy_url) == before


def test_metacharacters_and_huge_values_in_url_parameters(demo_copy_url) -> None:
    before = _counts(demo_copy_url)
    for v in NASTY[:4] + [NASTY[-1]]:
        at = app_as(USERS["unit_a"], {"from": v, "to": v, "region": v, "sector": [v],
                                      "agency": [v], "type": [v], "channel": [v], "lang": v})
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.multiselect(key="_f_agency").value == []
        assert at.selectbox(key="_f_region").value in ("", None)
    after = _counts(demo_copy_url)
    assert {k: v for k, v in after.items() if k != "audit_log"} == \
        {k: v for k, v in before.items() if k != "audit_log"}


def test_metacharacters_and_oversized_import_headers_load_nothing_harmful(demo_copy_url,
                                                                          tmp_path) -> None:
    from queries.engine import make_engine
    from queries.errors import XiaonengError
    from queries.importer import import_paths

    before = _counts(demo_copy_url)
    bad = tmp_path / "cases.csv"
    header = ["'; DROP TABLE cases; --", "x\" OR 1=1", "H" * 50_000, "case_id"]
    import csv

    with bad.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, ["1", "2", "3", "4"]])
    eng = make_engine(demo_copy_url)
    try:
        report = import_paths(eng, [bad], progress=False)
        assert report.loaded == 0
    except XiaonengError as exc:
        assert "Traceback" not in str(exc)
    eng.dispose()
    after = _counts(demo_copy_url)
    assert after["cases"] == before["cases"] and after["accounts"] == before["accounts"]
    # the dashboard's upload preview reads the same file without trouble
    from dashboard import admin

    headers, _ = admin.read_preview("cases.csv", bad.read_bytes())
    assert headers[0] == "'; DROP TABLE cases; --"


def test_metacharacters_in_the_login_form(demo_copy_url) -> None:
    before = _counts(demo_copy_url)
    at = app_as(None).run()
    at.text_input(key="login_username").input("admin' --")
    at.text_input(key="login_password").input("' OR '1'='1")
    at.button[0].click().run()
    assert not at.exception and at.error
    assert "_xn_user" not in at.session_state
    assert _counts(demo_copy_url)["accounts"] == before["accounts"]
