"""The demo city's service catalogue (政务服务事项目录), built from per-sector families.

Each family is a set of real-sounding item names (often a product of an object list and an
action list, as real catalogues are) sharing one profile: item type, statutory and promised
limits, online depth, visits, materials, steps, 营商环境 indicator, difficulty and popularity.
Difficulty drives both suspensions and lateness, so an agency that only handles difficult
items looks slow in raw numbers but average once the case mix is taken into account.

The catalogue is fixed (its small random jitter uses a constant seed): every demo run, whatever
its case seed, describes the same city, so the documentation can name items and agencies.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import polars as pl

from xiaoneng.demo.agencies import SECTOR_INDEX

CATALOGUE_SEED = 331200

ITEM_TYPE_NO = {
    "licensing": 1, "confirmation": 2, "payment": 3, "adjudication": 4, "reward": 5,
    "other_power": 6, "public_service": 7,
}


@dataclass(frozen=True)
class Family:
    """Items sharing one profile. `level`: which agencies offer them ("both" = city-level
    bureau and county bureaus, "city" = city-level only, "county" = county bureaus only)."""

    names: tuple[str, ...]
    item_type: str
    statutory: int | None
    promised: int | None
    depth: int
    visits: int | None
    materials: tuple[int, int]
    steps: tuple[int, int]
    unit: str = "working"
    be: str | None = None
    diff: int = 0  # -1 easy, 0 normal, 1 hard, 2 very hard
    pop: float = 1.0  # relative case volume of each item
    level: str = "both"
    ent: float = 0.0  # share of enterprise applicants
    cross: float = 0.01  # probability a case is 跨域通办


def combo(fmt: str, *parts: list[str]) -> tuple[str, ...]:
    """All names from a format and lists of parts, e.g. 客体 × 动作."""
    return tuple(fmt.format(*p) for p in itertools.product(*parts))


def F(names: str | list[str] | tuple[str, ...], item_type: str, statutory: int | None,  # noqa: N802
      promised: int | None, depth: int, visits: int | None, materials: tuple[int, int],
      steps: tuple[int, int], **kw: object) -> Family:
    """Short constructor so the tables below stay readable."""
    if isinstance(names, str):
        names = (names,)
    return Family(tuple(names), item_type, statutory, promised, depth, visits, materials, steps,
                  **kw)


L, C, P, A, R, O, S = ("licensing", "confirmation", "payment", "adjudication", "reward",  # noqa: E741
                       "other_power", "public_service")
BS, CP, PR, UC = ("business_startup", "construction_permit", "property_registration",
                  "utility_connection")

_ENTITIES = ["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业", "农民专业合作社",
             "外商投资企业", "非公司企业法人", "分公司"]

FAMILIES: dict[str, list[Family]] = {
    "市场监管": [
        F(combo("{}设立登记", _ENTITIES), L, 15, 1, 4, 0, (3, 6), (2, 3), be=BS, diff=-1, pop=2.5, ent=1),
        F(combo("{}{}登记", _ENTITIES, ["变更", "备案"]), L, 15, 1, 4, 0, (3, 6), (2, 3), diff=-1, pop=1.5, ent=1),
        F(combo("{}注销登记", _ENTITIES), L, 15, 3, 4, 0, (3, 7), (2, 3), diff=-1, pop=0.8, ent=1),
        F(combo("个体工商户{}登记", ["设立", "变更", "注销"]), L, 15, 0, 4, 0, (2, 4), (1, 2), diff=-1, pop=4, ent=0.2),
        F(combo("{}核发", ["食品经营许可", "食品生产许可", "药品零售企业许可", "第二类医疗器械经营备案凭证",
                          "工业产品生产许可", "小餐饮登记证"]), L, 20, 5, 3, 1, (5, 10), (3, 5), pop=1.2, ent=0.8),
        F(combo("{}{}", ["食品经营许可", "食品生产许可", "药品零售企业许可", "工业产品生产许可"],
                ["变更", "延续", "注销"]), L, 20, 3, 4, 0, (3, 6), (2, 4), pop=0.6, ent=0.8),
        F(combo("{}{}", ["药品批发企业许可", "第二类医疗器械生产许可", "第三类医疗器械经营许可",
                         "移动式压力容器充装许可"], ["核发", "变更", "延续"]),
          L, 30, 15, 3, 1, (8, 15), (4, 6), diff=1, pop=0.3, level="city", ent=1),
        F(combo("特种设备使用登记（{}）", ["锅炉", "压力容器", "电梯", "起重机械", "场（厂）内专用机动车辆",
                                     "大型游乐设施", "客运索道", "压力管道"]), L, 15, 5, 3, 1, (4, 8), (2, 4), pop=0.4, ent=1),
        F(combo("{}强制检定", ["电能表", "水表", "燃气表", "出租汽车计价器", "燃油加油机", "衡器", "血压计"]),
          O, 20, 10, 2, 1, (1, 3), (2, 3), unit="natural", pop=0.3, ent=0.7),
        F(combo("{}登记", ["股权出质设立", "股权出质变更", "股权出质注销", "动产抵押", "动产抵押变更",
                         "动产抵押注销", "广告发布"]), C, 5, 0, 4, 0, (2, 4), (1, 2), diff=-1, pop=0.5, ent=1),
        F(["企业名称争议裁决"], A, 60, 30, 1, 2, (5, 10), (5, 7), unit="natural", diff=2, pop=0.02, level="city", ent=1),
        F(["专利侵权纠纷行政裁决"], A, 120, 90, 1, 2, (6, 12), (5, 8), unit="natural", diff=2, pop=0.01, level="city", ent=1),
        F(combo("{}", ["政府质量奖评审", "商标品牌培育奖励", "标准化试点项目奖励"]), R, None, None, 2, 1, (5, 10), (3, 5), pop=0.03, level="city", ent=1),
        F(combo("{}", ["企业信用修复", "经营异常名录移出", "企业登记档案查询", "食品经营许可证补办"]),
          S, None, 3, 4, 0, (1, 3), (1, 2), diff=-1, pop=0.6, ent=1),
    ],
    "自然资源": [
        F(combo("{}转移登记", ["国有建设用地使用权及房屋所有权", "宅基地使用权及房屋所有权", "国有建设用地使用权",
                           "集体建设用地使用权", "海域使用权", "林权"]),
          C, 30, 1, 3, 1, (4, 8), (2, 4), be=PR, diff=-1, pop=2.5, ent=0.2),
        F(combo("{}{}登记", ["国有建设用地使用权及房屋所有权", "宅基地使用权及房屋所有权", "国有建设用地使用权",
                            "集体建设用地使用权", "海域使用权", "林权"], ["首次", "变更", "注销"]),
          C, 30, 5, 3, 1, (4, 9), (3, 4), pop=0.5, ent=0.3),
        F(combo("{}", ["抵押权首次登记", "抵押权变更登记", "抵押权注销登记", "预购商品房预告登记", "预告登记注销",
                       "异议登记", "查封登记", "更正登记", "地役权首次登记"]),
          C, 30, 1, 4, 0, (2, 5), (2, 3), be=PR, diff=-1, pop=1.5, ent=0.3),
        F(["不动产登记资料查询"], S, None, 0, 4, 0, (1, 2), (1, 1), diff=-1, pop=2.0),
        F(combo("{}", ["建设项目用地预审与选址意见书核发", "建设用地规划许可证核发", "建设工程规划许可证核发"]),
          L, 20, 7, 3, 1, (6, 12), (4, 6), be=CP, diff=1, pop=0.15, ent=1),
        F(["建设工程规划核实"], L, 20, 7, 3, 1, (5, 10), (4, 6), be=CP, diff=1, pop=0.1, ent=1),
        F(combo("{}", ["乡村建设规划许可证核发", "临时建设工程规划许可证核发", "规划条件核提"]),
          L, 20, 10, 2, 1, (4, 8), (3, 5), pop=0.3, level="county", ent=0.3),
        F(combo("{}审批", ["国有建设用地使用权划拨", "农用地转用", "临时用地", "建设项目使用林地审核",
                         "林木采伐许可证核发", "土地复垦方案"]), L, 20, 10, 2, 1, (6, 12), (4, 6), diff=1, pop=0.15, ent=0.8),
        F(combo("{}{}", ["采矿权", "探矿权"], ["新立", "延续", "变更", "注销"]),
          L, 40, 20, 2, 1, (8, 15), (5, 7), diff=2, pop=0.02, level="city", ent=1),
        F(combo("{}", ["测绘成果提供", "地名标志设置审核", "地质灾害危险性评估备案"]), O, 10, 5, 3, 1, (2, 5), (2, 3), pop=0.1, ent=0.5),
    ],
    "住建": [
        F(combo("建筑工程施工许可证{}", ["核发", "变更", "延期"]), L, 15, 5, 3, 1, (6, 12), (3, 5), be=CP, diff=1, pop=0.2, ent=1),
        F(combo("{}", ["建设工程消防设计审查", "建设工程消防验收", "施工图设计文件审查备案",
                       "房屋建筑和市政基础设施工程竣工验收备案"]), L, 15, 10, 3, 1, (5, 10), (3, 5), be=CP, diff=1, pop=0.15, ent=1),
        F(["建设工程消防验收备案"], O, 5, 3, 4, 0, (3, 6), (2, 3), be=CP, diff=1, pop=0.1, ent=1),
        F(combo("商品房预售许可{}", ["核发", "变更"]), L, 20, 7, 3, 1, (8, 14), (4, 6), diff=2, pop=0.08, ent=1),
        F(combo("{}{}", ["建筑业企业资质", "房地产开发企业资质", "工程监理企业资质", "工程造价咨询企业资质"],
                ["核准", "延续", "变更"]), L, 20, 10, 4, 0, (6, 12), (3, 5), diff=1, pop=0.1, ent=1),
        F(combo("{}", ["用水报装", "燃气报装", "低压非居民用电报装", "高压用电报装", "排水接入"]),
          S, None, 5, 4, 0, (2, 4), (2, 4), be=UC, pop=0.4, ent=0.8),
        F(combo("{}", ["城镇污水排入排水管网许可", "城市道路挖掘许可", "占用城市绿地审批"]),
          L, 20, 5, 3, 1, (3, 7), (3, 4), be=UC, pop=0.15, ent=1),
        F(combo("{}", ["城市建筑垃圾处置核准", "燃气经营许可证核发", "燃气经营许可证变更", "临时占用城市道路许可",
                       "城市大型户外广告设置许可"]), L, 20, 10, 3, 1, (4, 8), (3, 5), pop=0.12, ent=1),
        F(combo("{}", ["商品房买卖合同网签备案", "存量房买卖合同网签备案", "房屋租赁登记备案", "物业专项维修资金缴存",
                       "物业专项维修资金使用"]), O, 5, 1, 4, 0, (2, 5), (1, 3), diff=-1, pop=0.9, ent=0.2),
        F(combo("{}", ["公共租赁住房资格申请", "公共租赁住房资格复核", "住房租赁补贴申请"]),
          P, 30, 15, 3, 1, (5, 9), (4, 6), pop=0.2),
        F(combo("建筑起重机械{}", ["使用登记", "产权备案", "安装告知"]), O, 7, 3, 4, 0, (3, 6), (2, 3), pop=0.15, ent=1),
        F(combo("{}", ["建筑施工企业安全生产许可证核发", "建筑施工企业安全生产许可证延续", "二级建造师执业注册",
                       "二级建造师变更注册"]), L, 20, 10, 4, 0, (4, 8), (3, 4), diff=1, pop=0.08, ent=0.5),
    ],
    "公安": [
        F(combo("{}", ["出生登记", "死亡注销户口", "户口迁移（市内）", "投靠落户", "人才落户", "大中专院校毕业生落户",
                       "户口项目变更更正", "分户", "立户", "户籍证明开具"]), C, 20, 3, 2, 1, (2, 5), (2, 3), pop=1.0),
        F(combo("{}", ["户口迁移（跨省通办）", "首次申领居民身份证（跨省通办）"]), C, 20, 5, 3, 1, (2, 4), (2, 3), pop=0.3, cross=0.8),
        F(combo("{}", ["居民身份证首次申领", "居民身份证换领", "居民身份证补领"]), C, 60, 15, 2, 1, (1, 3), (2, 3),
          unit="natural", pop=2.0, cross=0.05),
        F(combo("{}", ["临时居民身份证申领", "居住证申领", "居住证签注"]), C, 15, 0, 3, 1, (1, 3), (1, 2), diff=-1, pop=0.8),
        F(combo("{}", ["普通护照签发", "往来港澳通行证签发", "往来台湾通行证签发", "港澳旅游签注", "赴台旅游签注"]),
          L, 7, 5, 3, 1, (1, 3), (2, 3), pop=1.2, cross=0.1),
        F(combo("{}", ["外国人居留许可签发", "外国人签证延期", "外国人临时住宿登记"]), L, 15, 7, 2, 1, (3, 6), (3, 4), diff=1, pop=0.05, level="city"),
        F(combo("机动车{}", ["注册登记", "转移登记", "变更登记", "抵押登记", "解除抵押登记", "注销登记", "检验合格标志核发",
                            "号牌补换领"]), L, 5, 0, 3, 1, (2, 4), (1, 3), diff=-1, pop=1.4, ent=0.15),
        F(combo("机动车驾驶证{}", ["补领", "换领", "审验", "信息变更"]), C, 5, 0, 4, 0, (1, 3), (1, 2), diff=-1, pop=1.0),
        F(["印章刻制备案"], O, 3, 0, 4, 0, (1, 3), (1, 2), be=BS, diff=-1, pop=0.3, ent=1),
        F(combo("{}", ["旅馆业特种行业许可证核发", "公章刻制业特种行业许可证核发", "典当业特种行业许可证核发",
                       "大型群众性活动安全许可", "烟花爆竹道路运输许可", "剧毒化学品购买许可",
                       "第二类易制毒化学品购买备案"]), L, 20, 7, 2, 1, (4, 9), (3, 5), diff=1, pop=0.1, ent=1),
        F(combo("{}", ["爆破作业单位许可", "保安服务公司设立许可", "民用枪支持枪许可"]), L, 30, 15, 1, 2, (6, 12), (4, 6),
          diff=2, pop=0.01, level="city", ent=0.8),
        F(combo("{}", ["见义勇为人员奖励", "举报涉黑涉恶线索奖励"]), R, None, None, 1, 1, (2, 5), (3, 4), pop=0.01, level="city"),
    ],
    "人社": [
        F(combo("{}职称评审", ["初级", "中级", "高级"]), O, 90, 60, 3, 1, (5, 10), (5, 7), unit="natural", diff=1, pop=0.03),

        F(combo("{}", ["单位社会保险登记", "单位社会保险登记变更"]), C, 5, 0, 4, 0, (2, 4), (1, 2), be=BS, diff=-1, pop=0.5, ent=1),
        F(combo("{}", ["单位社会保险注销登记", "职工参保登记", "灵活就业人员参保登记", "城乡居民基本养老保险参保登记",
                       "参保信息变更", "社会保险参保证明开具"]), C, 5, 0, 4, 0, (1, 3), (1, 2), diff=-1, pop=1.2, ent=0.3),
        F(combo("{}", ["养老保险关系转移接续", "失业保险关系转移接续"]), C, 15, 10, 4, 0, (1, 3), (2, 3), pop=0.5, cross=0.6),
        F(combo("{}", ["基本养老金申领", "城乡居民养老保险待遇申领", "失业保险金申领", "丧葬补助金和抚恤金申领",
                       "企业职工养老保险个人账户一次性支付", "工伤保险待遇核定"]), P, 20, 10, 3, 1, (3, 6), (3, 4), pop=0.6),
        F(combo("{}", ["技能提升补贴申领", "一次性创业补贴申领", "高校毕业生就业见习补贴申领",
                       "招用就业困难人员社会保险补贴申领", "稳岗返还申领", "创业担保贷款申请"]),
          P, 20, 10, 4, 0, (2, 5), (2, 4), pop=0.4, ent=0.4),
        F(combo("{}", ["工伤认定", "劳动能力鉴定"]), C, 60, 45, 2, 1, (5, 9), (4, 6), unit="natural", diff=2, pop=0.1),
        F(["劳动人事争议仲裁"], A, 45, 45, 2, 2, (3, 6), (5, 7), unit="natural", diff=2, pop=0.08),
        F(combo("{}", ["劳务派遣经营许可", "人力资源服务许可", "特殊工时工作制审批"]), L, 20, 10, 3, 1, (5, 10), (3, 5), diff=1, pop=0.05, ent=1),
        F(combo("社会保障卡{}", ["申领", "挂失", "补领", "换领", "信息变更"]), S, None, 0, 4, 0, (1, 2), (1, 2), diff=-1, pop=1.0),
        F(combo("{}", ["就业创业证申领", "失业登记", "职业技能等级证书查询核验", "个人权益记录查询打印"]),
          S, None, 0, 4, 0, (1, 2), (1, 1), diff=-1, pop=0.7),
    ],
    "医保": [
        F(combo("{}", ["医疗保障待遇资格认证", "职工医保个人账户家庭共济备案", "新生儿参保登记"]), C, 5, 0, 4, 0, (1, 2), (1, 2), diff=-1, pop=0.4),

        F(["医保关系转移接续"], C, 15, 5, 4, 0, (1, 3), (2, 3), pop=0.6, cross=0.6),
        F(["单位医保参保登记"], C, 5, 0, 4, 0, (2, 4), (1, 2), be=BS, diff=-1, pop=0.3, ent=1),
        F(combo("{}", ["基本医疗保险参保登记", "城乡居民医保参保缴费", "医保参保信息变更", "医保参保证明查询打印",
                       "异地就医备案", "转外就医备案"]), C, 5, 0, 4, 0, (1, 3), (1, 2), diff=-1, pop=1.3, cross=0.1),
        F(combo("{}", ["门诊慢特病待遇认定", "长期护理保险待遇申请"]), C, 20, 15, 2, 1, (3, 6), (3, 5), diff=1, pop=0.3),
        F(combo("{}", ["医疗费用手工（零星）报销", "生育医疗费用报销", "生育津贴申领", "医疗救助申请"]),
          P, 30, 15, 3, 1, (3, 7), (3, 5), pop=0.6),
        F(combo("{}", ["定点医药机构申请受理", "定点医药机构变更"]), O, 30, 20, 2, 1, (6, 12), (4, 6), diff=1, pop=0.03, ent=1),
    ],
    "税务": [
        F(combo("{}", ["新办纳税人涉税事项套餐（信息确认）", "发票领用"]), O, 5, 0, 4, 0, (1, 3), (1, 2), be=BS, diff=-1, pop=0.6, ent=1),
        F(combo("{}", ["增值税一般纳税人登记", "变更税务登记", "跨区域涉税事项报告", "出口退（免）税备案",
                       "税收优惠备案", "纳税证明开具", "定额发票领用", "非正常户解除"]),
          O, 5, 0, 4, 0, (1, 3), (1, 2), diff=-1, pop=1.0, ent=0.9),
        F(combo("{}", ["清税注销（即办）", "清税注销（一般流程）"]), O, 20, 5, 4, 0, (2, 4), (2, 3), pop=0.4, ent=1),
        F(combo("{}", ["增值税专用发票最高开票限额审批", "延期缴纳税款核准", "延期申报核准"]), L, 20, 10, 4, 0, (3, 6), (3, 4),
          diff=1, pop=0.15, ent=1),
        F(combo("{}", ["存量房交易税费申报", "契税申报", "车辆购置税申报", "个人所得税经营所得申报"]),
          O, 5, 0, 3, 1, (2, 4), (1, 2), diff=-1, pop=1.0, ent=0.1),
    ],
    "公积金": [
        F(combo("住房公积金贷款{}", ["变更", "展期", "组合贷款申请"]), P, 15, 5, 3, 1, (3, 7), (3, 5), pop=0.1),

        F(["单位缴存登记"], S, 5, 0, 4, 0, (2, 4), (1, 2), be=BS, diff=-1, pop=0.2, ent=1),
        F(combo("{}", ["单位缴存信息变更", "个人账户设立", "个人账户封存", "个人账户转移", "缴存证明开具",
                       "贷款结清证明开具", "异地贷款缴存使用证明开具"]), S, None, 0, 4, 0, (1, 3), (1, 2), diff=-1, pop=0.8, ent=0.3),
        F(combo("住房公积金{}提取", ["购房", "租房", "退休", "离职", "偿还贷款", "大病医疗"]), P, 5, 1, 4, 0, (1, 4), (1, 3), diff=-1, pop=1.2),
        F(["住房公积金贷款申请"], P, 15, 10, 3, 1, (6, 10), (4, 6), diff=1, pop=0.3),
        F(combo("{}", ["住房公积金贷款提前还款", "住房公积金缓缴申请"]), S, None, 3, 4, 0, (1, 3), (1, 3), pop=0.3, ent=0.3),
    ],
    "民政": [
        F(combo("{}", ["内地居民结婚登记", "补领结婚证", "补领离婚证", "撤销婚姻登记"]), C, 0, 0, 1, 1, (2, 4), (1, 2), diff=-1, pop=0.7),
        F(["内地居民离婚登记"], C, 30, 30, 1, 2, (2, 4), (2, 3), unit="natural", pop=0.2),
        F(["涉外婚姻登记"], C, 5, 0, 1, 1, (3, 6), (2, 3), pop=0.02, level="city"),
        F(combo("最低生活保障{}", ["申请", "变更", "停止"]), P, 30, 20, 2, 1, (4, 8), (4, 6), pop=0.3),
        F(combo("{}", ["特困人员救助供养申请", "临时救助申请", "困难残疾人生活补贴申领", "重度残疾人护理补贴申领",
                       "高龄津贴申领", "孤儿基本生活保障金给付", "事实无人抚养儿童保障申请", "惠民殡葬补贴申领"]),
          P, 20, 10, 2, 1, (3, 7), (3, 5), pop=0.25),
        F(combo("{}{}登记", ["社会团体", "民办非企业单位"], ["成立", "变更", "注销"]), L, 60, 20, 3, 1, (6, 12), (4, 6), diff=1, pop=0.05, ent=1),
        F(combo("基金会{}登记", ["设立", "变更"]), L, 60, 30, 2, 1, (8, 14), (5, 6), diff=2, pop=0.01, level="city", ent=1),
        F(combo("{}", ["养老机构备案", "地名命名更名审批", "慈善组织认定", "收养登记"]), O, 30, 15, 2, 1, (4, 8), (3, 5), diff=1, pop=0.03),
    ],
    "卫健": [
        F(combo("{}", ["医疗机构设置审批", "医疗机构执业登记", "放射诊疗许可", "母婴保健技术服务执业许可"]),
          L, 45, 20, 2, 1, (8, 15), (4, 6), diff=1, pop=0.05, ent=1),
        F(combo("{}", ["医师执业注册", "医师执业变更注册", "护士执业注册", "护士执业变更注册", "乡村医生执业注册"]),
          L, 20, 5, 4, 0, (3, 6), (2, 3), pop=0.3),
        F(combo("公共场所卫生许可{}", ["核发", "变更", "延续", "注销"]), L, 20, 5, 4, 0, (3, 6), (2, 4), pop=0.25, ent=1),
        F(combo("{}", ["饮用水供水单位卫生许可", "消毒产品生产企业卫生许可"]), L, 20, 10, 3, 1, (5, 9), (3, 5), diff=1, pop=0.02, ent=1),
        F(combo("出生医学证明{}", ["首次签发", "补发", "换发"]), C, 5, 0, 3, 1, (2, 3), (1, 2), diff=-1, pop=0.5),
        F(combo("{}", ["计划生育家庭特别扶助金申领", "农村部分计划生育家庭奖励扶助金申领"]), P, 30, 20, 2, 1, (3, 5), (3, 5), pop=0.1),
        F(combo("{}", ["生育登记", "预防接种证补办", "职业病诊断", "病残儿医学鉴定"]), S, None, 5, 3, 1, (1, 4), (1, 3), pop=0.4),
    ],
    "交通": [
        F(combo("巡游出租汽车车辆营运证{}", ["核发", "变更", "注销"]), L, 10, 3, 4, 0, (2, 4), (1, 3), pop=0.08, ent=0.5),

        F(combo("{}", ["道路旅客运输经营许可", "道路货物运输经营许可", "巡游出租汽车经营许可", "网络预约出租汽车经营许可",
                       "港口经营许可", "国内水路运输经营许可"]), L, 20, 10, 3, 1, (5, 10), (3, 5), diff=1, pop=0.1, ent=1),
        F(combo("道路运输证{}", ["核发", "年审", "变更", "注销"]), L, 10, 1, 4, 0, (2, 4), (1, 2), diff=-1, pop=0.5, ent=0.8),
        F(combo("{}{}", ["道路旅客运输驾驶员", "道路货物运输驾驶员", "危险货物道路运输驾驶员", "巡游出租汽车驾驶员",
                         "网络预约出租汽车驾驶员"], ["从业资格证核发", "从业资格证换证", "从业资格证补证"]),
          L, 10, 3, 4, 0, (2, 4), (1, 3), diff=-1, pop=0.12),
        F(combo("{}", ["网络预约出租汽车运输证核发", "机动车维修经营备案", "机动车驾驶员培训经营备案",
                       "船舶营运证核发"]), L, 10, 5, 3, 1, (3, 6), (2, 4), pop=0.15, ent=0.8),
        F(combo("{}", ["超限运输车辆行驶公路许可", "公路用地范围内设施设置许可", "占用挖掘公路许可",
                       "涉路施工许可"]), L, 20, 10, 3, 1, (5, 9), (3, 5), diff=1, pop=0.08, ent=1),
    ],
    "行政审批": [
        F(["企业投资项目备案"], O, 5, 1, 4, 0, (1, 3), (1, 2), be=CP, diff=1, pop=0.1, ent=1),
        F(combo("{}", ["企业投资项目核准", "政府投资项目建议书审批", "可行性研究报告审批", "初步设计审批", "固定资产投资项目节能审查"]),
          L, 20, 10, 3, 1, (6, 14), (4, 7), be=CP, diff=2, pop=0.03, level="city", ent=1),
        F(combo("{}", ["取水许可", "水土保持方案审批", "洪水影响评价审批", "河道管理范围内建设项目审批",
                       "结合民用建筑修建防空地下室审批", "防雷装置设计审核", "防雷装置竣工验收"]),
          L, 20, 10, 3, 1, (5, 10), (3, 5), be=CP, diff=1, pop=0.06, ent=1),
        F(combo("{}", ["文物保护单位建设控制地带内建设工程设计方案审批", "生产建设项目水土保持设施验收报备",
                       "城市排水许可", "拆除城市环境卫生设施审批", "设置大型户外广告审批", "临时占用公共场地审批"]),
          L, 20, 10, 3, 1, (4, 8), (3, 5), pop=0.06, ent=0.9),
        F(combo("{}", ["一件事联办受理", "帮代办服务申请", "政务服务预约"]), S, None, 0, 4, 0, (1, 2), (1, 1), diff=-1, pop=0.5, ent=0.5),
    ],
    "生态环境": [
        F(combo("{}", ["入河排污口设置审批", "建设项目竣工环境保护验收备案", "环境污染防治设施拆除闲置备案",
                       "突发环境事件应急预案备案"]), O, 20, 10, 3, 1, (3, 7), (2, 4), pop=0.04, ent=1),

        F(["建设项目环境影响报告书审批"], L, 60, 30, 3, 1, (6, 12), (5, 7), be=CP, diff=2, pop=0.02, level="city", ent=1),
        F(["建设项目环境影响报告表审批"], L, 30, 15, 3, 1, (5, 10), (4, 6), be=CP, diff=1, pop=0.06, ent=1),
        F(combo("排污许可证{}", ["核发", "变更", "延续", "注销"]), L, 20, 10, 4, 0, (4, 9), (3, 5), diff=1, pop=0.1, ent=1),
        F(combo("{}", ["排污登记", "建设项目环境影响登记表备案"]), O, 1, 0, 4, 0, (1, 2), (1, 1), diff=-1, pop=0.2, ent=1),
        F(combo("{}", ["危险废物经营许可", "辐射安全许可", "危险废物跨省转移审批"]), L, 20, 15, 2, 1, (8, 14), (4, 6),
          diff=2, pop=0.02, level="city", ent=1),
    ],
    "教育": [
        F(combo("{}", ["教师资格定期注册", "民办学校章程核准", "中外合作办学项目备案"]), O, 30, 15, 3, 1, (3, 7), (3, 4), pop=0.05),

        F(combo("民办学校{}审批", ["设立", "变更", "终止"]), L, 90, 30, 2, 1, (8, 15), (5, 7), unit="natural", diff=2, pop=0.01, ent=1),
        F(combo("{}", ["幼儿园设立审批", "校外培训机构设立审批"]), L, 30, 20, 2, 1, (8, 12), (5, 6), diff=1, pop=0.01, ent=1),
        F(combo("{}", ["教师资格认定", "教师资格证书补发换发"]), C, 30, 20, 3, 1, (3, 6), (3, 4), pop=0.3),
        F(combo("{}", ["学生资助申请", "义务教育入学登记", "中小学转学", "学历证明书补办", "普通话水平测试报名",
                       "高中阶段学校招生报名"]), S, None, 5, 4, 0, (1, 4), (1, 3), diff=-1, pop=0.5),
    ],
    "农业农村": [
        F(combo("{}", ["水域滩涂养殖证核发", "渔业船员证书核发", "渔业船舶登记", "农机事故责任认定"]), C, 20, 10, 2, 1, (3, 6), (2, 4), pop=0.04),

        F(combo("{}", ["农药经营许可", "兽药经营许可证核发", "农作物种子生产经营许可", "动物防疫条件合格证核发",
                       "动物诊疗许可", "水产苗种生产许可", "生猪定点屠宰许可"]), L, 20, 10, 3, 1, (4, 9), (3, 5), pop=0.05, ent=1),
        F(combo("{}", ["渔业捕捞许可", "拖拉机和联合收割机登记", "拖拉机和联合收割机驾驶证核发", "农作物种子经营备案"]),
          L, 20, 5, 3, 1, (2, 5), (2, 3), pop=0.1, ent=0.3),
        F(["农村宅基地审批"], L, 30, 20, 2, 1, (4, 8), (4, 6), diff=1, pop=0.15, level="county"),
        F(combo("{}", ["耕地地力保护补贴申领", "农机购置补贴申领", "农业保险保费补贴申领"]), P, 30, 20, 3, 1, (2, 5), (3, 4), pop=0.2),
        F(combo("{}", ["农产品质量安全追溯主体登记", "家庭农场名录登记", "新型职业农民认定"]), S, None, 10, 3, 1, (2, 5), (2, 3), pop=0.05),
    ],
}


@dataclass(frozen=True)
class Catalogue:
    """Items as a frame plus the per-item arrays the case generator indexes into."""

    frame: pl.DataFrame
    sector: np.ndarray  # int, index into SECTORS
    statutory: np.ndarray  # int32, -1 = none
    promised: np.ndarray  # int32, -1 = none
    natural: np.ndarray  # bool: limit unit is natural days
    depth: np.ndarray
    max_visits: np.ndarray  # -1 = none
    diff: np.ndarray
    pop: np.ndarray
    level: np.ndarray  # 0 both, 1 city, 2 county
    ent: np.ndarray
    cross: np.ndarray
    item_type: np.ndarray  # index into ITEM_TYPES order of ITEM_TYPE_NO
    be: np.ndarray  # object array of str | None
    names: tuple[str, ...]

    def index(self, name: str) -> int:
        """Position of an item by name (for bundles and project chains)."""
        return self.names.index(name)


def build_items() -> Catalogue:
    """Expand the families into items with codes and jittered attributes."""
    rng = np.random.default_rng(CATALOGUE_SEED)
    rows: list[dict] = []
    per_sector_seq: dict[str, int] = {}
    seen: set[str] = set()
    for sector, families in FAMILIES.items():
        for fam in families:
            for name in fam.names:
                if name in seen:
                    raise ValueError(f"duplicate item name {name}")
                seen.add(name)
                seq = per_sector_seq.get(sector, 0) + 1
                per_sector_seq[sector] = seq
                code = f"33{ITEM_TYPE_NO[fam.item_type]:02d}{SECTOR_INDEX[sector] + 1:02d}{seq:04d}"
                rows.append({
                    "item_code": code, "name": name, "item_type": fam.item_type, "sector": sector,
                    "statutory_days": fam.statutory, "promised_days": fam.promised,
                    "limit_unit": fam.unit, "online_depth": fam.depth, "max_visits": fam.visits,
                    "be_indicator": fam.be,
                    "materials": int(rng.integers(fam.materials[0], fam.materials[1] + 1)),
                    "steps": int(rng.integers(fam.steps[0], fam.steps[1] + 1)),
                    "_diff": fam.diff, "_pop": fam.pop * float(rng.lognormal(0.0, 0.5)),
                    "_level": {"both": 0, "city": 1, "county": 2}[fam.level],
                    "_ent": fam.ent, "_cross": fam.cross,
                })
    frame = pl.DataFrame(rows, schema={
        "item_code": pl.String, "name": pl.String, "item_type": pl.String, "sector": pl.String,
        "statutory_days": pl.Int32, "promised_days": pl.Int32, "limit_unit": pl.String,
        "online_depth": pl.Int32, "max_visits": pl.Int32, "be_indicator": pl.String,
        "materials": pl.Int32, "steps": pl.Int32, "_diff": pl.Int32, "_pop": pl.Float64,
        "_level": pl.Int8, "_ent": pl.Float64, "_cross": pl.Float64,
    })
    for r in rows:  # promised ≤ statutory is a contract rule; the tables must respect it
        if r["statutory_days"] is not None and r["promised_days"] is not None:
            assert r["promised_days"] <= r["statutory_days"], r["name"]
    types = list(ITEM_TYPE_NO)
    return Catalogue(
        frame=frame.select([c for c in frame.columns if not c.startswith("_")]),
        sector=np.array([SECTOR_INDEX[r["sector"]] for r in rows], dtype=np.int16),
        statutory=frame["statutory_days"].fill_null(-1).to_numpy().astype(np.int32),
        promised=frame["promised_days"].fill_null(-1).to_numpy().astype(np.int32),
        natural=np.array([r["limit_unit"] == "natural" for r in rows]),
        depth=frame["online_depth"].to_numpy().astype(np.int8),
        max_visits=frame["max_visits"].fill_null(-1).to_numpy().astype(np.int8),
        diff=frame["_diff"].to_numpy().astype(np.int8),
        pop=frame["_pop"].to_numpy(),
        level=frame["_level"].to_numpy(),
        ent=frame["_ent"].to_numpy(),
        cross=frame["_cross"].to_numpy(),
        item_type=np.array([types.index(r["item_type"]) for r in rows], dtype=np.int8),
        be=np.array([r["be_indicator"] for r in rows], dtype=object),
        names=tuple(r["name"] for r in rows),
    )
