"""The issuing office's own texts: 发文机关, 文号 pattern, 主送, 依据, 工作要求, 抄送, 印发.

Each office (one per bulletin scope: the city's, a county's, the city's for a sector) edits these
on the 月度通报 page (audited, `queries.bulletin_store.save_office_texts`); a version stores them
with its bulletin (the `Frame`, the opening and the 工作要求 are part of the frozen JSON). The
defaults below are true for any data: they name the scope's own region, cite the national
好差评 rule (国办发〔2019〕51号) rather than a local document that may not exist, and leave the
工作要求 to `metrics.bulletin.build` (generated from this period's findings) until the office
writes its own.
"""

from __future__ import annotations

import dataclasses
import re
import string
from dataclasses import dataclass
from typing import Any

import polars as pl

from metrics.bulletin.model import Scope
from queries.errors import XiaonengError

PLACEHOLDERS = {"year", "seq", "month"}
DEFAULT_BASIS = ("《国务院办公厅关于建立政务服务“好差评”制度提高政务服务水平的意见》"
                 "（国办发〔2019〕51号）和政务服务效能监督有关规定")


@dataclass(frozen=True)
class OfficeTexts:
    issuer: str  # 发文机关 (版头, 落款)
    doc_number: str  # 文号 pattern: {year} {seq} {month}
    recipients: str  # 主送机关
    basis: str = DEFAULT_BASIS  # 依据 (what the bulletin is issued under)
    requirements: tuple[str, ...] = ()  # 工作要求 items; empty: generated from the findings
    cc: str = ""  # 抄送
    printer: str = ""  # 印发机关 (default: the issuer)
    date_style: str = "arabic"  # 成文日期 as 2026年12月4日 (GB/T 9704-2012) or 二〇二六年十二月四日
    show_provenance: bool = True  # the 数据来源与口径 附件

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["requirements"] = list(self.requirements)
        return d


FIELDS = tuple(f.name for f in dataclasses.fields(OfficeTexts))


def _abbr(name: str) -> str:
    """越川市 → 越川, 石浦县 → 石浦: the short name used in a 文号."""
    return re.sub(r"(市|县|区|自治县|旗)$", "", name) or name


def default_texts(scope: Scope, tree: pl.DataFrame) -> OfficeTexts:
    """Defaults true for the scope: its own office, its own subordinate units as 主送."""
    row = tree.filter(pl.col("region_code") == scope.region_code)
    region = row["name"][0] if row.height else scope.name
    issuer = f"{region}政务服务效能监督办公室"
    if scope.kind == "sector":
        recipients = f"各县（市、区）{scope.sector}部门，市本级{scope.sector}部门："
    elif scope.kind == "city":
        recipients = "各县（市、区）人民政府，市直各单位："
    else:
        kind = region[-1:] if region[-1:] in ("市", "县", "区") else "县"
        recipients = f"各乡镇人民政府、街道办事处，{kind}直各单位："
    gov = f"{region}人民政府办公室"
    return OfficeTexts(issuer=issuer, doc_number=f"{_abbr(region)}效督〔{{year}}〕{{seq}}号",
                       recipients=recipients, cc=f"{gov}。", printer=issuer)


def validate(values: dict[str, Any]) -> list[str]:
    """Problems with stored or edited office texts (empty when valid)."""
    out = []
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        out.append(f"unknown office text(s) {unknown}")
    for key in ("issuer", "doc_number", "recipients"):
        if key in values and not str(values[key] or "").strip():
            out.append(f"{key} must not be empty")
    if "doc_number" in values:
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(str(values["doc_number"])) if f}
        except ValueError as exc:
            out.append(f"doc_number is not a valid pattern: {exc}")
        else:
            if names - PLACEHOLDERS:
                out.append(f"doc_number may use {sorted(PLACEHOLDERS)}, got {sorted(names)}")
    if values.get("date_style", "arabic") not in ("arabic", "chinese"):
        out.append("date_style must be arabic or chinese")
    req = values.get("requirements", [])
    if not isinstance(req, list | tuple) or not all(isinstance(r, str) for r in req):
        out.append("requirements must be a list of paragraphs")
    if not isinstance(values.get("show_provenance", True), bool):
        out.append("show_provenance must be true or false")
    return out


def merged(defaults: OfficeTexts, stored: dict[str, Any] | None) -> OfficeTexts:
    """Defaults overridden by the office's stored texts (validated)."""
    values = dict(stored or {})
    problems = validate(values)
    if problems:
        raise XiaonengError("invalid bulletin office texts: " + "; ".join(problems))
    if "requirements" in values:
        values["requirements"] = tuple(r.strip() for r in values["requirements"] if r.strip())
    return dataclasses.replace(defaults, **values)


def doc_number(pattern: str, year: int, seq: int, month: int) -> str:
    return pattern.format(year=year, seq=seq, month=month)
