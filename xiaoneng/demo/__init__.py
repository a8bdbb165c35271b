"""Seeded, realistic demo data: a fictional 地级市 (越川市) and its government-service log.

`generate` returns the contract tables (regions, agencies, items, cases, suspensions,
reviews) as Polars frames; `write_parquet` writes them for `xiaoneng import`.
`LAGGING_AGENCIES` lists the deliberately injected effects (see docs/demo_data.md).
"""

from xiaoneng.demo.effects import LAGGING_AGENCIES, Injection
from xiaoneng.demo.generator import generate
from xiaoneng.demo.writer import write_parquet

__all__ = ["LAGGING_AGENCIES", "Injection", "generate", "write_parquet"]
