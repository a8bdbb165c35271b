"""`write_parquet`: one `<table>.parquet` per contract table, the layout `xiaoneng import`
reads from a directory."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def write_parquet(tables: dict[str, pl.DataFrame], out_dir: Path) -> list[Path]:
    """Write each table to out_dir/<name>.parquet (zstd); returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = out_dir / f"{name}.parquet"
        frame.write_parquet(path, compression="zstd")
        paths.append(path)
    return paths
