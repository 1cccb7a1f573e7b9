"""Chinese headers and table titles of the major-evidence tables (registered with
:mod:`helpers.tables` when the package is imported).
"""

from __future__ import annotations

from helpers.majors.evidence import EVIDENCE_LABELS
from helpers.majors.mix import MIX_CATEGORIES

# Chinese headers of the columns the major-evidence tables add (columns shared with other tables,
# e.g. university_code, graduates, placement_rate, ci_low, evidence_level, are registered by
# helpers.tables itself).
ZH_HEADERS = {
    "is_initial": "是否初次统计日",
    "below_threshold": "低于阈值",
    "cohorts_observed": "有数据届数",
    "cohorts_below": "低于阈值届数",
    "consecutive_below": "截至本届连续低于阈值届数",
    "below_two_consecutive": "连续两届低于阈值",
    "previous_cohort": "上一届",
    "previous_cohort_graduates": "上届毕业生数",
    "two_cohort_graduates": "本届与上届合计毕业生数",
    "two_cohort_rate": "本届与上届合计落实率",
    "two_cohort_ci_low": "两届合计置信区间下限",
    "two_cohort_ci_high": "两届合计置信区间上限",
    "two_cohort_confirmed": "两届合计确认低于阈值",
    "peer_points": "省内同专业其他专业点数",
    "peer_graduates": "同专业其他院校毕业生数",
    "peer_placed": "同专业其他院校已落实人数",
    "peer_rate": "同专业其他院校合计落实率",
    "peer_ci_low": "同专业合计置信区间下限",
    "peer_ci_high": "同专业合计置信区间上限",
    "gap_to_peers": "与同专业其他院校差距",
    "peer_verdict": "同专业比较结论",
    "prior_source": "先验来源",
    "prior_a": "先验参数a",
    "prior_b": "先验参数b",
    "prior_mean": "先验均值",
    "prior_strength": "先验强度（a+b）",
    "points_used": "拟合所用专业点数",
    "converged": "拟合收敛",
    "eb_rate": "经验贝叶斯估计",
    "eb_low": "贝叶斯可信区间下限",
    "eb_high": "贝叶斯可信区间上限",
    "eb_prob_below": "低于阈值的后验概率",
    "eb_weight": "本点数据权重",
    **{col: f"{label}占比" for label, col in MIX_CATEGORIES.items()},
    "main_unplaced": "未落实者主要去向",
    "points": "专业点数",
    "insufficient": EVIDENCE_LABELS["insufficient"],
    "below_confident": EVIDENCE_LABELS["below_confident"],
    "below_point": EVIDENCE_LABELS["below_point"],
    "not_below": EVIDENCE_LABELS["not_below"],
    "flagged_points": "列入名单专业点数",
    "watch": "人数不足但低于阈值",
    "flagged_graduates": "名单专业点毕业生数",
    "below_confident_points": "确定低于阈值专业点数",
    "deadline": "报送截止日期",
    "received_date": "报送日期",
    "plan_status": "方案报送状态",
    "days_late": "逾期天数",
}
RATE_COLUMNS = (
    "prior_mean",
    "eb_rate",
    "eb_low",
    "eb_high",
    "eb_prob_below",
    "eb_weight",
    *MIX_CATEGORIES.values(),
)
TABLE_TITLES = {
    "major_points": "专业点落实率与证据等级",
    "major_flagged": "列入名单的专业点",
    "major_trend": "专业点历届趋势",
    "major_peers": "同专业省内比较",
    "major_eb_priors": "经验贝叶斯先验",
    "major_summary": "专业点证据汇总",
    "adjustment_plan_status": "调整改革实施方案报送",
}


def _register_tables() -> None:
    from helpers.tables import register_headers, register_table_titles

    register_headers(ZH_HEADERS, rates=RATE_COLUMNS, differences=("gap_to_peers",))
    register_table_titles(TABLE_TITLES)


_register_tables()
