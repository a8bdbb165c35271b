"""The monthly bulletin (月度通报): a frozen data model built from the query API (no rendering).

`build_bulletin(engine, month, scope)` → `Bulletin`; renderers live in the `reports` package,
published versions in `queries.bulletin_store`.
"""

from metrics.bulletin.build import build_bulletin, definitions_version
from metrics.bulletin.model import (
    Bulletin,
    Chart,
    Column,
    Frame,
    Scope,
    Section,
    Table,
    UnitNote,
)
from metrics.bulletin.rules import BulletinRules
from metrics.bulletin.scope import parse_scope, period_bounds, scope_filters

__all__ = [
    "Bulletin", "BulletinRules", "Chart", "Column", "Frame", "Scope", "Section", "Table",
    "UnitNote", "build_bulletin", "definitions_version", "parse_scope", "period_bounds",
    "scope_filters",
]
