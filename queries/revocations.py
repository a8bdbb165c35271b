"""Card revocation (申诉成立): an upheld appeal revokes a red or yellow card.

metrics.md §6 reports revoked cards separately, so gross and net counts both exist. The appeal
itself — who appeals, who decides, the 督办 record — is the supervision loop's (issue 13); it
calls `record_revocation` with its decision. The decision is stored in `card_revocations`
(keyed by the card's stable id: case or review and rule), so every later recompute of the
month marks the card revoked again (`revoked_ids`, read by the metric job). So that the numbers
change at once and not only at the next recompute, the same transaction marks the stored card
and moves it from the net to the revoked counts of its fact row, and writes the caller's audit
row: a revocation is on record exactly when the numbers show it.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries import schema
from queries.audit import AuditHook
from queries.errors import XiaonengError


def revoked_ids(engine: Engine) -> list[str]:
    """Ids of every card an appeal decision revoked (sorted)."""
    r = schema.card_revocations
    with engine.connect() as conn:
        return list(conn.execute(sa.select(r.c.card_id).order_by(r.c.card_id)).scalars())


def record_revocation(
    engine: Engine,
    card_id: str,
    decided_on: dt.date,
    reason: str,
    decided_by: str,
    appeal_ref: str | None = None,
    audit: AuditHook | None = None,
) -> dict[str, object]:
    """Revoke the stored card `card_id` because its appeal was upheld; returns the card.

    One transaction: the decision (card_revocations), the card (revoked = true), its fact row
    (revoked_cards + 1, the kind's net count − 1) and `audit(conn, outcome)`. A card that does
    not exist or is already revoked is refused with a one-line message.
    """
    if not reason or not reason.strip():
        raise XiaonengError(f"revoking card {card_id}: give the reason the appeal was upheld")
    k, kf, rev = schema.cards, schema.card_facts, schema.card_revocations
    with engine.begin() as conn:
        card = conn.execute(sa.select(k).where(k.c.card_id == card_id)).mappings().first()
        if card is None:
            raise XiaonengError(f"no card {card_id!r} to revoke (run the metric job first?)")
        if card["revoked"]:
            raise XiaonengError(f"card {card_id} is already revoked")
        conn.execute(sa.insert(rev).values(
            card_id=card_id, decided_on=decided_on, reason=reason.strip(),
            decided_by=decided_by, appeal_ref=appeal_ref,
            recorded_at=dt.datetime.now().replace(microsecond=0)))
        conn.execute(sa.update(k).where(k.c.card_id == card_id).values(revoked=True))
        net = kf.c[f"{card['kind']}_cards_net"]
        at = [kf.c[c] == card[c] for c in ("month", "agency_code", "item_code", "channel")]
        changed = conn.execute(sa.update(kf).where(*at).values(
            {kf.c.revoked_cards: kf.c.revoked_cards + 1, net: net - 1})).rowcount
        if changed != 1:
            raise XiaonengError(f"card {card_id}: its card counts are missing; recompute "
                                f"{card['month']:%Y-%m} first")
        outcome = {"ok": True, "card_id": card_id, "kind": card["kind"],
                   "subject": card["subject"], "agency_code": card["agency_code"],
                   "month": card["month"], "decided_on": decided_on, "appeal_ref": appeal_ref}
        if audit is not None:
            audit(conn, outcome)
    return dict(card)


__all__ = ["record_revocation", "revoked_ids"]
