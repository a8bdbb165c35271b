"""Time each dashboard page's first render and a filter change, via AppTest.

Run against whatever DATABASE_URL points at (the 20-million-case PostgreSQL data set for the
BENCHMARKS.md figures; the demo SQLite database for a quick look):

    DATABASE_URL=postgresql+psycopg2://… python bench/bench_pages.py [--repeat 3] [--json out.json]

For every page it measures, in a fresh AppTest session:

- first render: the app opened on the page with empty caches (what the first visitor after a
  data reload waits for; the query layer and the database do all the work);
- filter change (cold): one sidebar filter changed (a sector) — new cache keys, so new queries;
- filter change (warm): the same change again after switching back — served from the cache.

Targets (issue 4): first render < 2 s, filter change < 0.5 s once warm. `--check` exits
non-zero when a page misses them. AppTest runs the scripts in-process without a browser, so
the times are server-side; the browser adds its own rendering on top.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# As `xiaoneng serve` runs (xiaoneng/cli_serve.py): one BLAS thread per request. And the demo
# sign-in, so that the pages (not the login form) are measured; the bench reads, never writes.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XIAONENG_DEMO", "1")
PAGES = ("overview", "timeliness", "online", "cards", "reviews", "business_env", "drilldown",
         "bulletin", "data_admin", "definitions")
TARGET_FIRST_S, TARGET_CHANGE_S = 2.0, 0.5


def _entry(tmp: Path) -> str:
    """An entry script outside the repo root, so Streamlit never enters legacy pages/ mode."""
    path = tmp / "bench_entry.py"
    path.write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                    "from dashboard.shell import run\nrun()\n", encoding="utf-8")
    return str(path)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_page(entry: str, stem: str, timeout: float) -> dict[str, float | str | None]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    at = AppTest.from_file(entry, default_timeout=timeout)
    page = str(Path("pages") / f"{stem}.py")
    at.run()  # registers the pages (the default page renders here)
    if stem != "overview":
        st.cache_data.clear()  # the target page must start cold too
        at.switch_page(_relative(entry, ROOT / page))
    first = _timed(at.run) if stem != "overview" else None
    if first is None:  # the default page: time a fresh session with empty caches instead
        st.cache_data.clear()
        at = AppTest.from_file(entry, default_timeout=timeout)
        first = _timed(at.run)
    errors = [e.value for e in at.exception]
    out: dict[str, float | str | None] = {"page": stem, "first_render_s": round(first, 3)}
    sectors = at.multiselect(key="_f_sector").options if not errors else []
    if sectors:
        sector = sectors[0]
        out["filter_change_cold_s"] = round(
            _timed(lambda: at.multiselect(key="_f_sector").select(sector).run()), 3)
        at.multiselect(key="_f_sector").unselect(sector).run()
        out["filter_change_warm_s"] = round(
            _timed(lambda: at.multiselect(key="_f_sector").select(sector).run()), 3)
    else:
        out["filter_change_cold_s"] = out["filter_change_warm_s"] = None
    out["exception"] = "; ".join(errors)[:300] or None
    return out


def _relative(entry: str, target: Path) -> str:
    import os

    return os.path.relpath(target, Path(entry).parent)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", nargs="*", default=list(PAGES))
    p.add_argument("--repeat", type=int, default=1, help="runs per page (the median is kept)")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--check", action="store_true", help="exit 1 if a page misses a target")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from queries.engine import database_url

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        entry = _entry(Path(tmp))
        for stem in args.pages:
            runs = [bench_page(entry, stem, args.timeout) for _ in range(args.repeat)]
            row = dict(runs[-1])
            for k in ("first_render_s", "filter_change_cold_s", "filter_change_warm_s"):
                vals = [r[k] for r in runs if isinstance(r[k], float)]
                row[k] = round(statistics.median(vals), 3) if vals else None
            rows.append(row)
            print(f"{stem:14s} first {row['first_render_s']!s:>7} s   change cold "
                  f"{row['filter_change_cold_s']!s:>7} s   warm {row['filter_change_warm_s']!s:>7} s"
                  + (f"   EXCEPTION {row['exception']}" if row["exception"] else ""), flush=True)
    url = database_url()
    print(f"database: {url.split('@')[-1]}")
    if args.json:
        args.json.write_text(json.dumps({"database": url.split("@")[-1], "pages": rows},
                                        ensure_ascii=False, indent=2), encoding="utf-8")
    missed = [r["page"] for r in rows
              if r["exception"] or (r["first_render_s"] or 0) > TARGET_FIRST_S
              or (r["filter_change_warm_s"] or 0) > TARGET_CHANGE_S]
    if missed:
        print(f"over target (first < {TARGET_FIRST_S} s, warm change < {TARGET_CHANGE_S} s): "
              + ", ".join(missed))
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
