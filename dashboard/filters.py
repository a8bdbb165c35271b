"""The sidebar filter as one value object, and its URL form.

`ViewFilters` is what the user chose (a month or month range, a region subtree, sectors,
agencies, item types, channels). It is frozen and made of tuples so it can key caches, and it
round-trips through a query string (`to_query` / `from_query`) so a view can be shared as a
link. Values in a URL that the data does not know (a stale agency code, a month without
facts) are dropped rather than failing the page: a shared link from last year still opens.

Pure Python: no Streamlit here; `dashboard.sidebar` renders the widgets and syncs the URL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from queries.extracts import Filters, region_children, subtree_codes

# query-string keys (short, stable: they are part of shared links)
Q_FROM, Q_TO, Q_REGION, Q_SECTOR, Q_AGENCY, Q_TYPE, Q_CHANNEL = (
    "from", "to", "region", "sector", "agency", "type", "channel",
)
FILTER_KEYS: tuple[str, ...] = (Q_FROM, Q_TO, Q_REGION, Q_SECTOR, Q_AGENCY, Q_TYPE, Q_CHANNEL)


def month_key(d: dt.date) -> str:
    return f"{d:%Y-%m}"


def parse_month(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        y, m = str(text).strip()[:7].split("-")
        return dt.date(int(y), int(m), 1)
    except (ValueError, TypeError):
        return None


# The default month is the latest whose volume (cases accepted) is at least this share of the
# usual monthly volume: the median over the latest USUAL_MONTHS months with facts.
DEFAULT_MONTH_SHARE = 0.5
USUAL_MONTHS = 12


@dataclass(frozen=True)
class DefaultMonth:
    """The month a view opens on, and why (shown in one line under the month picker)."""

    month: dt.date
    reason: str  # i18n key: default_latest | default_skipped | default_complete
    usual: int = 0  # the usual monthly volume (median of the latest months)
    skipped: tuple[tuple[dt.date, int], ...] = ()  # later months passed over, with volumes
    volume: int = 0  # cases accepted in `month`


def default_month(volumes: Sequence[tuple[dt.date, int]], cutoff: dt.datetime | None = None,
                  share: float = DEFAULT_MONTH_SHARE) -> DefaultMonth | None:
    """The latest month whose volume is at least `share` × the usual monthly volume.

    Why: the last month with any data may hold a handful of cases (a log that stops on the
    2nd, a permit log whose last month has one case), and tiles computed on it read 暂无数据 or
    swing wildly. The usual volume is the median over the latest USUAL_MONTHS months with
    data. When no month has a volume (all zero), the latest complete month: the last one
    that ended by the data cut-off (else the month before the last). None: no months at all.
    """
    rows = sorted((m, int(v or 0)) for m, v in volumes)
    if not rows:
        return None
    recent = sorted(v for _, v in rows[-USUAL_MONTHS:])
    usual = recent[(len(recent) - 1) // 2] if len(recent) % 2 else (
        recent[len(recent) // 2 - 1] + recent[len(recent) // 2]) // 2
    if usual > 0:
        for i in range(len(rows) - 1, -1, -1):
            m, v = rows[i]
            if v >= share * usual:
                return DefaultMonth(m, "default_latest" if i == len(rows) - 1
                                    else "default_skipped", usual, tuple(rows[i + 1:]), v)
    months = [m for m, _ in rows]
    # complete: its last second is not after the cut-off
    complete = [m for m in months if cutoff is not None
                and dt.datetime.combine(_next_month(m), dt.time())
                <= cutoff + dt.timedelta(seconds=1)]
    month = complete[-1] if complete else months[-2] if len(months) > 1 else months[-1]
    return DefaultMonth(month, "default_complete", usual, (), dict(rows)[month])


def _next_month(m: dt.date) -> dt.date:
    return dt.date(m.year + m.month // 12, m.month % 12 + 1, 1)


@dataclass(frozen=True)
class FilterOptions:
    """What the filters can offer, read from the data (months with facts, dimension tables)."""

    months: tuple[dt.date, ...] = ()
    regions: tuple[tuple[str, str, str | None, str], ...] = ()  # code, name, parent, level
    sectors: tuple[str, ...] = ()
    agencies: tuple[tuple[str, str, str, str], ...] = ()  # code, name, region, sector
    item_types: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    region_names: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # cases accepted per month with facts, and the data cut-off: what the default month is
    # chosen from (`default_month`)
    volumes: tuple[tuple[dt.date, int], ...] = ()
    cutoff: dt.datetime | None = None

    @property
    def latest_month(self) -> dt.date | None:
        return self.months[-1] if self.months else None

    @property
    def default(self) -> DefaultMonth | None:
        """The month a view opens on (the latest month with facts when volumes are unknown)."""
        chosen = default_month([(m, v) for m, v in self.volumes if m in set(self.months)],
                               self.cutoff)
        if chosen is None and self.latest_month is not None:
            return DefaultMonth(self.latest_month, "default_latest")
        return chosen

    def subtree(self, code: str | None) -> set[str] | None:
        if code is None:
            return None
        children = region_children((c, parent) for c, _, parent, _ in self.regions)
        return set(subtree_codes(children, [code]))


@dataclass(frozen=True)
class ViewFilters:
    month_from: dt.date
    month_to: dt.date
    region: str | None = None
    sectors: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    item_types: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    @property
    def is_range(self) -> bool:
        return self.month_from != self.month_to

    def to_query(self) -> dict[str, str | list[str]]:
        """The URL form; the month is always written so a shared link shows the same month."""
        q: dict[str, str | list[str]] = {Q_FROM: month_key(self.month_from),
                                         Q_TO: month_key(self.month_to)}
        if self.region:
            q[Q_REGION] = self.region
        for key, values in ((Q_SECTOR, self.sectors), (Q_AGENCY, self.agencies),
                            (Q_TYPE, self.item_types), (Q_CHANNEL, self.channels)):
            if values:
                q[key] = list(values)
        return q

    @classmethod
    def default(cls, options: FilterOptions) -> ViewFilters:
        """The default month (`FilterOptions.default`), everything else unfiltered."""
        chosen = options.default
        m = chosen.month if chosen else dt.date.today().replace(day=1)
        return cls(m, m)

    @classmethod
    def from_query(cls, query: Mapping[str, Sequence[str] | str], options: FilterOptions
                   ) -> ViewFilters:
        """Parse a query string, keeping only values the data knows."""

        def many(key: str) -> list[str]:
            raw = query.get(key) or []
            return [raw] if isinstance(raw, str) else [str(v) for v in raw]

        def one(key: str) -> str | None:
            vals = many(key)
            return vals[-1] if vals else None

        default = cls.default(options)
        months = set(options.months)
        m_from = parse_month(one(Q_FROM))
        m_to = parse_month(one(Q_TO))
        if months:
            m_from = m_from if m_from in months else None
            m_to = m_to if m_to in months else None
        m_to = m_to or m_from or default.month_to
        m_from = m_from or m_to
        if m_from > m_to:
            m_from, m_to = m_to, m_from
        region_codes = {r[0] for r in options.regions}
        region = one(Q_REGION)
        region = region if region in region_codes else None
        agencies = {a[0] for a in options.agencies}
        return cls(
            m_from, m_to, region,
            _keep(many(Q_SECTOR), options.sectors),
            _keep(many(Q_AGENCY), agencies),
            _keep(many(Q_TYPE), options.item_types),
            _keep(many(Q_CHANNEL), options.channels),
        )

    def to_filters(self, allowed_agencies: tuple[str, ...] | None = None) -> Filters:
        """The query layer's filter (with the user's access scope applied)."""
        return Filters(self.month_from, self.month_to, self.region, self.sectors,
                       self.agencies, self.item_types, (), self.channels, allowed_agencies)


def _keep(values: Sequence[str], known: Sequence[str] | set[str]) -> tuple[str, ...]:
    known = set(known)
    return tuple(sorted({v for v in values if v in known}))
