"""PostgreSQL's binary COPY format, built from a Polars frame with numpy (no per-row Python).

Why: the fact writes of a full recompute are millions of rows of small integers; in binary
COPY the server copies each field as it is instead of parsing its text, and the client skips
formatting CSV. The layout (PostgreSQL documentation, "COPY — Binary Format"): an 11-byte
signature, a 32-bit flags word and a 32-bit header-extension length; then per row a 16-bit
field count and, per field, a 32-bit byte length (−1 for NULL) followed by the value in the
type's binary send format (big-endian integers and floats, a one-byte boolean, dates as days
and timestamps as microseconds since 2000-01-01, text as its UTF-8 bytes); then a 16-bit −1.

Binary COPY needs the exact column type on both sides, so every value is encoded as the
target column's SQLAlchemy type says (an Int64 frame column going to an INTEGER column is
sent as 4 bytes).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import sqlalchemy as sa

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
# 2000-01-01, PostgreSQL's epoch, in days and microseconds since 1970-01-01.
_PG_EPOCH_DAYS = 10_957
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400 * 1_000_000


def _fixed(series: pl.Series, sa_type: sa.types.TypeEngine) -> tuple[np.ndarray, int]:
    """(n × width uint8 array of big-endian values, width) for a fixed-width column type."""
    if isinstance(sa_type, sa.Boolean):
        values, width = series.cast(pl.UInt8).fill_null(0).to_numpy().astype("u1"), 1
    elif isinstance(sa_type, sa.SmallInteger):
        values, width = series.cast(pl.Int16).fill_null(0).to_numpy().astype(">i2"), 2
    elif isinstance(sa_type, sa.BigInteger):
        values, width = series.cast(pl.Int64).fill_null(0).to_numpy().astype(">i8"), 8
    elif isinstance(sa_type, sa.Integer):
        values, width = series.cast(pl.Int32).fill_null(0).to_numpy().astype(">i4"), 4
    elif isinstance(sa_type, sa.Float):
        values, width = series.cast(pl.Float64).fill_null(0.0).to_numpy().astype(">f8"), 8
    elif isinstance(sa_type, sa.DateTime):
        us = series.cast(pl.Datetime("us")).cast(pl.Int64).fill_null(0) - _PG_EPOCH_US
        values, width = us.to_numpy().astype(">i8"), 8
    elif isinstance(sa_type, sa.Date):
        days = series.cast(pl.Date).cast(pl.Int32).fill_null(0) - _PG_EPOCH_DAYS
        values, width = days.to_numpy().astype(">i4"), 4
    else:
        raise TypeError(f"no binary COPY encoding for {sa_type!r}")
    return np.ascontiguousarray(values).view(np.uint8).reshape(-1, width), width


def _text(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes of all values, n + 1 offsets into them) of a text column."""
    import pyarrow as pa

    arr = series.cast(pl.String).rechunk().to_arrow()
    arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return data, offsets


def _put(buf: np.ndarray, pos: np.ndarray, raw: np.ndarray) -> None:
    """Write row r's bytes raw[r] at buf[pos[r]:pos[r] + width]."""
    if len(pos):
        buf[pos[:, None] + np.arange(raw.shape[1])] = raw


def encode(df: pl.DataFrame, table: sa.Table) -> bytes:
    """`df` (columns named as `table`'s, in the COPY's column order) in binary COPY format."""
    n = df.height
    columns = [(s, table.c[s.name].type) for s in df.iter_columns()]
    # Per column: field lengths (−1 for NULL) and the encoded values.
    lengths: list[np.ndarray] = []
    encoded: list[tuple[str, object]] = []
    for series, sa_type in columns:
        null = series.is_null().to_numpy()
        if isinstance(sa_type, sa.String):  # String, Text, VARCHAR(n)
            data, offsets = _text(series)
            lens = np.diff(offsets)
            encoded.append(("text", (data, offsets)))
        else:
            raw, width = _fixed(series, sa_type)
            lens = np.full(n, width, dtype=np.int64)
            encoded.append(("fixed", raw))
        lengths.append(np.where(null, -1, lens).astype(np.int64))
    row_bytes = np.full(n, 2, dtype=np.int64)
    for lens in lengths:
        row_bytes += 4 + np.maximum(lens, 0)
    starts = len(HEADER) + np.concatenate([[0], np.cumsum(row_bytes)[:-1]]).astype(np.int64)
    total = len(HEADER) + int(row_bytes.sum()) + len(TRAILER)
    buf = np.zeros(total, dtype=np.uint8)
    buf[: len(HEADER)] = np.frombuffer(HEADER, dtype=np.uint8)
    buf[-len(TRAILER):] = np.frombuffer(TRAILER, dtype=np.uint8)
    field_count = np.full(n, len(columns), dtype=">i2").view(np.uint8).reshape(-1, 2)
    _put(buf, starts, field_count)
    pos = starts + 2
    for lens, (kind, values) in zip(lengths, encoded, strict=True):
        _put(buf, pos, lens.astype(">i4").view(np.uint8).reshape(-1, 4))
        pos = pos + 4
        valid = lens >= 0
        if kind == "fixed":
            _put(buf, pos[valid], values[valid])  # type: ignore[index]
        else:
            data, offsets = values  # type: ignore[misc]
            size = lens[valid]
            if size.sum():
                within = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
                buf[np.repeat(pos[valid], size) + within] = \
                    data[np.repeat(offsets[:-1][valid], size) + within]
        pos = pos + np.maximum(lens, 0)
    return buf.tobytes()


__all__ = ["encode"]
