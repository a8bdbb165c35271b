"""Import throughput into SQLite and PostgreSQL, with peak memory.

    .venv/bin/python bench/bench_import.py --cases 1000000 [--data DIR] [--skip-postgres]

Generates the demo city to Parquet once (cached), writes `cases` also as CSV, then imports the
whole directory (all six tables, validated, quarantine-checked, upserted) into a fresh SQLite
file and a fresh PostgreSQL database (COPY path), each in its own subprocess so that the peak
RSS printed is that import's own; then imports the same directory again ("re-import": every
key is stored, so every row goes through the identity check of issue 18 and is unchanged).
Prints a Markdown table for BENCHMARKS.md.

The baseline of a change is the same script run on the code before it: copy this file into a
checkout of the base commit (its `bench/`) and run it there with the same arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _import(url: str, path: Path) -> dict:
    from queries.calendar import seed_official
    from queries.engine import make_engine
    from queries.importer import import_paths
    from queries.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    seed_official(engine, 2024, 2026)
    t = time.perf_counter()
    report = import_paths(engine, [path], progress=False)
    wall = time.perf_counter() - t
    d = report.to_dict()
    rows = sum(v["read"] for v in d["tables"].values())
    quarantined = sum(v["quarantined"] for v in d["tables"].values())
    t = time.perf_counter()
    again = import_paths(engine, [path], progress=False).to_dict()
    rewall = time.perf_counter() - t
    unchanged = sum(v["unchanged"] for v in again["tables"].values())
    return {"wall_s": wall, "rows": rows, "quarantined": quarantined, "ok": report.ok,
            "reimport_s": rewall, "reimport_unchanged": unchanged,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cases", type=int, default=1_000_000)
    p.add_argument("--data", type=Path, default=ROOT / "data" / "bench")
    p.add_argument("--postgres", default=os.environ.get(
        "TEST_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--skip-postgres", action="store_true")
    p.add_argument("--child-url")
    p.add_argument("--child-path", type=Path)
    args = p.parse_args()
    if args.child_url:
        print(json.dumps(_import(args.child_url, args.child_path)))
        return

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_compute import ensure_data

    path = ensure_data(args.cases, args.data)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", f"sqlite:///{tmp}/bench.db", None)]
        if not args.skip_postgres:
            import sqlalchemy as sa

            name = f"xiaoneng_bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = sa.engine.make_url(args.postgres).set(database=name)
            targets.append(("PostgreSQL (COPY)", url.render_as_string(hide_password=False),
                            (admin, name)))
        for label, url, cleanup in targets:
            try:
                out = subprocess.run(
                    [sys.executable, __file__, "--child-url", url, "--child-path", str(path)],
                    check=True, capture_output=True, text=True)
                results.append((label, json.loads(out.stdout.strip().splitlines()[-1])))
            finally:
                if cleanup:
                    admin, name = cleanup
                    with admin.connect() as conn:
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    print(f"\n{args.cases:,} demo cases (all six tables), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| database | rows | wall | rows/s | re-import (unchanged) | peak RSS | quarantined |\n"
          "|---|---|---|---|---|---|---|")
    for label, r in results:
        print(f"| {label} | {r['rows']:,} | {r['wall_s']:.1f} s | {r['rows'] / r['wall_s']:,.0f} "
              f"| {r['reimport_s']:.1f} s ({r['reimport_unchanged']:,}) "
              f"| {r['peak_rss_gb']:.2f} GB | {r['quarantined']} |")


if __name__ == "__main__":
    main()
