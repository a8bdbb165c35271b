"""Turn one month's arrays into contract-shaped Polars frames.

Integer codes become strings by gathering from small lookup Series, sentinels (-1) become
nulls, µs integers become naive Datetime("us"). All of it in one `select` per table so
Polars can work on the columns in parallel.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from queries.contract import CASE_STATUSES, CHANNELS, DECISIONS, REVIEW_CHANNELS, SUSPENSION_REASONS
from xiaoneng.demo.reviews import TAG_STRINGS
from xiaoneng.demo.world import CHAIN_INDUSTRIES, World

CASE_ID_BASE = 331_200 * 10**12  # 办件编号: city code + 12-digit serial
TS = pl.Datetime("us")

_CHANNELS = pl.Series(list(CHANNELS))
_STATUSES = pl.Series(list(CASE_STATUSES))
_DECISIONS = pl.Series(list(DECISIONS))
_REASONS = pl.Series(list(SUSPENSION_REASONS))
_REVIEW_CHANNELS = pl.Series(list(REVIEW_CHANNELS))
_INDUSTRIES = pl.Series(list(CHAIN_INDUSTRIES))
_APPLICANT_TYPES = pl.Series(["person", "enterprise"])  # indexed by the enterprise flag
_LIMIT_UNITS = pl.Series(["working", "natural"])  # indexed by the natural-days flag


def _valid(name: str) -> pl.Expr:
    """The column with -1 sentinels as nulls."""
    return pl.when(pl.col(name) >= 0).then(pl.col(name))


def _ts(name: str) -> pl.Expr:
    return _valid(name).cast(TS).alias(name)


def _pseudonym(ids: np.ndarray) -> np.ndarray:
    """Pseudonymous 16-digit key from an applicant id (splitmix64 finaliser, bijective before
    the final modulo): stable per applicant, not reversible to anything meaningful, and of a
    length no ID number has (身份证 15/18, 统一社会信用代码 18)."""
    with np.errstate(over="ignore"):
        h = ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
    key = (h % np.uint64(9 * 10**15)).astype(np.int64) + 10**15
    return np.where(ids >= 0, key, -1)


def _bundle_ids(world: World, bundles: dict[str, np.ndarray]) -> pl.Series:
    """一件事编号 per bundle: YJS + region code + yyyymm + serial."""
    return pl.DataFrame({"number": bundles["number"], "slot": bundles["slot"]}).select(
        pl.concat_str([pl.lit("YJS"), pl.lit(world.slot_codes).gather(pl.col("slot")),
                       pl.lit("-"), pl.col("number").cast(pl.String)])).to_series()


def _project_codes(world: World, chains: dict[str, np.ndarray]) -> pl.Series:
    """投资项目代码 per chain: year-region-industry-03 (备案)-serial."""
    return pl.DataFrame({"number": chains["number"], "slot": chains["slot"],
                         "industry": chains["industry"]}).select(
        pl.concat_str([(pl.col("number") // 1_000_000).cast(pl.String), pl.lit("-"),
                       pl.lit(world.slot_codes).gather(pl.col("slot")), pl.lit("-"),
                       pl.lit(_INDUSTRIES).gather(pl.col("industry")), pl.lit("-03-"),
                       (pl.col("number") % 1_000_000).cast(pl.String).str.zfill(6)])
    ).to_series()


def case_frame(world: World, c: dict[str, np.ndarray], bundles: dict[str, np.ndarray],
               chains: dict[str, np.ndarray]) -> pl.DataFrame:
    """The `cases` rows of one month. Bundle ids and project codes are built once per
    bundle/chain and gathered, not concatenated per row."""
    raw = pl.DataFrame({
        "seq": c["seq"], "item": c["item"], "agency": c["agency"], "channel": c["channel"],
        "enterprise": c["enterprise"], "akey": _pseudonym(c["applicant"]),
        "bundle": c["bundle"], "chain": c["chain"],
        "submitted_at": c["submitted_us"], "accepted_at": c["accepted_us"],
        "completed_at": c["completed_us"], "status": c["status"], "decision": c["decision"],
        "statutory_days": c["statutory"], "promised_days": c["promised"],
        "due_at": c["due_us"], "natural": c["natural"], "visits": c["visits"],
        "full_online": c["full_online"], "cross_region": c["cross_region"],
        "e_result": c["e_result"], "reported_at": c["reported_us"],
    })
    return raw.select(
        (pl.col("seq") + CASE_ID_BASE).cast(pl.String).alias("case_id"),
        pl.lit(world.item_codes).gather(pl.col("item")).alias("item_code"),
        pl.lit(world.agency_codes).gather(pl.col("agency")).alias("agency_code"),
        pl.lit(_CHANNELS).gather(pl.col("channel")).alias("channel"),
        pl.lit(_APPLICANT_TYPES).gather(pl.col("enterprise").cast(pl.Int8)).alias("applicant_type"),
        _valid("akey").cast(pl.String).alias("applicant_key"),
        pl.lit(_bundle_ids(world, bundles)).gather(_valid("bundle")).alias("bundle_id"),
        pl.lit(_project_codes(world, chains)).gather(_valid("chain")).alias("project_code"),
        pl.col("submitted_at").cast(TS),
        _ts("accepted_at"),
        _ts("completed_at"),
        pl.lit(_STATUSES).gather(pl.col("status")).alias("status"),
        pl.lit(_DECISIONS).gather(_valid("decision")).alias("decision"),
        _valid("statutory_days").cast(pl.Int32).alias("statutory_days"),
        _valid("promised_days").cast(pl.Int32).alias("promised_days"),
        _ts("due_at"),
        pl.lit(_LIMIT_UNITS).gather(pl.col("natural").cast(pl.Int8)).alias("limit_unit"),
        _valid("visits").cast(pl.Int32).alias("visits"),
        pl.col("full_online"),
        pl.col("cross_region"),
        pl.when(pl.col("e_result") >= 0).then(pl.col("e_result") == 1).alias("e_result"),
        _ts("reported_at"),
    )


def suspension_frame(s: dict[str, np.ndarray]) -> pl.DataFrame:
    """The `suspensions` rows of one month's cases."""
    raw = pl.DataFrame({"seq": s["seq"], "started_at": s["started_us"],
                        "ended_at": s["ended_us"], "reason": s["reason"],
                        "approved_days": s["approved"]})
    return raw.select(
        (pl.col("seq") + CASE_ID_BASE).cast(pl.String).alias("case_id"),
        pl.col("started_at").cast(TS),
        _ts("ended_at"),
        pl.lit(_REASONS).gather(pl.col("reason")).alias("reason"),
        _valid("approved_days").cast(pl.Int32).alias("approved_days"),
        pl.lit(None, dtype=pl.String).alias("suspension_id"),  # the demo platform has none
    )


def review_frame(world: World, r: dict[str, np.ndarray], review0: int) -> pl.DataFrame:
    """The `reviews` rows of one month's cases and halls; ids yyyymm + 7-digit serial."""
    n = len(r["level"])
    raw = pl.DataFrame({
        "rid": review0 + np.arange(n, dtype=np.int64), "case_seq": r["case_seq"],
        "agency": r["agency"], "channel": r["channel"], "rated_at": r["rated_us"],
        "level": r["level"], "active": r["active"], "real_name": r["real_name"],
        "tag": r["tag_combo"], "callback_at": r["callback_us"],
        "rectified_at": r["rectified_us"], "appeal_upheld": r["appeal_upheld"],
        "reported_at": r["reported_us"],
    })
    return raw.select(
        pl.col("rid").cast(pl.String).alias("review_id"),
        (_valid("case_seq") + CASE_ID_BASE).cast(pl.String).alias("case_id"),
        pl.lit(world.agency_codes).gather(pl.col("agency")).alias("agency_code"),
        pl.lit(_REVIEW_CHANNELS).gather(pl.col("channel")).alias("channel"),
        pl.col("rated_at").cast(TS),
        pl.col("level").cast(pl.Int32),
        pl.col("active"),
        pl.col("real_name"),
        pl.lit(TAG_STRINGS).gather(_valid("tag")).alias("tags"),
        _ts("callback_at"),
        _ts("rectified_at"),
        pl.col("appeal_upheld"),
        _ts("reported_at"),
    )
