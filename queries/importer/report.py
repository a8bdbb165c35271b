"""The load report: what was read, loaded, quarantined and merged, per table and per source.

Why it states the identity explicitly: "nothing silently lost" is only believable if every row
read is accounted for — read = loaded (inserted + updated + unchanged) + quarantined + merged
duplicates — per table and for the whole load, and the report says so line by line. The same
report is printed by the CLI, returned to callers and stored as JSON in `load_runs.report`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from queries.bulk import UpsertCounts


@dataclass
class Counts:
    """Row counts of one table (or one source feeding one table)."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    merged_duplicates: int = 0  # identical rows collapsed into one (event logs, derived rows)

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged

    @property
    def reconciles(self) -> bool:
        return self.read == self.loaded + self.quarantined + self.merged_duplicates

    def add_upsert(self, u: UpsertCounts) -> None:
        self.inserted += u.inserted
        self.updated += u.updated
        self.unchanged += u.unchanged

    def add(self, other: Counts) -> None:
        for name in ("read", "inserted", "updated", "unchanged", "quarantined",
                     "merged_duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_dict(self) -> dict[str, int | bool]:
        return {**asdict(self), "loaded": self.loaded, "reconciles": self.reconciles}


@dataclass
class SourceCounts:
    """One source (file, frame, query) feeding one table."""

    source: str
    table: str
    counts: Counts = field(default_factory=Counts)


@dataclass
class LoadReport:
    """The outcome of one import call (one transaction)."""

    load_id: str
    source: str
    status: str = "running"  # running → ok | failed (interrupted: set by the next start)
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(
        microsecond=0))
    tables: dict[str, Counts] = field(default_factory=dict)
    sources: list[SourceCounts] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    # The extract's data cut-off: declared (mapping `extracted_at`, `--extracted-at`) or, when
    # none is, the latest event time among the rows loaded (`note_events`).
    extracted_at: dt.datetime | None = None
    latest_event: dt.datetime | None = None

    @property
    def cutoff(self) -> dt.datetime | None:
        """What load_runs.extracted_at records: the declared cut-off, else the latest event."""
        return self.extracted_at or self.latest_event

    def note_events(self, latest: dt.datetime | None) -> None:
        """Keep the latest event time seen in the rows loaded so far."""
        if latest is not None and (self.latest_event is None or latest > self.latest_event):
            self.latest_event = latest

    @property
    def ok(self) -> bool:
        """The load committed and every table's counts reconcile (quarantine is not failure)."""
        return self.status == "ok" and self.reconciles

    @property
    def clean(self) -> bool:
        """ok, and no row was quarantined."""
        return self.ok and self.quarantined == 0

    @property
    def reconciles(self) -> bool:
        return all(c.reconciles for c in self.tables.values())

    def table(self, name: str) -> Counts:
        return self.tables.setdefault(name, Counts())

    def _total(self, attr: str) -> int:
        return sum(getattr(c, attr) for c in self.tables.values())

    @property
    def read(self) -> int:
        return self._total("read")

    @property
    def loaded(self) -> int:
        return self._total("loaded")

    @property
    def quarantined(self) -> int:
        return self._total("quarantined")

    @property
    def merged_duplicates(self) -> int:
        return self._total("merged_duplicates")

    def to_dict(self) -> dict[str, Any]:
        return {
            "load_id": self.load_id,
            "source": self.source,
            "status": self.status,
            "ok": self.ok,
            "tables": {name: c.to_dict() for name, c in self.tables.items()},
            "sources": [
                {"source": s.source, "table": s.table, **s.counts.to_dict()} for s in self.sources
            ],
            "totals": {
                "read": self.read,
                "loaded": self.loaded,
                "quarantined": self.quarantined,
                "merged_duplicates": self.merged_duplicates,
                "reconciles": self.reconciles,
            },
            "warnings": list(self.warnings),
            "error": self.error,
            "extracted_at": self.cutoff.isoformat(sep=" ") if self.cutoff else None,
        }

    def format(self) -> str:
        """A short table a person can check at a glance: read = loaded + quarantined (+ merged)."""
        head = f"load {self.load_id} {self.status}"
        lines = [head, f"  source: {self.source}"]
        cols = ("table", "read", "inserted", "updated", "unchanged", "quarantined", "merged")
        rows = [cols]
        for name, c in self.tables.items():
            rows.append((name, *(f"{v:,}" for v in (c.read, c.inserted, c.updated, c.unchanged,
                                                     c.quarantined, c.merged_duplicates))))
        widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
        for r in rows:
            lines.append("  " + "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))
            ))
        for name, c in self.tables.items():
            merged = f" + {c.merged_duplicates:,} merged" if c.merged_duplicates else ""
            mark = "✓" if c.reconciles else "✗ DOES NOT RECONCILE"
            lines.append(
                f"  {name}: read {c.read:,} = loaded {c.loaded:,} + quarantined "
                f"{c.quarantined:,}{merged} {mark}"
            )
        if self.quarantined:
            lines.append(
                f"  {self.quarantined:,} row(s) quarantined: see table `quarantine` "
                f"(load_id = '{self.load_id}')"
            )
        if self.cutoff is not None:
            how = "declared" if self.extracted_at else "latest event time in the load"
            lines.append(f"  data cut-off: {self.cutoff:%Y-%m-%d %H:%M:%S} ({how})")
        lines += [f"  warning: {w}" for w in self.warnings]
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)
