"""The input contract (../shared/spec/contract.md) declared once, as data.

Everything that needs to know the shape of the transaction log reads it from here: the
SQLAlchemy schema, the importer (header and enum mapping, validation), the demo generator and
the tests. Keeping it as plain data means a new column is added in exactly one place.

Three decisions beyond the spec's tables live here too, because every layer must agree on them
(docs/importing.md explains them for users):

- **Identity** (`Table.identity`): when a row whose key is already stored is the *same* thing
  (an update: the case was accepted or completed since the last export) and when it is another
  thing that happens to carry the same id (a key conflict: two municipalities' case 6038724).
  A key conflict is quarantined, never written over the stored row.
- **Unknown** (`UNKNOWN`): an enum value for what a real export may lack (channel, applicant
  type, rating channel), so a case without a recorded channel is counted as such instead of
  being invented or dropped.
- **Limits of a value** (`Column.max_length`, `INT_MAX`, the plausible date window): what the
  database can store and what can be a real date, checked before the database sees a value.
"""

from __future__ import annotations

import datetime as dt
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
    max_length: int | None = None  # text: longest value (characters) a row may carry
    derived: bool = False  # computed by the importer, never read from a file (a derived key)


# Identifiers (keys, codes, references) are indexed: a PostgreSQL B-tree entry must stay under
# 2,704 bytes, so an id is limited to 256 characters (at most 1,024 bytes of UTF-8). Other
# free text (names, tags) to 4,000 characters. Integer columns are 32-bit in the database.
ID_MAX_LENGTH = 256
TEXT_MAX_LENGTH = 4_000
INT_MAX = 2_147_483_647

# The plausible window for dates (docs/importing.md): by default a date must lie between
# 2000-01-01 and the import time + 1 day (a due date up to DUE_HORIZON_DAYS after that); a
# mapping may move the window but never below DATE_FLOOR, which is also the earliest month a
# metric job ever expands to.
PLAUSIBLE_FROM = dt.date(2000, 1, 1)
DATE_FLOOR = dt.date(1990, 1, 1)
DUE_HORIZON_DAYS = 3 * 366


@dataclass(frozen=True)
class Identity:
    """Which stored values a row with an existing key must agree with to update that row.

    `fields` must be equal to the stored row's (null equals null); `set_once` must be equal once
    the stored row has a value (a case being accepted is an update, but an acceptance time
    that was set before may not change). Anything else may change: a case being completed,
    a limit corrected, a rating rectified. A row that disagrees is a key conflict.
    """

    fields: tuple[str, ...] = ()
    set_once: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.fields + self.set_once


@dataclass(frozen=True)
class Table:
    """One contract table: its columns and its primary key."""

    name: str
    zh: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    identity: Identity = Identity()

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

    @property
    def file_columns(self) -> tuple[Column, ...]:
        """The columns a file or frame may carry (every column but the derived ones)."""
        return tuple(c for c in self.columns if not c.derived)


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

# A value the export does not record (appended last: positions of the others never change).
UNKNOWN = "unknown"
UNKNOWN_LABELS = ("未知", "不详", "未记录")

CHANNELS = ("window", "online", "mobile", "self_service", "mail", "assisted", UNKNOWN)
CHANNEL_LABELS = _labels(
    {
        "window": ("窗口",),
        "online": ("政务服务网", "网上", "网上办理", "PC端"),
        "mobile": ("移动端", "掌上", "小程序", "APP", "掌上办"),
        "self_service": ("自助终端", "自助"),
        "mail": ("邮寄",),
        "assisted": ("帮代办", "代办"),
        UNKNOWN: UNKNOWN_LABELS,
    }
)

APPLICANT_TYPES = ("person", "enterprise", UNKNOWN)
APPLICANT_TYPE_LABELS = _labels(
    {"person": ("自然人", "个人"), "enterprise": ("法人", "企业"), UNKNOWN: UNKNOWN_LABELS}
)

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
        "inspection": ("检验检测检疫", "检验检测", "检验", "检测", "检疫"),
        "expert_review": ("专家评审/鉴定", "专家评审", "鉴定"),
        "publicity": ("公示",),
        "other": ("其他",),
    }
)

REVIEW_CHANNELS = ("window", "pad", "online", "mobile", "self_service", "sms", "hotline", UNKNOWN)
REVIEW_CHANNEL_LABELS = _labels(
    {
        "window": ("窗口评价器", "窗口"),
        "pad": ("平板",),
        "online": ("网上", "政务服务网"),
        "mobile": ("移动端", "掌上", "APP"),
        "self_service": ("自助终端",),
        "sms": ("短信",),
        "hotline": ("热线",),
        UNKNOWN: UNKNOWN_LABELS,
    }
)

TRUE_LABELS = frozenset({"是", "true", "t", "yes", "y", "1", "True", "TRUE", "Y", "YES"})
FALSE_LABELS = frozenset({"否", "false", "f", "no", "n", "0", "False", "FALSE", "N", "NO"})


def _enum(name: str, zh: str, values: tuple[str, ...], labels: dict[str, str], **kw) -> Column:
    return Column(name, zh, "enum", enum=values, enum_labels=labels, **kw)


def _id(name: str, zh: str, **kw) -> Column:
    """An identifier: a key, a code or a reference (indexed, so bounded in length)."""
    return Column(name, zh, "text", max_length=ID_MAX_LENGTH, **kw)


def _text(name: str, zh: str, **kw) -> Column:
    return Column(name, zh, "text", max_length=TEXT_MAX_LENGTH, **kw)


REGIONS = Table(
    "regions",
    "行政区划",
    (
        _id("region_code", "行政区划代码"),
        _text("name", "区划名称"),
        _id("parent_code", "上级区划代码", nullable=True, ref=("regions", "region_code")),
        _enum("level", "层级", REGION_LEVELS, REGION_LEVEL_LABELS),
    ),
    key=("region_code",),
)

AGENCIES = Table(
    "agencies",
    "实施机关",
    (
        _id("agency_code", "实施机关编码"),
        _text("name", "实施机关"),
        _id("region_code", "行政区划代码", ref=("regions", "region_code")),
        _text("sector", "条线"),
    ),
    key=("agency_code",),
)

ITEMS = Table(
    "items",
    "政务服务事项目录",
    (
        _id("item_code", "事项编码"),
        _text("name", "事项名称"),
        _enum("item_type", "事项类型", ITEM_TYPES, ITEM_TYPE_LABELS),
        _text("sector", "条线"),
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
        _id("case_id", "办件编号"),
        _id("item_code", "事项编码", ref=("items", "item_code")),
        _id("agency_code", "实施机关编码", ref=("agencies", "agency_code")),
        _enum("channel", "申报渠道", CHANNELS, CHANNEL_LABELS),
        _enum("applicant_type", "申请人类型", APPLICANT_TYPES, APPLICANT_TYPE_LABELS),
        _id("applicant_key", "申请人标识", nullable=True),
        _id("bundle_id", "一件事编号", nullable=True),
        _id("project_code", "项目代码", nullable=True),
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
    # Two exports' case 6038724 are the same case only if agency, item and submission time
    # agree and an acceptance time, once recorded, stays; being accepted or completed since
    # the last export is an update.
    identity=Identity(("agency_code", "item_code", "submitted_at"), set_once=("accepted_at",)),
)

SUSPENSIONS = Table(
    "suspensions",
    "挂起",
    (
        _id("case_id", "办件编号", ref=("cases", "case_id")),
        Column("started_at", "挂起开始时间", "timestamp"),
        Column("ended_at", "挂起结束时间", "timestamp", nullable=True),
        _enum("reason", "挂起原因", SUSPENSION_REASONS, SUSPENSION_REASON_LABELS),
        Column("approved_days", "批准天数", "int", nullable=True, min_value=0),
        _id("suspension_id", "挂起编号", nullable=True),
        _id("suspension_key", "挂起标识", derived=True),
    ),
    # A case may be suspended more than once, and two special procedures (检验检测 and 专家评审)
    # may start at the same moment: a suspension is one of its case's suspensions by the
    # export's own suspension_id where it has one, else by its start and reason
    # (`suspension_key`, made by `suspension_key_of`). Parallel and overlapping suspensions
    # are kept apart here and merged by the clock (metrics.md §1).
    key=("case_id", "suspension_key"),
)


def suspension_key_of(suspension_id: str | None, started_at: dt.datetime, reason: str) -> str:
    """A suspension's identity within its case: the export's id, else start (to the second)
    and reason — e.g. '2025-06-07 00:00:00/inspection'. The importer builds the same text
    vectorised (`queries.importer.identity`); migration 0008 built it for stored rows."""
    if suspension_id:
        return suspension_id
    return f"{started_at:%Y-%m-%d %H:%M:%S}/{reason}"

REVIEWS = Table(
    "reviews",
    "好差评",
    (
        _id("review_id", "评价编号"),
        _id("case_id", "办件编号", nullable=True, ref=("cases", "case_id")),
        _id("agency_code", "实施机关编码", ref=("agencies", "agency_code")),
        _enum("channel", "评价渠道", REVIEW_CHANNELS, REVIEW_CHANNEL_LABELS),
        Column("rated_at", "评价时间", "timestamp"),
        Column("level", "评价等级", "int", min_value=1, max_value=5),
        Column("active", "主动评价", "bool", default=False),
        Column("real_name", "实名评价", "bool", default=False),
        _text("tags", "差评标签", nullable=True),
        Column("callback_at", "回访时间", "timestamp", nullable=True),
        Column("rectified_at", "整改时间", "timestamp", nullable=True),
        Column("appeal_upheld", "申诉成立", "bool", default=False),
        Column("reported_at", "汇聚时间", "timestamp", nullable=True),
    ),
    key=("review_id",),
    # A rating is the same rating if it rates the same unit and case at the same moment; a
    # call-back, rectification or upheld appeal since the last export is an update.
    identity=Identity(("agency_code", "case_id", "rated_at")),
)

WORK_CALENDAR = Table(
    "work_calendar",
    "工作日历",
    (
        Column("date", "日期", "date"),
        Column("is_workday", "是否工作日", "bool"),
        _text("name", "名称", nullable=True),
        _text("source", "来源"),
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
