"""UI strings in Simplified Chinese (default) and English.

Pages call `t(key)`; the language lives in the session and the URL (`?lang=en`). Metric names
are not here: they come from the metric registry, which carries both languages.
"""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "app_title": {"zh": "政务服务效能监测", "en": "Government Service Efficiency Monitor"},
    "language": {"zh": "语言 / Language", "en": "Language / 语言"},
    "section_monitor": {"zh": "监测", "en": "Monitoring"},
    "section_supervise": {"zh": "督查", "en": "Supervision"},
    "section_admin": {"zh": "管理", "en": "Administration"},
    "page_overview": {"zh": "总览", "en": "Overview"},
    "page_data": {"zh": "数据管理", "en": "Data management"},
    "page_bulletin": {"zh": "月度通报", "en": "Monthly bulletin"},
    "bulletin_pending": {
        "zh": "月度通报的生成、预览与发布功能正在建设中；可先用 `xiaoneng export` 导出指标。",
        "en": "Bulletin generation, preview and publishing are being built; use `xiaoneng export` meanwhile.",
    },
    "no_schema": {
        "zh": "数据库尚未初始化。请运行 `xiaoneng init-db`，再用 `xiaoneng import` 导入数据或用 `xiaoneng generate` 生成演示数据。",
        "en": "The database is not initialised. Run `xiaoneng init-db`, then `xiaoneng import` your data or `xiaoneng generate` demo data.",
    },
    "no_cases": {
        "zh": "尚无办件数据。请在“数据管理”页上传文件，或运行 `xiaoneng import PATH` / `xiaoneng generate`。",
        "en": "No cases yet. Upload a file on the Data management page, or run `xiaoneng import PATH` / `xiaoneng generate`.",
    },
    "db_unreachable": {
        "zh": "无法连接数据库：{reason}。请检查 DATABASE_URL 或数据库服务后重试。",
        "en": "Cannot reach the database: {reason}. Check DATABASE_URL or the database server, then retry.",
    },
    "retry": {"zh": "重试", "en": "Retry"},
    "rows_loaded": {"zh": "已载入数据", "en": "Loaded data"},
    "table": {"zh": "数据表", "en": "Table"},
    "rows": {"zh": "行数", "en": "Rows"},
    "last_load": {"zh": "最近一次导入", "en": "Last load"},
    "calendar_years": {"zh": "工作日历覆盖年份", "en": "Calendar years covered"},
    "recent_loads": {"zh": "导入记录", "en": "Load runs"},
    "freshness": {"zh": "数据截至 {when}（导入批次 {load}）", "en": "Data as of {when} (load {load})"},
}


def translate(key: str, lang: str = "zh", **fmt: object) -> str:
    """The string for `key` in `lang`, falling back to Chinese, then to the key itself."""
    entry = STRINGS.get(key, {})
    text = entry.get(lang) or entry.get("zh") or key
    return text.format(**fmt) if fmt else text
