"""The 月度通报 page renders a preview, publishes, and lists versions (Streamlit AppTest)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.conftest import ENTRY, page_path


def _button(at: AppTest, *labels: str):
    return next(b for b in at.button if b.label in labels)


def test_page_previews_publishes_and_lists_versions(demo_copy, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(demo_copy.url))
    monkeypatch.setenv("XIAONENG_DEMO", "1")  # signed in as the demo supervisor (may publish)
    monkeypatch.setenv("XIAONENG_DEMO_ROLE", "supervisor")
    at = AppTest.from_file(ENTRY, default_timeout=180).run()
    at.switch_page(page_path("bulletin")).run()
    assert not at.exception, [e.value for e in at.exception]
    _button(at, "生成预览", "Build preview").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("政务服务效能月度通报" in m.value for m in at.subheader)
    assert len(at.dataframe) >= 10
    _button(at, "发布", "Publish").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("第1版" in m.value for m in at.success)
    assert any(e.label.startswith("v1") for e in at.expander)
