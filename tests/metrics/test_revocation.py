"""Card revocation (issue 17, point 10): an upheld appeal revokes a case card; gross and net
counts then differ, the decision outlives recomputes, and the act is audited with the numbers.

Two cases of agency A1, accepted Mon 2024-03-04 with promised 2 and statutory 5 working days,
completed Mon 03-18 (used 10 working days, no holiday in March 2024): each earns a yellow card
(used > 2) and a red card (used > min(5, 2 + 3)), all issued in March. c1's yellow card is
revoked on appeal: yellow gross 2, revoked 1, net 1; red gross = net = 2.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from metrics.jobs import run_compute
from metrics.query import Filters, case_list, metric_values
from queries import audit, schema
from queries.calendar import seed_official
from queries.errors import XiaonengError
from queries.importer import import_frames
from queries.revocations import record_revocation, revoked_ids
from tests.metrics.logs import one_agency_city
from tests.metrics.test_oracle import frame

T = dt.datetime
MAR = dt.date(2024, 3, 1)
AS_OF = T(2024, 3, 31, 18)
IDS = ["net_yellow_cards", "yellow_cards", "net_red_cards", "red_cards", "revoked_cards"]


def _case(cid: str) -> dict:
    return dict(case_id=cid, item_code="I1", agency_code="A1", channel="window",
                applicant_type="person", submitted_at=T(2024, 3, 4, 9),
                accepted_at=T(2024, 3, 4, 9), completed_at=T(2024, 3, 18, 10),
                status="completed", statutory_days=5, promised_days=2, limit_unit="working",
                full_online=False, cross_region=False)


@pytest.fixture
def carded(any_engine):
    seed_official(any_engine, 2024, 2024)
    assert import_frames(any_engine, dict(
        **one_agency_city("住建", statutory=5, promised=2),
        cases=frame("cases", [_case("c1"), _case("c2")]),
    ), source="test", progress=False).ok
    run_compute(any_engine, [MAR], as_of=AS_OF)
    return any_engine


def _counts(engine) -> dict[str, float]:
    df = metric_values(engine, IDS, Filters(MAR, MAR), "city")
    return dict(df.select("metric_id", "value").iter_rows())


def test_a_revoked_case_card_counts_in_gross_and_revoked_but_not_in_net(carded):
    assert _counts(carded) == {"net_yellow_cards": 2, "yellow_cards": 2, "net_red_cards": 2,
                               "red_cards": 2, "revoked_cards": 0}
    hook = audit.hook("supervisor1", "card_revocation", role="supervisor", scope="all",
                      detail={"via": "test"})
    card = record_revocation(carded, "yellow:case:c1", dt.date(2024, 4, 2),
                             "申诉成立：延期系申请人补正材料所致", "supervisor1", appeal_ref="A-7",
                             audit=hook)
    assert (card["kind"], card["case_id"]) == ("yellow", "c1")
    assert _counts(carded) == {"net_yellow_cards": 1, "yellow_cards": 2, "net_red_cards": 2,
                               "red_cards": 2, "revoked_cards": 1}
    listed, n = case_list(carded, "revoked_cards", Filters(MAR, MAR), MAR)
    assert n == 1 and listed["card_id"].to_list() == ["yellow:case:c1"]
    row = audit.entries(carded, action="card_revocation").row(0, named=True)
    assert row["username"] == "supervisor1" and '"card_id": "yellow:case:c1"' in row["detail"]


def test_a_revocation_outlives_a_recompute(carded):
    record_revocation(carded, "yellow:case:c1", dt.date(2024, 4, 2), "申诉成立", "supervisor1")
    before = _counts(carded)
    run_compute(carded, [MAR], as_of=AS_OF)
    run_compute(carded, None, as_of=AS_OF)
    assert _counts(carded) == before and revoked_ids(carded) == ["yellow:case:c1"]
    with carded.connect() as conn:
        revoked = conn.execute(sa.select(schema.cards.c.card_id)
                               .where(schema.cards.c.revoked.is_(True))).scalars().all()
    assert revoked == ["yellow:case:c1"]


def test_revoking_an_unknown_or_already_revoked_card_is_refused_and_changes_nothing(carded):
    with pytest.raises(XiaonengError, match="no card 'yellow:case:c9'"):
        record_revocation(carded, "yellow:case:c9", dt.date(2024, 4, 2), "申诉成立", "s1")
    record_revocation(carded, "red:case:c2", dt.date(2024, 4, 2), "申诉成立", "s1")
    with pytest.raises(XiaonengError, match="already revoked"):
        record_revocation(carded, "red:case:c2", dt.date(2024, 4, 3), "申诉成立", "s1")
    with pytest.raises(XiaonengError, match="give the reason"):
        record_revocation(carded, "red:case:c1", dt.date(2024, 4, 3), " ", "s1")
    assert _counts(carded)["net_red_cards"] == 1 and _counts(carded)["revoked_cards"] == 1


def test_a_revocation_whose_audit_row_fails_is_rolled_back(carded):
    def broken(conn, outcome):
        raise RuntimeError("audit log unavailable")

    with pytest.raises(RuntimeError):
        record_revocation(carded, "yellow:case:c1", dt.date(2024, 4, 2), "申诉成立", "s1",
                          audit=broken)
    assert revoked_ids(carded) == [] and _counts(carded)["revoked_cards"] == 0
