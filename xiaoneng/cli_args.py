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
