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
    assert any(m.value.startswith("关于") and m.value.endswith("政务服务效能情况的通报")
               for m in at.subheader)
    assert len(at.dataframe) >= 10
    _button(at, "发布", "Publish").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("第1版" in m.value for m in at.success)
    assert any(" · v1 · " in e.label for e in at.expander)


def test_the_office_edits_its_texts_on_the_page_audited(demo_copy, monkeypatch):
    from queries import audit
    from queries import bulletin_store as store

    monkeypatch.setenv("DATABASE_URL", str(demo_copy.url))
    monkeypatch.setenv("XIAONENG_DEMO", "1")
    monkeypatch.setenv("XIAONENG_DEMO_ROLE", "supervisor")
    at = AppTest.from_file(ENTRY, default_timeout=180).run()
    at.switch_page(page_path("bulletin")).run()
    at.text_input(key="ot_cc").set_value("市委办公室，市政府办公室。")
    at.text_area(key="ot_requirements").set_value("请于5个工作日内反馈。")
    _button(at, "保存", "Save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("cc" in m.value for m in at.success)
    texts = store.office_texts(demo_copy, "city:331200")
    assert texts["cc"] == "市委办公室，市政府办公室。"
    assert texts["requirements"] == ["请于5个工作日内反馈。"]
    assert audit.entries(demo_copy, action="bulletin_texts").height == 1
