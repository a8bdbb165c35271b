"""The demo city's agencies (实施机关): one bureau per sector at city level and in each county.

Names follow real practice: districts often host a 分局 of the city bureau (公安, 自然资源,
市场监管, 生态环境), tax offices are 国家税务总局 branches, the housing fund has one city centre
with 分中心 in the counties only. Codes are 18-character 统一社会信用代码 (GB 32100) with valid
check characters, because importers and people recognise that shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from xiaoneng.demo.regions import CITY_CODE, CITY_NAME, COUNTIES, County


@dataclass(frozen=True)
class Sector:
    """A 条线 and how its bureaus are named at each level.

    Templates use {city}, {county} (full name) and {short} (county name without suffix).
    `district` is used for 区 when that sector runs 分局 there; None = same as `county`;
    "" = no office in districts (the city-level office serves them).
    """

    name: str
    city: str
    county: str
    district: str | None = None


SECTORS: tuple[Sector, ...] = (
    Sector("市场监管", "{city}市场监督管理局", "{county}市场监督管理局", "{city}市场监督管理局{short}分局"),
    Sector("自然资源", "{city}自然资源和规划局", "{county}自然资源和规划局", "{city}自然资源和规划局{short}分局"),
    Sector("住建", "{city}住房和城乡建设局", "{county}住房和城乡建设局"),
    Sector("公安", "{city}公安局", "{county}公安局", "{city}公安局{short}分局"),
    Sector("人社", "{city}人力资源和社会保障局", "{county}人力资源和社会保障局"),
    Sector("医保", "{city}医疗保障局", "{county}医疗保障局", "{city}医疗保障局{short}分局"),
    Sector("税务", "国家税务总局{city}税务局", "国家税务总局{county}税务局"),
    Sector("公积金", "{city}住房公积金管理中心", "{city}住房公积金管理中心{short}分中心", ""),
    Sector("民政", "{city}民政局", "{county}民政局"),
    Sector("卫健", "{city}卫生健康委员会", "{county}卫生健康局"),
    Sector("交通", "{city}交通运输局", "{county}交通运输局"),
    Sector("行政审批", "{city}行政审批服务局", "{county}行政审批服务局"),
    Sector("生态环境", "{city}生态环境局", "{city}生态环境局{short}分局"),
    Sector("教育", "{city}教育局", "{county}教育局"),
    Sector("农业农村", "{city}农业农村局", "{county}农业农村局"),
)
SECTOR_INDEX = {s.name: i for i, s in enumerate(SECTORS)}

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code(body: str) -> str:
    """9-character 组织机构代码 (GB 11714): 8 digits and their check character."""
    total = sum(int(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + ("X" if check == 10 else "0" if check == 11 else str(check))


def uscc(region_code: str, serial: int) -> str:
    """统一社会信用代码 for a government organ (登记管理部门 1, 类别 1 = 机关) in a region."""
    body = f"{(serial * 7_919 + int(region_code) * 13) % 100_000_000:08d}"
    first17 = "11" + region_code + _org_code(body)
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return first17 + _USCC_CHARS[(31 - total % 31) % 31]


@dataclass(frozen=True)
class Agency:
    """One agency with the facts the generator needs about it."""

    code: str
    name: str
    region_code: str
    sector: str
    county: County | None  # None = city level (市本级)


def build_agencies() -> tuple[Agency, ...]:
    """All agencies: city level first, then each county's, in sector order."""
    out: list[Agency] = []
    serial = 0
    for sector in SECTORS:
        serial += 1
        out.append(Agency(uscc(CITY_CODE, serial), sector.city.format(city=CITY_NAME),
                          CITY_CODE, sector.name, None))
    for county in COUNTIES:
        for sector in SECTORS:
            template = sector.county
            if county.kind == "district" and sector.district is not None:
                template = sector.district
            if not template:
                continue
            serial += 1
            name = template.format(city=CITY_NAME, county=county.name, short=county.short)
            out.append(Agency(uscc(county.code, serial), name, county.code, sector.name, county))
    return tuple(out)


AGENCIES: tuple[Agency, ...] = build_agencies()


def agency_by_name(name: str) -> Agency:
    """Look an agency up by its full name (used to pin the documented injections)."""
    for agency in AGENCIES:
        if agency.name == name:
            return agency
    raise KeyError(name)


def agencies_frame() -> pl.DataFrame:
    """The `agencies` contract table."""
    return pl.DataFrame(
        {
            "agency_code": [a.code for a in AGENCIES],
            "name": [a.name for a in AGENCIES],
            "region_code": [a.region_code for a in AGENCIES],
            "sector": [a.sector for a in AGENCIES],
        },
        schema={"agency_code": pl.String, "name": pl.String, "region_code": pl.String,
                "sector": pl.String},
    )
