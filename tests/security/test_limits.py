"""The server's configured limits are the documented ones: the upload size (server.maxUploadSize,
stated in README and SECURITY.md) and no built-in table export (client.disableDataExport),
as Streamlit itself reads them from the project's .streamlit/config.toml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project_config(monkeypatch):
    from streamlit import config

    monkeypatch.chdir(ROOT)  # `xiaoneng serve` runs Streamlit from here
    config.get_config_options(force_reparse=True)
    yield config
    config.get_config_options(force_reparse=True)


def _documented_upload_mb(path: Path) -> set[int]:
    text = path.read_text(encoding="utf-8")
    return {int(n) for n in re.findall(r"server\.maxUploadSize[^0-9\n]*(\d+)\s*MB", text)}


def test_upload_limit_is_set_and_is_the_documented_value(project_config) -> None:
    limit = project_config.get_option("server.maxUploadSize")
    assert limit < 200  # Streamlit's default is 200 MB
    assert _documented_upload_mb(ROOT / "README.md") == {limit}
    assert _documented_upload_mb(ROOT / "SECURITY.md") == {limit}


def test_streamlit_table_export_is_off_for_every_session(project_config) -> None:
    assert project_config.get_option("client.disableDataExport") is True
