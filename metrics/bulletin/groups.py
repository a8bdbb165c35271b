"""Peer groups: which units a bulletin ranks against each other, for its scope.

Units are only compared with their peers (docs/bulletin.md):

- a city bulletin ranks its 县（市、区） (each child region of the city with its whole subtree)
  and, separately, its 市直部门 (the agencies attached to the city region itself);
- a county bulletin ranks its 县直部门 (区直部门, 市直部门 for a county-level city) and its
  乡镇（街道） (the county's child regions with their subtrees) — never counties: there are none
  inside a county;
- a sector (条线) bulletin ranks the sector's offices in the counties and districts against each
  other, and the sector's city-level offices separately (usually one: listed, not ranked
  against county offices).

A group with no unit is left out; a group too small for lists still shows its table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from metrics.bulletin.model import Scope

LEVEL_LABEL = {"county": "县（市、区）", "town": "乡镇（街道）"}


@dataclass(frozen=True)
class PeerGroup:
    id: str  # regions / departments / sector_local / sector_city
    label: str  # 县（市、区）, 市直部门, 县直部门, 乡镇（街道）, …
    level: Literal["region", "agency"]
    codes: tuple[str, ...]  # region codes (the units) or agency codes


def _direct_label(name: str, level: str) -> str:
    """市直部门 / 县直部门 / 区直部门: by the last character of the region's name."""
    if level == "city":
        return "市直部门"
    last = name[-1:] if name[-1:] in ("市", "县", "区", "旗") else "县"
    return f"{last}直部门"


def region_label(tree: pl.DataFrame, codes: list[str]) -> str:
    levels = set(tree.filter(pl.col("region_code").is_in(codes))["level"].to_list())
    return LEVEL_LABEL[levels.pop()] if len(levels) == 1 and next(iter(levels), "") in \
        LEVEL_LABEL else "下级区域"


def child_regions(tree: pl.DataFrame, code: str) -> list[str]:
    return sorted(tree.filter(pl.col("parent_code") == code)["region_code"].to_list())


def peer_groups(scope: Scope, tree: pl.DataFrame, agencies: pl.DataFrame) -> list[PeerGroup]:
    """The groups of `scope` that have at least one unit, in the order the bulletin shows them."""
    row = tree.filter(pl.col("region_code") == scope.region_code)
    level = row["level"][0] if row.height else "city"
    groups: list[PeerGroup] = []
    if scope.kind == "sector":
        own = agencies.filter(pl.col("sector") == scope.sector)
        here = own.filter(pl.col("region_code") == scope.region_code)
        below = own.filter(pl.col("region_code") != scope.region_code)
        groups.append(PeerGroup("sector_local", f"县（市、区）{scope.sector}部门", "agency",
                                tuple(sorted(below["agency_code"].to_list()))))
        groups.append(PeerGroup("sector_city", f"市本级{scope.sector}部门", "agency",
                                tuple(sorted(here["agency_code"].to_list()))))
    else:
        children = child_regions(tree, scope.region_code)
        if children:
            groups.append(PeerGroup("regions", region_label(tree, children), "region",
                                    tuple(children)))
        direct = agencies.filter(pl.col("region_code") == scope.region_code)
        groups.append(PeerGroup("departments", _direct_label(scope.name, level), "agency",
                                tuple(sorted(direct["agency_code"].to_list()))))
    return [g for g in groups if g.codes]
