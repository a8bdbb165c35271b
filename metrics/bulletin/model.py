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
# shown in 百分点), rel (a relative change shown as %), days, score (0–100), num, text.
ColumnFmt = Literal["int", "pct", "pp", "rel", "days", "score", "num", "text"]
Cell = str | int | float | bool | None


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    fmt: ColumnFmt = "text"


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


@dataclass(frozen=True)
class Section:
    id: str
    title: str  # without the 一、二、 numbering (renderers number sections)
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


@dataclass(frozen=True)
class UnitNote:
    """A unit praised or criticised: which ranking, its rank and score, and the 约谈 flag."""

    level: Literal["region", "agency"]
    code: str
    name: str
    rank: int | None
    score: float | None
    interview: bool = False  # 约谈: in the bottom N this month and the month before


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
    month: str  # YYYY-MM
    scope: Scope
    title: str
    sections: tuple[Section, ...]
    praise: tuple[UnitNote, ...]
    criticism: tuple[UnitNote, ...]
    provenance: dict[str, Any]
    content_hash: str = ""

    def table(self, table_id: str) -> Table:
        for s in self.sections:
            for t in s.tables:
                if t.id == table_id:
                    return t
        raise KeyError(table_id)

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

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
                         c.get("target"))

        sections = tuple(
            Section(s["id"], s["title"], tuple(s["paragraphs"]),
                    tuple(table(t) for t in s["tables"]), tuple(chart(c) for c in s["charts"]))
            for s in d["sections"]
        )
        return cls(
            d["month"], Scope(**d["scope"]), d["title"], sections,
            tuple(UnitNote(**u) for u in d["praise"]),
            tuple(UnitNote(**u) for u in d["criticism"]),
            d["provenance"], d.get("content_hash", ""),
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
