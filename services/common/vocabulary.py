"""The one code → 中文 vocabulary for everything users see (DESIGN §1 and §4).

Services and the gateway carry codes (``refused``, ``video_verification``, ``attitude``); pages,
exports, the monthly summary and messages show the Chinese words from these tables, so one code
reads the same everywhere. Pure: no I/O. :func:`label` shows an unknown code as it is, so a code
added by a newer service still shows something readable in an older front door.
"""

from collections.abc import Mapping
from types import MappingProxyType


def _table(entries: dict) -> Mapping:
    # read-only, so no importer can change what every other module shows
    return MappingProxyType(entries)


# coordination's case states (services/coordination/domain.py TRANSITIONS)
STATE_LABELS = _table(
    {
        "registered": "已登记，待分类",
        "classified": "已分类",
        "in_progress": "办理中",
        "replied": "已答复",
        "resolved": "已办结",
        "closed": "已关闭",
        "archived": "已归档",
    }
)
# the four types and their treatments (DESIGN §1)
TYPE_LABELS = _table(
    {"cannot": "不能办", "hard": "不好办", "refused": "不给办", "pending": "暂时办不了"}
)
CHANNEL_LABELS = _table(
    {
        "window": "窗口反映",
        "rating": "好差评",
        "hotline": "监督投诉电话",
        "comment_book": "意见留言簿",
        "open311": "12345/Open311 接入",
    }
)
APPLICANT_KIND_LABELS = _table({"person": "个人", "enterprise": "企业"})
# why a matter was refused (DESIGN §1 不给办: unfamiliar business, a poor process, a bad
# attitude); accountability's formal wording of its findings
CAUSE_LABELS = _table(
    {"unfamiliar": "业务不熟悉", "process": "流程未优化", "attitude": "工作态度问题"}
)
# 不好办's coordination measures (DESIGN §4)
MEASURE_LABELS = _table(
    {
        "deferred_materials": "容缺受理",
        "commitment": "告知承诺",
        "video_verification": "远程连线、视频验证",
        "data_sharing": "数据共享",
    }
)
# the strike ladder's sanctions (DESIGN §1 assessment); training is the improvement action
SANCTION_LABELS = _table(
    {
        "reminder_talk": "谈话提醒",
        "bonus_withheld": "扣发奖金",
        "award_ineligible": "取消评优资格",
        "dismissal": "辞退",
        "training": "业务培训",
    }
)
SANCTION_STATUS_LABELS = _table(
    {
        "applied": "已生效",
        "recommended": "建议（待确认）",
        "confirmed": "已确认",
        "revoked": "已撤销",
    }
)
# who uses it (DESIGN §2)
ROLE_LABELS = _table(
    {
        "window_staff": "窗口工作人员",
        "officer": "办不成事反映窗口",
        "bureau": "区行政审批局",
        "supervisor": "监督人员",
        "operator": "运维人员",
        "hr": "人事部门",
    }
)
# accountability's findings and the appeals against them
FINDING_STATUS_LABELS = _table({"confirmed": "已认定", "overturned": "已撤销"})
APPEAL_STATUS_LABELS = _table({"pending": "待决定", "upheld": "申诉成立", "rejected": "申诉驳回"})
OUTCOME_LABELS = _table({"done": "办成", "explained": "已解释说明", "not_done": "未办成"})
# the approval bureau's review of a `cannot` answer (否定答复); None: not reviewed yet
REVIEW_RESULT_LABELS = _table({"upheld": "维持", "sent_back": "退回重新说明"})
# 好差评 levels (DESIGN §8: 5 非常满意 … 1 非常不满意)
RATING_LEVEL_LABELS = _table(
    {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
)
# a deadline's stage (coordination's policies: ``<type>_<stage>``)
STAGE_LABELS = _table({"reply": "答复期限", "resolution": "办结期限"})
# the 差评 loop (好差评: 核实、整改、反馈、回访; services/coordination/bad_ratings.py)
BAD_RATING_STATE_LABELS = _table(
    {
        "awaiting_verification": "待核实",
        "appealed": "申诉待决定",
        "not_genuine": "核实不属实",
        "rectifying": "整改中",
        "awaiting_answer": "待反馈评价人",
        "awaiting_return_visit": "待回访",
        "awaiting_re_rating": "已回访，可再评价",
        "completed": "已完成",
    }
)
BAD_RATING_FINDING_LABELS = _table(
    {
        "genuine": "差评属实",
        "malicious": "恶意差评",
        "mistaken": "误评",
        "unrelated": "与政务服务无关",
    }
)
# the services, as the timeline names who wrote an entry
SERVICE_LABELS = _table(
    {
        "intake": "登记",
        "coordination": "协调",
        "accountability": "问责",
        "reporting": "统计",
    }
)


def label(table: Mapping, code) -> str:
    """The Chinese word for ``code`` in ``table``; the code itself when the table lacks it.

    ``None`` shows as an empty string (a field not filled in yet).
    """
    if code is None:
        return ""
    return table.get(code, code if isinstance(code, str) else str(code))
