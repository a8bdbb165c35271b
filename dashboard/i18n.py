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
    "freshness_job": {
        "zh": "指标计算于 {finished}（数据截至 {as_of}，计算月份 {months}，工作日历 {calendar}）",
        "en": "Metrics computed {finished} (data as of {as_of}, months {months}, calendar {calendar})",
    },
    "freshness_no_job": {
        "zh": "尚未运行指标计算。请在“数据管理”页运行计算，或执行 `xiaoneng compute --all`。",
        "en": "No metric job has run yet. Run one on the Data management page or with `xiaoneng compute --all`.",
    },
    "fallback_warning": {
        "zh": "注意：{years} 年没有官方工作日历，按周一至周五计算工作日。请在“数据管理”页导入节假日安排。",
        "en": "Warning: no official calendar for {years}; working days were counted Monday–Friday. Import the holiday notice on the Data management page.",
    },
    "no_facts": {
        "zh": "已有办件数据，但还没有计算指标。请在“数据管理”页点击“运行计算”，或执行 `xiaoneng compute --all`。",
        "en": "Cases are loaded but no metrics have been computed. Use “Run a job” on the Data management page, or run `xiaoneng compute --all`.",
    },
    "go_data_page": {"zh": "前往数据管理", "en": "Go to data management"},
    "no_rows_filter": {
        "zh": "当前筛选条件下没有数据。可放宽筛选（地区、条线、单位、事项类型、渠道）或选择其他月份。",
        "en": "Nothing matches the current filters. Widen them (region, sector, agency, item type, channel) or pick another month.",
    },
    # sections and pages
    "section_analysis": {"zh": "分析", "en": "Analysis"},
    "page_timeliness": {"zh": "办理时效", "en": "Timeliness"},
    "page_online": {"zh": "网上办理", "en": "Online services"},
    "page_cards": {"zh": "红黄牌预警", "en": "Warnings and cards"},
    "page_reviews": {"zh": "好差评", "en": "Citizen reviews"},
    "page_business_env": {"zh": "营商环境指数", "en": "Business environment"},
    "page_drilldown": {"zh": "单位分析", "en": "Unit drill-down"},
    "page_definitions": {"zh": "指标口径", "en": "Metric definitions"},
    # filters
    "filters": {"zh": "筛选", "en": "Filters"},
    "period_mode": {"zh": "时间", "en": "Period"},
    "mode_month": {"zh": "单月", "en": "Month"},
    "mode_range": {"zh": "区间", "en": "Range"},
    "month": {"zh": "月份", "en": "Month"},
    "month_from": {"zh": "起始月", "en": "From"},
    "month_to": {"zh": "截止月", "en": "To"},
    "region": {"zh": "地区", "en": "Region"},
    "all_regions": {"zh": "全部地区", "en": "All regions"},
    "sector": {"zh": "条线", "en": "Sector"},
    "agency": {"zh": "实施机关", "en": "Agency"},
    "item_type": {"zh": "事项类型", "en": "Item type"},
    "channel": {"zh": "渠道", "en": "Channel"},
    "all": {"zh": "全部", "en": "All"},
    "reset_filters": {"zh": "重置筛选", "en": "Reset filters"},
    "share_link": {"zh": "当前视图的链接已写入地址栏，可直接复制分享。", "en": "The address bar holds a link to this view; copy it to share."},
    # KPI tiles
    "period": {"zh": "期间", "en": "Period"},
    "mom": {"zh": "环比", "en": "vs last month"},
    "yoy": {"zh": "同比", "en": "vs last year"},
    "target": {"zh": "目标", "en": "Target"},
    "on_track": {"zh": "达标", "en": "on track"},
    "at_risk": {"zh": "未达标", "en": "at risk"},
    "n_cases": {"zh": "样本量 N={n}", "en": "N={n}"},
    "ci": {"zh": "95%置信区间 {lo}–{hi}", "en": "95% CI {lo}–{hi}"},
    "pp": {"zh": "个百分点", "en": "pp"},
    "tiles_for": {"zh": "指标值为 {period}", "en": "Values for {period}"},
    # overview
    "kpis": {"zh": "关键指标", "en": "Key indicators"},
    "trends": {"zh": "近12个月走势", "en": "12-month trends"},
    "top_bottom": {"zh": "先进与后进单位", "en": "Top and bottom units"},
    "rank_metric": {"zh": "排名指标", "en": "Ranking metric"},
    "top": {"zh": "前{n}名", "en": "Top {n}"},
    "bottom": {"zh": "后{n}名", "en": "Bottom {n}"},
    "unranked_note": {
        "zh": "样本量不足 {n} 件或无数据的单位列出但不参与排名。",
        "en": "Units with fewer than {n} cases or no data are listed but not ranked.",
    },
    "card_summary": {"zh": "红黄牌概况", "en": "Cards"},
    "be_summary": {"zh": "营商环境指数", "en": "Business-environment index"},
    "unit": {"zh": "单位", "en": "Unit"},
    "rank": {"zh": "排名", "en": "Rank"},
    "value": {"zh": "数值", "en": "Value"},
    "note": {"zh": "说明", "en": "Note"},
    "below_min_n": {"zh": "样本不足", "en": "too few cases"},
    "no_data": {"zh": "暂无数据", "en": "no data"},
    "target_line": {"zh": "目标", "en": "target"},
    # timeliness
    "used_days_dist": {"zh": "办结用时分布（工作日）", "en": "Working days used (completed cases)"},
    "used_days": {"zh": "用时（工作日）", "en": "Working days used"},
    "cases": {"zh": "件数", "en": "Cases"},
    "median": {"zh": "中位数", "en": "median"},
    "by_unit": {"zh": "分单位", "en": "By unit"},
    "grain": {"zh": "维度", "en": "Breakdown"},
    "grain_region": {"zh": "地区", "en": "Region"},
    "grain_agency": {"zh": "单位", "en": "Agency"},
    "grain_item": {"zh": "事项", "en": "Item"},
    "grain_channel": {"zh": "渠道", "en": "Channel"},
    "overdue_cases": {"zh": "超期办件", "en": "Overdue cases"},
    "total_rows": {"zh": "共 {n} 条", "en": "{n} in all"},
    "showing_rows": {"zh": "共 {total} 条，显示前 {shown} 条", "en": "{total} in all, first {shown} shown"},
    "month_of": {"zh": "（{month}）", "en": " ({month})"},
    # online
    "channel_mix": {"zh": "受理渠道构成", "en": "Channel mix of accepted cases"},
    "catalogue": {"zh": "事项目录", "en": "Service catalogue"},
    "online_depth": {"zh": "网办深度分布", "en": "Online depth"},
    "depth_level": {"zh": "{n}级", "en": "Level {n}"},
    "catalogue_note": {
        "zh": "事项目录指标不按单位和渠道划分；按单位或渠道筛选时不显示。",
        "en": "Catalogue metrics are not per agency or channel; they are hidden under those filters.",
    },
    "items": {"zh": "事项数", "en": "Items"},
    # cards
    "warnings_live": {"zh": "预警清单（临近时限的在办件）", "en": "Warnings (in progress, near the deadline)"},
    "warnings_as_of": {"zh": "截至 {as_of}", "en": "as of {as_of}"},
    "cards_by_unit": {"zh": "各单位红黄牌", "en": "Cards by unit"},
    "cards_by_month": {"zh": "红黄牌月度走势", "en": "Cards by month"},
    "card_list": {"zh": "红黄牌清单（点击一行查看办件时间线）", "en": "Card list (click a row for the case timeline)"},
    "yellow": {"zh": "黄牌", "en": "yellow"},
    "red": {"zh": "红牌", "en": "red"},
    "revoked": {"zh": "已撤销", "en": "revoked"},
    "open": {"zh": "未办结", "en": "open"},
    "case_timeline": {"zh": "办件时间线", "en": "Case timeline"},
    "pick_case": {"zh": "在上表中点击一行，查看该办件的时间线。", "en": "Click a row above to see the case's timeline."},
    "ev_submitted": {"zh": "申请", "en": "submitted"},
    "ev_accepted": {"zh": "受理", "en": "accepted"},
    "ev_due": {"zh": "承诺办结日期", "en": "due"},
    "ev_completed": {"zh": "办结", "en": "completed"},
    "ev_suspended": {"zh": "挂起", "en": "suspended"},
    "ev_card": {"zh": "发牌", "en": "card issued"},
    "non_working": {"zh": "非工作日", "en": "non-working day"},
    "today_as_of": {"zh": "计算时点", "en": "as of"},
    "case_facts_label": {"zh": "办件信息", "en": "Case"},
    "case_id": {"zh": "办件编号", "en": "Case id"},
    "suspensions": {"zh": "挂起记录", "en": "Suspensions"},
    # reviews
    "reviews_by_channel": {"zh": "各评价渠道评价量", "en": "Reviews by channel"},
    "five_levels": {"zh": "五级评价分布", "en": "Five-level distribution"},
    "level_1": {"zh": "非常不满意", "en": "very dissatisfied"},
    "level_2": {"zh": "不满意", "en": "dissatisfied"},
    "level_3": {"zh": "基本满意", "en": "fair"},
    "level_4": {"zh": "满意", "en": "satisfied"},
    "level_5": {"zh": "非常满意", "en": "very satisfied"},
    "bad_tags": {"zh": "差评标签", "en": "Bad-review tags"},
    "rectification": {"zh": "差评整改情况", "en": "Rectification of bad reviews"},
    "rectified_on_time": {"zh": "按期整改", "en": "rectified in time"},
    "rectified_late": {"zh": "逾期整改", "en": "rectified late"},
    "open_in_time": {"zh": "整改中（未逾期）", "en": "open, not yet due"},
    "open_overdue": {"zh": "逾期未整改", "en": "open and overdue"},
    "overdue_rectifications": {"zh": "逾期未整改差评", "en": "Overdue rectifications"},
    "rate_with_ci": {"zh": "好评率与差评率（含95%置信区间）", "en": "Good and bad review rates (95% CI)"},
    # business environment
    "be_by_region": {"zh": "各地区营商环境指数", "en": "Index by region"},
    "be_trend": {"zh": "指数月度走势", "en": "Index by month"},
    "be_subs": {"zh": "子指标得分与贡献", "en": "Sub-indicator scores and contributions"},
    "be_bounds": {"zh": "前沿值与最差值（固定）", "en": "Frontier and worst bounds (fixed)"},
    "frontier": {"zh": "前沿值", "en": "frontier"},
    "worst": {"zh": "最差值", "en": "worst"},
    "score": {"zh": "得分", "en": "score"},
    "weight": {"zh": "权重", "en": "weight"},
    "contribution": {"zh": "贡献", "en": "contribution"},
    "indicator": {"zh": "子指标", "en": "Sub-indicator"},
    "pillar": {"zh": "板块", "en": "Pillar"},
    "pillar_business_startup": {"zh": "开办企业", "en": "Starting a business"},
    "pillar_construction": {"zh": "工程建设审批", "en": "Construction permits"},
    "pillar_property": {"zh": "不动产登记", "en": "Registering property"},
    "pillar_government_service": {"zh": "政务服务", "en": "Government services"},
    "be_region_pick": {"zh": "查看地区", "en": "Region"},
    "be_filter_note": {
        "zh": "营商环境指数按地区计算；条线、单位、事项、渠道筛选对本页不适用。",
        "en": "The index is computed per region; sector, agency, item and channel filters do not apply here.",
    },
    # drill-down
    "drill_metric": {"zh": "分析指标", "en": "Metric"},
    "drill_cases_metric": {"zh": "办件清单口径", "en": "Case list of"},
    "drill_hint": {"zh": "点击表格行或图中柱形逐级下钻：地区 → 单位 → 事项 → 办件。", "en": "Click a row or a bar to drill down: region → agency → item → case."},
    "back": {"zh": "返回上一级", "en": "Back"},
    "level_regions": {"zh": "地区", "en": "Regions"},
    "level_agencies": {"zh": "单位", "en": "Agencies"},
    "level_items": {"zh": "事项", "en": "Items"},
    "level_cases": {"zh": "办件", "en": "Cases"},
    "export_csv": {"zh": "导出 CSV", "en": "Export CSV"},
    "export_xlsx": {"zh": "导出 Excel", "en": "Export Excel"},
    "part": {"zh": "范围", "en": "Part"},
    "part_numerator": {"zh": "分子（计入的办件）", "en": "numerator"},
    "part_denominator": {"zh": "分母（全部办件）", "en": "denominator"},
    "part_complement": {"zh": "未达标办件", "en": "the rest"},
    "page_no": {"zh": "页码", "en": "Page"},
    # data admin
    "upload": {"zh": "上传数据文件", "en": "Upload a file"},
    "upload_help": {
        "zh": "CSV、Excel 或 Parquet；选择它对应的契约表，核对列映射后导入。",
        "en": "CSV, Excel or Parquet; pick the contract table it feeds, check the column mapping, then import.",
    },
    "target_table": {"zh": "导入到表", "en": "Contract table"},
    "preview": {"zh": "预览（前 20 行）", "en": "Preview (first 20 rows)"},
    "column_mapping": {"zh": "列映射（契约列 ← 文件列）", "en": "Column mapping (contract column ← file column)"},
    "unmapped": {"zh": "（不导入）", "en": "(not mapped)"},
    "do_import": {"zh": "导入", "en": "Import"},
    "load_report": {"zh": "导入报告", "en": "Load report"},
    "import_failed": {"zh": "导入被拒绝：{reason}", "en": "Import refused: {reason}"},
    "import_ok": {"zh": "导入完成：读取 {read} 行，载入 {loaded} 行，隔离 {quarantined} 行。请运行指标计算以更新看板。", "en": "Imported: {read} read, {loaded} loaded, {quarantined} quarantined. Run a metric job to update the dashboard."},
    "quarantine": {"zh": "隔离区", "en": "Quarantine"},
    "rule": {"zh": "规则", "en": "Rule"},
    "download_csv": {"zh": "下载 CSV", "en": "Download CSV"},
    "quarantine_empty": {"zh": "隔离区为空：所有读入的行都已载入。", "en": "The quarantine is empty: every row read was loaded."},
    "calendar": {"zh": "工作日历", "en": "Working-day calendar"},
    "year": {"zh": "年份", "en": "Year"},
    "calendar_edit": {"zh": "编辑（修改“是否工作日”或名称后保存）", "en": "Edit (change workday or name, then save)"},
    "save": {"zh": "保存", "en": "Save"},
    "saved_days": {"zh": "已保存 {n} 天。日历变更后请重新运行计算。", "en": "Saved {n} days. Rerun the metric job for the change to take effect."},
    "workdays_in_year": {"zh": "{year} 年工作日 {n} 天", "en": "{year}: {n} working days"},
    "job_runs": {"zh": "计算记录", "en": "Job runs"},
    "run_job": {"zh": "运行计算", "en": "Run a job"},
    "as_of": {"zh": "计算时点", "en": "As of"},
    "all_months": {"zh": "全部月份", "en": "All months"},
    "job_done": {"zh": "计算完成：{summary}", "en": "Job finished: {summary}"},
    "job_failed": {"zh": "计算失败：{reason}", "en": "Job failed: {reason}"},
    "calendar_empty": {"zh": "该年份没有日历数据。", "en": "No calendar rows for this year."},
    # definitions
    "definition": {"zh": "口径", "en": "Definition"},
    "formula": {"zh": "计算公式", "en": "Formula"},
    "numerator": {"zh": "分子", "en": "Numerator"},
    "denominator": {"zh": "分母", "en": "Denominator"},
    "unit_label": {"zh": "单位", "en": "Unit"},
    "direction": {"zh": "方向", "en": "Direction"},
    "dir_higher": {"zh": "越高越好", "en": "higher is better"},
    "dir_lower": {"zh": "越低越好", "en": "lower is better"},
    "dir_neutral": {"zh": "中性（规模指标）", "en": "neutral (volume)"},
    "source": {"zh": "依据", "en": "Source"},
    "settings_in_force": {"zh": "适用设置", "en": "Settings in force"},
    "all_settings": {"zh": "当前全部设置", "en": "All settings in force"},
    "query_rules": {"zh": "汇总与比较规则", "en": "Roll-up and comparison rules"},
    "metric_id": {"zh": "指标编号", "en": "Metric id"},
    "kind": {"zh": "类型", "en": "Kind"},
    "family_volume": {"zh": "办件量", "en": "Volumes"},
    "family_timeliness": {"zh": "办理时效", "en": "Timeliness"},
    "family_online": {"zh": "网上办理", "en": "Online"},
    "family_catalogue": {"zh": "事项目录", "en": "Catalogue"},
    "family_cards": {"zh": "红黄牌", "en": "Cards"},
    "family_reviews": {"zh": "好差评", "en": "Reviews"},
    "family_business_env": {"zh": "营商环境", "en": "Business environment"},
    "definition_panel": {"zh": "指标口径", "en": "Definitions"},
}



def translate(key: str, lang: str = "zh", **fmt: object) -> str:
    """The string for `key` in `lang`, falling back to Chinese, then to the key itself."""
    entry = STRINGS.get(key, {})
    text = entry.get(lang) or entry.get("zh") or key
    return text.format(**fmt) if fmt else text


def enum_label(kind: str, value: str | None, lang: str = "zh") -> str:
    """Display label of a contract enum value (channel, item type…): Chinese label or the code.

    The Chinese labels are the contract's own (`queries.contract`), so the importer and the
    dashboard agree on what 窗口 or 行政许可 means.
    """
    if value is None:
        return "—"
    if lang != "zh":
        return value.replace("_", " ")
    return _ENUM_ZH.get(kind, {}).get(value, value)


def _first_labels(labels: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for label, canon in labels.items():
        out.setdefault(canon, label)
    return out


def _enum_zh() -> dict[str, dict[str, str]]:
    from queries import contract

    return {
        "channel": _first_labels(contract.CHANNEL_LABELS),
        "review_channel": _first_labels(contract.REVIEW_CHANNEL_LABELS),
        "item_type": _first_labels(contract.ITEM_TYPE_LABELS),
        "status": _first_labels(contract.CASE_STATUS_LABELS),
        "reason": _first_labels(contract.SUSPENSION_REASON_LABELS),
    }


_ENUM_ZH = _enum_zh()
