"""The static side of the demo: who offers which item, and the 一件事 / 工程建设 recipes.

An "offering" is an (item, agency) pair with a relative case volume. Cases of ordinary
applications are drawn from offerings; 企业开办 bundles and 工程建设 project chains follow
fixed recipes routed to the agency of the right sector in the applicant's county.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from xiaoneng.demo.agencies import AGENCIES, SECTOR_INDEX, SECTORS
from xiaoneng.demo.effects import HARD_MIX, AgencyEffects, agency_effects
from xiaoneng.demo.items import Catalogue, build_items
from xiaoneng.demo.regions import CITY_CODE, CITY_LEVEL_WEIGHT, COUNTIES

# Slot 0 is the city level (市本级), slots 1.. are COUNTIES in order.
REGION_SLOTS: tuple[str, ...] = (CITY_CODE,) + tuple(c.code for c in COUNTIES)
SLOT_WEIGHT = np.array([CITY_LEVEL_WEIGHT] + [c.weight for c in COUNTIES])

# Ordinary-application volume multipliers: most 企业开办 and 工程建设 cases come through the
# bundle and chain recipes below, so their items are damped in the ordinary mix.
ORDINARY_MULT = {"business_startup": 0.5, "construction_permit": 0.25}

# 企业开办一件事: the registration first, then these members with their probabilities.
BUNDLE_FIRST = {
    "有限责任公司设立登记": 0.75, "个人独资企业设立登记": 0.08, "合伙企业设立登记": 0.04,
    "农民专业合作社设立登记": 0.03, "分公司设立登记": 0.06, "股份有限公司设立登记": 0.01,
    "外商投资企业设立登记": 0.02, "非公司企业法人设立登记": 0.01,
}
BUNDLE_MEMBERS = (
    ("印章刻制备案", 0.9), ("新办纳税人涉税事项套餐（信息确认）", 0.85), ("发票领用", 0.6),
    ("单位社会保险登记", 0.75), ("单位医保参保登记", 0.6), ("单位缴存登记", 0.45),
)
BUNDLE_MAX_OFFSET_WD = 2  # members are submitted 0–2 working days after the registration
BUNDLE_ONLINE_P = 0.75

# 工程建设项目 chain: (item, probability, mean working days since the previous stage).
CHAIN_STAGES = (
    ("企业投资项目备案", 1.0, 0),
    ("建设项目用地预审与选址意见书核发", 0.7, 10),
    ("建设用地规划许可证核发", 0.8, 25),
    ("建设项目环境影响报告表审批", 0.5, 10),
    ("建设工程规划许可证核发", 1.0, 30),
    ("施工图设计文件审查备案", 0.6, 10),
    ("建设工程消防设计审查", 0.7, 5),
    ("建筑工程施工许可证核发", 1.0, 15),
    ("建设工程规划核实", 0.7, 180),
    ("建设工程消防验收", 0.7, 10),
    ("房屋建筑和市政基础设施工程竣工验收备案", 0.8, 10),
)
CHAIN_ONLINE_P = 0.55
CHAIN_INDUSTRIES = ("47", "48", "70", "13", "34", "36")  # 国民经济行业 codes in 项目代码


@dataclass(frozen=True)
class World:
    """Everything static the case generator indexes into."""

    cat: Catalogue
    effects: AgencyEffects
    ag_sector: np.ndarray
    ag_slot: np.ndarray  # region slot of each agency
    agency_for: np.ndarray  # [slot, sector] → agency index (-1 = none)
    off_item: np.ndarray
    off_agency: np.ndarray
    off_p: np.ndarray  # ordinary-application probabilities
    slot_p: np.ndarray  # region-slot probabilities for bundles and chains
    bundle_first_items: np.ndarray
    bundle_first_p: np.ndarray
    bundle_member_items: np.ndarray
    bundle_member_p: np.ndarray
    chain_items: np.ndarray
    chain_p: np.ndarray
    chain_gap: np.ndarray
    item_codes: pl.Series
    agency_codes: pl.Series
    slot_codes: pl.Series

    def route(self, slot: np.ndarray, item: np.ndarray) -> np.ndarray:
        """Agency of the item's sector serving each region slot (the city office where the
        county has none)."""
        return self.agency_for[slot, self.cat.sector[item]]


def _offerings(cat: Catalogue) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item, agency, weight) for every item and every agency that offers it."""
    n_sectors = len(SECTORS)
    city_agency = np.full(n_sectors, -1)
    county_agencies: list[list[int]] = [[] for _ in range(n_sectors)]
    for i, a in enumerate(AGENCIES):
        s = SECTOR_INDEX[a.sector]
        if a.county is None:
            city_agency[s] = i
        else:
            county_agencies[s].append(i)
    total_weight = CITY_LEVEL_WEIGHT + sum(c.weight for c in COUNTIES)
    hard_mix = next(i for i, a in enumerate(AGENCIES) if a.code == HARD_MIX.agency_code)
    items, agencies, weights = [], [], []
    for it in range(len(cat.names)):
        s = int(cat.sector[it])
        level = int(cat.level[it])
        served_by_county = {AGENCIES[i].county.code for i in county_agencies[s]}
        uncovered = sum(c.weight for c in COUNTIES if c.code not in served_by_county)
        pairs: list[tuple[int, float]] = []
        if level == 1:  # city level only: one office for everybody
            pairs.append((int(city_agency[s]), total_weight))
        else:
            for i in county_agencies[s]:
                pairs.append((i, AGENCIES[i].county.weight))
            if level == 0:
                w = CITY_LEVEL_WEIGHT + uncovered
                if city_agency[s] == hard_mix:
                    ok = cat.diff[it] >= HARD_MIX.parameters["min_item_difficulty"]
                    w = w * HARD_MIX.parameters["volume_mult"] if ok else 0.0
                if w > 0:
                    pairs.append((int(city_agency[s]), w))
        mult = ORDINARY_MULT.get(cat.be[it], 1.0) if cat.be[it] else 1.0
        for ag, w in pairs:
            items.append(it)
            agencies.append(ag)
            weights.append(cat.pop[it] * w * mult)
    return np.array(items, np.int32), np.array(agencies, np.int32), np.array(weights)


@lru_cache(maxsize=1)
def build_world() -> World:
    """Build (once per process) the static demo world."""
    cat = build_items()
    n_sectors = len(SECTORS)
    ag_sector = np.array([SECTOR_INDEX[a.sector] for a in AGENCIES], np.int16)
    ag_slot = np.array([REGION_SLOTS.index(a.region_code) for a in AGENCIES], np.int16)
    agency_for = np.full((len(REGION_SLOTS), n_sectors), -1, np.int32)
    for i in range(len(AGENCIES)):
        agency_for[ag_slot[i], ag_sector[i]] = i
    for slot in range(1, len(REGION_SLOTS)):  # counties without an office use the city's
        missing = agency_for[slot] < 0
        agency_for[slot, missing] = agency_for[0, missing]
    off_item, off_agency, w = _offerings(cat)
    first = list(BUNDLE_FIRST)
    return World(
        cat=cat,
        effects=agency_effects(),
        ag_sector=ag_sector,
        ag_slot=ag_slot,
        agency_for=agency_for,
        off_item=off_item,
        off_agency=off_agency,
        off_p=w / w.sum(),
        slot_p=SLOT_WEIGHT / SLOT_WEIGHT.sum(),
        bundle_first_items=np.array([cat.index(n) for n in first], np.int32),
        bundle_first_p=np.array([BUNDLE_FIRST[n] for n in first]) / sum(BUNDLE_FIRST.values()),
        bundle_member_items=np.array([cat.index(n) for n, _ in BUNDLE_MEMBERS], np.int32),
        bundle_member_p=np.array([p for _, p in BUNDLE_MEMBERS]),
        chain_items=np.array([cat.index(n) for n, _, _ in CHAIN_STAGES], np.int32),
        chain_p=np.array([p for _, p, _ in CHAIN_STAGES]),
        chain_gap=np.array([g for _, _, g in CHAIN_STAGES], float),
        item_codes=cat.frame["item_code"],
        agency_codes=pl.Series("agency_code", [a.code for a in AGENCIES]),
        slot_codes=pl.Series("region_code", list(REGION_SLOTS)),
    )
