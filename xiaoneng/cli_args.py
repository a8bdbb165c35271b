"""Argument types shared by the `xiaoneng` subcommands (one spelling of a month everywhere)."""

from __future__ import annotations

import argparse
import datetime as dt


def month_arg(text: str) -> dt.date:
    """`YYYY-MM` → the first day of that month; argparse reports a bad value in one line."""
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}") from exc


def moment_arg(text: str) -> dt.datetime:
    """An ISO timestamp (naive = local time)."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an ISO timestamp, got {text!r}") from exc


def cutoff_arg(text: str) -> dt.datetime:
    """A data cut-off: an ISO timestamp, or a date meaning its last second (local time)."""
    text = text.strip()
    try:
        if len(text) <= 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(23, 59, 59))
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected a date or ISO timestamp (2026-10-31, 2026-10-31T18:00), got {text!r}"
        ) from exc
