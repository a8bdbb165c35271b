"""Audited downloads: every st.download_button hands out its file through `audited_download`.

A download lets data out, so it writes one audit row (action `export`: who, role, scope, what,
format, rows) when the user clicks — not when the page draws the button — and only then are
the bytes handed to the browser: if the row cannot be written, nothing is downloaded. The
callable runs outside the script run (Streamlit's deferred download), so it captures the user
and the engine now.

Streamlit's own table toolbar download and copy are switched off for everyone
(`client.disableDataExport` in .streamlit/config.toml): the buttons built here are the only
way a table leaves the dashboard. Spreadsheet files are written by `queries.spreadsheet_cells`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dashboard.state import engine
from queries import audit
from xiaoneng.authz import User

Payload = Callable[[], tuple[bytes, Mapping[str, Any]]]
"""Builds the file: its bytes and what to add to the audit detail (e.g. the row count)."""


def audited_download(user: User, what: str, fmt: str, make: Payload,
                     detail: Mapping[str, Any] | None = None) -> Callable[[], bytes]:
    """A deferred `data=` callable for st.download_button that audits each download once."""
    eng = engine()
    base = {"via": "dashboard", "what": what, "format": fmt, **(detail or {})}

    def build() -> bytes:
        data, outcome = make()
        audit.record(eng, user.username, "export", role=user.role, scope=user.scope_label,
                     detail={**base, **outcome})
        return data

    return build


def audited_bytes(user: User, what: str, fmt: str, data: bytes,
                  detail: Mapping[str, Any] | None = None) -> Callable[[], bytes]:
    """`audited_download` of bytes already built (a rendered or stored bulletin file)."""
    return audited_download(user, what, fmt, lambda: (data, {"bytes": len(data)}), detail)
