"""The bulletin as data: a frozen, JSON-serialisable value with no rendering in it.

Why a value object: the same `Bulletin` feeds the Word, Excel and PDF renderers, the app's
preview and the published-version store. Freezing it (tuples, frozen dataclasses) means a
renderer cannot change a number on its way out, and serialising it to canonical JSON gives the
content hash that identifies a published version. Cell values are the raw numbers of the query
API (shares 0–1, days, counts); formatting happens only in the renderers and the narrative.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

# How a column's numbers are shown: int (件/张), pct (0–1 shown as %), pp (a change of a share,
# shown in 百分点), rel (a relative change shown as %), days, score (0–100), num, text, and the
# signed changes +days / +score (text.display).
ColumnFmt = Literal["int", "pct", "pp", "rel", "days", "score", "num", "text", "+days", "+score"]
Cell = str | int | float | bool | None


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    fmt: ColumnFmt = "text"
    doc: bool = True  # False: in the Excel workbook only (codes, detail counts)


@dataclass(frozen=True)
class Table:
    """A table of the bulletin; `card` names the columns coloured red/yellow in Excel."""

    id: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""
    card: dict[str, str] = field(default_factory=dict)  # column key → "red" / "yellow"
    # Per-row formats overriding the columns' (a long "metric | value" table mixes units).
    row_fmts: tuple[tuple[ColumnFmt, ...], ...] = ()

    def fmt_of(self, row: int, col: int) -> ColumnFmt:
        if self.row_fmts:
            return self.row_fmts[row][col]
        return self.columns[col].fmt

    def column_values(self, key: str) -> list[Cell]:
        idx = [c.key for c in self.columns].index(key)
        return [r[idx] for r in self.rows]

    def records(self) -> list[dict[str, Cell]]:
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, r, strict=True)) for r in self.rows]


@dataclass(frozen=True)
class Chart:
    """A simple bar chart drawn from numbers already in a table (rendered to PNG)."""

    id: str
    title: str
    labels: tuple[str, ...]
    values: tuple[float | None, ...]
    fmt: ColumnFmt = "int"
    target: float | None = None  # a target line (metrics.md §9), same unit as values
    reference: float | None = None  # the whole scope's value (a dashed reference line)


@dataclass(frozen=True)
class Section:
    """A part of the 正文 (numbered 一、二、 by the renderers) or, in `Bulletin.attachments`,
    one 附件 (numbered 附件1, 附件2 …). Paragraphs starting with "（一）" are level-2 headings
    followed by their text (楷体 in Word and PDF)."""

    id: str
    title: str  # without the 一、二、 numbering (renderers number sections)
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


@dataclass(frozen=True)
class Frame:
    """The 公文 parts around the text (GB/T 9704-2012): 发文机关标志, 文号, 主送机关, 落款,
    成文日期, 版记 (抄送, 印发机关 and 印发日期). Dates are ISO strings (JSON); renderers print
    them as `text.signing_date` says (`date_style`: arabic / chinese)."""

    issuer: str  # 发文机关 (the 版头 and the 落款)
    doc_number: str  # 文号, e.g. 越川效督〔2025〕5号
    recipients: str  # 主送机关, ending with "："
    issued_on: str  # 成文日期 (ISO)
    cc: str = ""  # 抄送
    printer: str = ""  # 印发机关
    printed_on: str = ""  # 印发日期 (ISO)
    date_style: str = "arabic"
    seq: int = 0  # the number of 文号 ({seq})
    show_provenance: bool = True  # the 数据来源 附件 (the office may switch it off)


@dataclass(frozen=True)
class UnitNote:
    """A unit praised or criticised: which ranking, its rank and score, and the 约谈 flag."""

    level: Literal["region", "agency"]
    code: str
    name: str
    rank: int | None
    score: float | None
    interview: bool = False  # 约谈: criticised this period and the ones before (rules.py)
    group: str = ""  # the peer group's label (县（市、区）, 市直部门 …)


@dataclass(frozen=True)
class Scope:
    kind: Literal["city", "county", "sector"]
    region_code: str
    name: str
    sector: str | None = None

    @property
    def key(self) -> str:
        """Stable identifier used by the version store and file names."""
        if self.kind == "sector":
            return f"sector:{self.region_code}:{self.sector}"
        return f"{self.kind}:{self.region_code}"


@dataclass(frozen=True)
class Bulletin:
    month: str  # YYYY-MM, the (last) month of the period
    scope: Scope
    title: str
    sections: tuple[Section, ...]  # the 正文
    praise: tuple[UnitNote, ...]
    criticism: tuple[UnitNote, ...]
    provenance: dict[str, Any]
    content_hash: str = ""
    period: str = "month"  # month / quarter / year
    frame: Frame | None = None
    opening: tuple[str, ...] = ()  # after 主送: the 依据 and the rule applied
    attachments: tuple[Section, ...] = ()  # 附件 1, 2 … (the detail tables)
    correction: tuple[str, ...] = ()  # 更正说明 of a later version

    def table(self, table_id: str) -> Table:
        for t in self.tables:
            if t.id == table_id:
                return t
        raise KeyError(table_id)

    @property
    def tables(self) -> list[Table]:
        return [t for s in (*self.sections, *self.attachments) for t in s.tables]

    @property
    def paragraphs(self) -> list[str]:
        """Every sentence of the 正文 a reader sees (opening, sections, correction)."""
        return [*self.correction, *self.opening, *(p for s in self.sections for p in s.paragraphs)]

    def substance_hash(self) -> str:
        """The hash without the dates of signing and printing and the 更正说明: equal for the
        same numbers, sentences and office texts built on another day."""
        frame = replace(self.frame, issued_on="", printed_on="") if self.frame else None
        return compute_hash(replace(self, frame=frame, correction=(), content_hash=""))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): equal bulletins give equal bytes."""
        return canonical_json(self.to_dict())

    def with_hash(self) -> Bulletin:
        return replace(self, content_hash=compute_hash(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Bulletin:
        def table(t: dict[str, Any]) -> Table:
            return Table(t["id"], t["title"], tuple(Column(**c) for c in t["columns"]),
                         tuple(tuple(r) for r in t["rows"]), t.get("note", ""),
                         dict(t.get("card", {})),
                         tuple(tuple(f) for f in t.get("row_fmts", ())))

        def chart(c: dict[str, Any]) -> Chart:
            return Chart(c["id"], c["title"], tuple(c["labels"]), tuple(c["values"]), c["fmt"],
                         c.get("target"), c.get("reference"))

        def sections(key: str) -> tuple[Section, ...]:
            return tuple(
                Section(s["id"], s["title"], tuple(s["paragraphs"]),
                        tuple(table(t) for t in s["tables"]),
                        tuple(chart(c) for c in s["charts"]))
                for s in d.get(key, ()))

        return cls(
            d["month"], Scope(**d["scope"]), d["title"], sections("sections"),
            tuple(UnitNote(**u) for u in d["praise"]),
            tuple(UnitNote(**u) for u in d["criticism"]),
            d["provenance"], d.get("content_hash", ""), d.get("period", "month"),
            Frame(**d["frame"]) if d.get("frame") else None, tuple(d.get("opening", ())),
            sections("attachments"), tuple(d.get("correction", ())),
        )

    @classmethod
    def from_json(cls, text: str) -> Bulletin:
        return cls.from_dict(json.loads(text))


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)


# Provenance that names a run rather than describing the content: a recompute of unchanged
# data gets a new run id, and re-publishing it must not make a new version (issue 17).
VOLATILE_PROVENANCE = ("job_run_id",)


# Floats enter the hash at 12 significant digits: the hash says whether the published numbers
# changed, not whether a sum's last bit did (metrics.md §3, issue 17).
HASH_DIGITS = 12


def _hash_form(obj: Any) -> Any:
    if isinstance(obj, float):
        return float(f"{obj:.{HASH_DIGITS}g}")
    if isinstance(obj, dict):
        return {k: _hash_form(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_hash_form(v) for v in obj]
    return obj


def compute_hash(b: Bulletin) -> str:
    """sha256 of the canonical JSON of everything but the hash itself and the run id, with
    floats at HASH_DIGITS significant digits."""
    d = b.to_dict()
    d.pop("content_hash", None)
    d["provenance"] = {k: v for k, v in (d.get("provenance") or {}).items()
                       if k not in VOLATILE_PROVENANCE}
    return hashlib.sha256(canonical_json(_hash_form(d)).encode()).hexdigest()
