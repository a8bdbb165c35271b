"""The input contract (../shared/spec/contract.md) declared once, as data.

Everything that needs to know the shape of the transaction log reads it from here: the
SQLAlchemy schema, the importer (header and enum mapping, validation), the demo generator and
the tests. Keeping it as plain data means a new column is added in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DType = Literal["text", "int", "bool", "timestamp", "date", "enum"]


@dataclass(frozen=True)
class Column:
    """One contract column.

    `enum_labels` maps every accepted Chinese (or alternative) label to its canonical value;
    canonical values themselves are always accepted.
    """

    name: str
    zh: str
    dtype: DType
    nullable: bool = False
    enum: tuple[str, ...] = ()
    enum_labels: dict[str, str] = field(default_factory=dict)
    ref: tuple[str, str] | None = None  # (table, column) this column references
    min_value: int | None = None
    max_value: int | None = None
    default: object | None = None  # value used when the column is missing from a file


@dataclass(frozen=True)
class Table:
    """One contract table: its columns and its primary key."""

    name: str
    zh: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def zh_headers(self) -> dict[str, str]:
        """Chinese header → column name."""
        return {c.zh: c.name for c in self.columns}


def _labels(pairs: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Invert {canonical: (label, …)} into {label: canonical}."""
    return {label: canon for canon, labels in pairs.items() for label in labels}


REGION_LEVELS = ("province", "city", "county", "town", "village")
REGION_LEVEL_LABELS = _labels(
    {
        "province": ("省", "省级"),
        "city": ("市", "市级", "设区市"),
        "county": ("县", "区", "县级", "县(市、区)", "县区"),
        "town": ("乡镇", "街道", "乡镇(街道)", "镇", "乡"),
        "village": ("村", "社区", "村(社区)"),
    }
)

ITEM_TYPES = (
    "licensing",
    "confirmation",
    "payment",
    "adjudication",
    "reward",
    "other_power",
    "public_service",
)
ITEM_TYPE_LABELS = _labels(
    {
        "licensing": ("行政许可",),
        "confirmation": ("行政确认",),
        "payment": ("行政给付",),
        "adjudication": ("行政裁决",),
        "reward": ("行政奖励",),
        "other_power": ("其他行政权力",),
        "public_service": ("公共服务",),
    }
)

LIMIT_UNITS = ("working", "natural")
LIMIT_UNIT_LABELS = _labels({"working": ("工作日",), "natural": ("自然日",)})

BE_INDICATORS = (
    "business_startup",
    "construction_permit",
    "property_registration",
    "utility_connection",
)
BE_INDICATOR_LABELS = _labels(
    {
        "business_startup": ("开办企业",),
        "construction_permit": ("办理建筑许可", "工程建设项目审批"),
        "property_registration": ("登记财产", "不动产登记"),
        "utility_connection": ("获得电力", "水电气接入", "获得用水用气"),
    }
)

CHANNELS = ("window", "online", "mobile", "self_service", "mail", "assisted")
CHANNEL_LABELS = _labels(
    {
        "window": ("窗口",),
        "online": ("政务服务网", "网上", "网上办理", "PC端"),
        "mobile": ("移动端", "掌上", "小程序", "APP", "掌上办"),
        "self_service": ("自助终端", "自助"),
        "mail": ("邮寄",),
        "assisted": ("帮代办", "代办"),
    }
)

APPLICANT_TYPES = ("person", "enterprise")
APPLICANT_TYPE_LABELS = _labels({"person": ("自然人", "个人"), "enterprise": ("法人", "企业")})

CASE_STATUSES = ("submitted", "in_progress", "completed", "not_accepted", "withdrawn")
CASE_STATUS_LABELS = _labels(
    {
        "submitted": ("待受理",),
        "in_progress": ("在办",),
        "completed": ("办结",),
        "not_accepted": ("不予受理",),
        "withdrawn": ("撤回",),
    }
)

DECISIONS = ("approved", "denied")
DECISION_LABELS = _labels({"approved": ("准予", "准予许可"), "denied": ("不予许可", "不予")})

SUSPENSION_REASONS = ("correction", "hearing", "inspection", "expert_review", "publicity", "other")
SUSPENSION_REASON_LABELS = _labels(
    {
        "correction": ("补正",),
        "hearing": ("听证",),
        "inspection": ("检验检测检疫", "检验", "检测", "检疫"),
        "expert_review": ("专家评审/鉴定", "专家评审", "鉴定"),
        "publicity": ("公示",),
        "other": ("其他",),
    }
)

REVIEW_CHANNELS = ("window", "pad", "online", "mobile", "self_service", "sms", "hotline")
REVIEW_CHANNEL_LABELS = _labels(
    {
        "window": ("窗口评价器", "窗口"),
        "pad": ("平板",),
        "online": ("网上", "政务服务网"),
        "mobile": ("移动端", "掌上", "APP"),
        "self_service": ("自助终端",),
        "sms": ("短信",),
        "hotline": ("热线",),
    }
)

TRUE_LABELS = frozenset({"是", "true", "t", "yes", "y", "1", "True", "TRUE", "Y", "YES"})
FALSE_LABELS = frozenset({"否", "false", "f", "no", "n", "0", "False", "FALSE", "N", "NO"})


def _enum(name: str, zh: str, values: tuple[str, ...], labels: dict[str, str], **kw) -> Column:
    return Column(name, zh, "enum", enum=values, enum_labels=labels, **kw)


REGIONS = Table(
    "regions",
    "行政区划",
    (
        Column("region_code", "行政区划代码", "text"),
        Column("name", "区划名称", "text"),
        Column("parent_code", "上级区划代码", "text", nullable=True, ref=("regions", "region_code")),
        _enum("level", "层级", REGION_LEVELS, REGION_LEVEL_LABELS),
    ),
    key=("region_code",),
)

AGENCIES = Table(
    "agencies",
    "实施机关",
    (
        Column("agency_code", "实施机关编码", "text"),
        Column("name", "实施机关", "text"),
        Column("region_code", "行政区划代码", "text", ref=("regions", "region_code")),
        Column("sector", "条线", "text"),
    ),
    key=("agency_code",),
)

ITEMS = Table(
    "items",
    "政务服务事项目录",
    (
        Column("item_code", "事项编码", "text"),
        Column("name", "事项名称", "text"),
        _enum("item_type", "事项类型", ITEM_TYPES, ITEM_TYPE_LABELS),
        Column("sector", "条线", "text"),
        Column("statutory_days", "法定时限", "int", nullable=True, min_value=0),
        Column("promised_days", "承诺时限", "int", nullable=True, min_value=0),
        _enum("limit_unit", "时限单位", LIMIT_UNITS, LIMIT_UNIT_LABELS, default="working"),
        Column("online_depth", "网办深度", "int", min_value=1, max_value=4),
        Column("max_visits", "到现场次数", "int", nullable=True, min_value=0),
        _enum("be_indicator", "营商环境指标", BE_INDICATORS, BE_INDICATOR_LABELS, nullable=True),
        Column("materials", "申请材料数", "int", nullable=True, min_value=0),
        Column("steps", "办理环节数", "int", nullable=True, min_value=0),
    ),
    key=("item_code",),
)

CASES = Table(
    "cases",
    "办件",
    (
        Column("case_id", "办件编号", "text"),
        Column("item_code", "事项编码", "text", ref=("items", "item_code")),
        Column("agency_code", "实施机关编码", "text", ref=("agencies", "agency_code")),
        _enum("channel", "申报渠道", CHANNELS, CHANNEL_LABELS),
        _enum("applicant_type", "申请人类型", APPLICANT_TYPES, APPLICANT_TYPE_LABELS),
        Column("applicant_key", "申请人标识", "text", nullable=True),
        Column("bundle_id", "一件事编号", "text", nullable=True),
        Column("project_code", "项目代码", "text", nullable=True),
        Column("submitted_at", "申请时间", "timestamp"),
        Column("accepted_at", "受理时间", "timestamp", nullable=True),
        Column("completed_at", "办结时间", "timestamp", nullable=True),
        _enum("status", "办件状态", CASE_STATUSES, CASE_STATUS_LABELS),
        _enum("decision", "办理结果", DECISIONS, DECISION_LABELS, nullable=True),
        Column("statutory_days", "法定时限", "int", nullable=True, min_value=0),
        Column("promised_days", "承诺时限", "int", nullable=True, min_value=0),
        Column("due_at", "承诺办结日期", "timestamp", nullable=True),
        _enum("limit_unit", "时限单位", LIMIT_UNITS, LIMIT_UNIT_LABELS, default="working"),
        Column("visits", "到现场次数", "int", nullable=True, min_value=0),
        Column("full_online", "全程网办", "bool", default=False),
        Column("cross_region", "跨域通办", "bool", default=False),
        Column("e_result", "结果电子化", "bool", nullable=True),
        Column("reported_at", "汇聚时间", "timestamp", nullable=True),
    ),
    key=("case_id",),
)

SUSPENSIONS = Table(
    "suspensions",
    "挂起",
    (
        Column("case_id", "办件编号", "text", ref=("cases", "case_id")),
        Column("started_at", "挂起开始时间", "timestamp"),
        Column("ended_at", "挂起结束时间", "timestamp", nullable=True),
        _enum("reason", "挂起原因", SUSPENSION_REASONS, SUSPENSION_REASON_LABELS),
        Column("approved_days", "批准天数", "int", nullable=True, min_value=0),
    ),
    # A case may be suspended more than once; one suspension starts at one moment.
    key=("case_id", "started_at"),
)

REVIEWS = Table(
    "reviews",
    "好差评",
    (
        Column("review_id", "评价编号", "text"),
        Column("case_id", "办件编号", "text", nullable=True, ref=("cases", "case_id")),
        Column("agency_code", "实施机关编码", "text", ref=("agencies", "agency_code")),
        _enum("channel", "评价渠道", REVIEW_CHANNELS, REVIEW_CHANNEL_LABELS),
        Column("rated_at", "评价时间", "timestamp"),
        Column("level", "评价等级", "int", min_value=1, max_value=5),
        Column("active", "主动评价", "bool", default=False),
        Column("real_name", "实名评价", "bool", default=False),
        Column("tags", "差评标签", "text", nullable=True),
        Column("callback_at", "回访时间", "timestamp", nullable=True),
        Column("rectified_at", "整改时间", "timestamp", nullable=True),
        Column("appeal_upheld", "申诉成立", "bool", default=False),
        Column("reported_at", "汇聚时间", "timestamp", nullable=True),
    ),
    key=("review_id",),
)

WORK_CALENDAR = Table(
    "work_calendar",
    "工作日历",
    (
        Column("date", "日期", "date"),
        Column("is_workday", "是否工作日", "bool"),
        Column("name", "名称", "text", nullable=True),
        Column("source", "来源", "text"),
    ),
    key=("date",),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (REGIONS, AGENCIES, ITEMS, CASES, SUSPENSIONS, REVIEWS, WORK_CALENDAR)
}

# Order in which tables must be loaded so that references resolve.
LOAD_ORDER: tuple[str, ...] = (
    "work_calendar",
    "regions",
    "agencies",
    "items",
    "cases",
    "suspensions",
    "reviews",
)
