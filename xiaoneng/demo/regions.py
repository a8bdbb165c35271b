"""The demo city's administrative divisions (行政区划).

The city is fictional (越川市, code 331200, a 地级市 placed under the real 浙江省 330000) so
that nobody mistakes demo numbers for a real place's performance. Codes follow the national
scheme: 6 digits down to county level, 9 digits for towns and streets (乡级).
The structure is fixed, not drawn from the seed, so the documentation can name every unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

PROVINCE_CODE = "330000"
PROVINCE_NAME = "浙江省"
CITY_CODE = "331200"
CITY_NAME = "越川市"


@dataclass(frozen=True)
class County:
    """A county-level unit: 区 (district), 县 (county) or 县级市."""

    code: str
    name: str
    short: str  # name without the 区/县/市 suffix, used in 分局 names
    kind: str  # "district" | "county" | "county_city"
    weight: float  # relative population / case volume
    towns: int  # number of towns and streets below it


COUNTIES: tuple[County, ...] = (
    County("331202", "鉴湖区", "鉴湖", "district", 1.30, 9),
    County("331203", "望江区", "望江", "district", 1.10, 8),
    County("331204", "新港区", "新港", "district", 0.90, 7),
    County("331221", "石浦县", "石浦", "county", 0.85, 10),
    County("331222", "松岙县", "松岙", "county", 0.60, 8),
    County("331223", "双溪县", "双溪", "county", 0.70, 9),
    County("331224", "龙湫县", "龙湫", "county", 0.50, 7),
    County("331281", "临渚市", "临渚", "county_city", 1.00, 11),
)

# Weight of cases handled by city-level (市本级) agencies, relative to a county's weight.
CITY_LEVEL_WEIGHT = 0.9

# Two-character stems for town and street names; all distinct so names are unique in the city.
_TOWN_STEMS = (
    "白沙", "龙山", "石门", "青峰", "梅园", "桃源", "柳溪", "清水", "凤凰", "金塘",
    "银湖", "东岙", "西岙", "南塘", "北渚", "大岭", "小岭", "松林", "竹溪", "兰亭",
    "月湖", "星桥", "云峰", "霞浦", "长乐", "永安", "安澜", "平湖", "泰和", "丰谷",
    "新塘", "古城", "鹤鸣", "雁岙", "莲花", "芦浦", "盐仓", "港口", "渔山", "沙塘",
    "横溪", "前洋", "后洋", "上林", "下林", "高桥", "湖塘", "峡口", "溪口", "里岙",
    "外沙", "鸣鹤", "观澜", "浦坝", "洞桥", "章水", "樟村", "茶亭", "枫林", "杏坛",
    "桂溪", "荷花", "樱桥", "柏树", "梧桐", "桑园", "麻岙", "稻香", "禾丰", "麦岭",
    "瑞安", "嘉禾", "宁和", "昌平", "兴业", "隆盛", "富春", "庆丰", "祥云", "福泉",
)


def _town_rows() -> list[tuple[str, str, str]]:
    """(code, name, parent) for every town/street: streets (街道, 001–) first, then towns
    (镇, 101–) and townships (乡, 201–), as in the national coding rules."""
    rows: list[tuple[str, str, str]] = []
    stem = 0
    for county in COUNTIES:
        if county.kind == "district":
            kinds = ["街道"] * (county.towns - 2) + ["镇"] * 2
        elif county.kind == "county_city":
            kinds = ["街道"] * 4 + ["镇"] * (county.towns - 5) + ["乡"]
        else:
            kinds = ["街道"] * 2 + ["镇"] * (county.towns - 4) + ["乡"] * 2
        counters = {"街道": 0, "镇": 100, "乡": 200}
        for kind in kinds:
            counters[kind] += 1
            rows.append((f"{county.code}{counters[kind]:03d}", f"{_TOWN_STEMS[stem]}{kind}",
                         county.code))
            stem += 1
    return rows


def regions_frame() -> pl.DataFrame:
    """The `regions` contract table: province root, the city, counties, towns."""
    codes = [PROVINCE_CODE, CITY_CODE]
    names = [PROVINCE_NAME, CITY_NAME]
    parents: list[str | None] = [None, PROVINCE_CODE]
    levels = ["province", "city"]
    for county in COUNTIES:
        codes.append(county.code)
        names.append(county.name)
        parents.append(CITY_CODE)
        levels.append("county")
    for code, name, parent in _town_rows():
        codes.append(code)
        names.append(name)
        parents.append(parent)
        levels.append("town")
    return pl.DataFrame(
        {"region_code": codes, "name": names, "parent_code": parents, "level": levels},
        schema={"region_code": pl.String, "name": pl.String, "parent_code": pl.String,
                "level": pl.String},
    )
