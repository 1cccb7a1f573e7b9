"""Follow-up tracking of the notice's work items (issue 6): recruitment every two weeks
(:mod:`.recruitment`), employer visits against the targets (:mod:`.visits`), platform and
registration figures (:mod:`.platform`), graduates in difficulty (:mod:`.assistance`), the 约谈
list (:mod:`.interviews`) and the sentences of the 全省通报 (:mod:`.circular`). Date logic lives in
:mod:`.dates`; :mod:`.report` computes every table of a reporting date for the notebooks
(``followup.ipynb``, ``circular.ipynb``). Every threshold and date comes from the policy file.

Importing the package registers the Chinese headers and titles of its tables with
:mod:`helpers.tables`.
"""

from __future__ import annotations

from helpers.tables import register_headers, register_table_titles

TABLE_TITLES = {
    "recruitment_by_window": "校园招聘分期统计",
    "recruitment_by_type": "校园招聘分类型统计",
    "visits_progress": "访企拓岗进度",
    "visits_by_role": "访企拓岗按走访人分类",
    "platform_progress": "平台关注与绑定",
    "assistance_by_group": "困难群体落实率与本校对比",
    "assistance_compliance": "“3个3”帮扶达标",
    "all_placed_check": "零就业家庭毕业生清零",
    "willing_check": "有就业意愿残疾毕业生落实",
    "checkpoint_gaps": "约谈节点困难群体落实率",
    "interview_list": "约谈名单",
}

ZH_HEADERS = {
    # recruitment
    "complete": "统计周期已结束",
    "activity_type": "活动类型",
    "records": "报送记录数",
    "straddling_records": "跨统计周期记录数",
    "events_latest": "最近周期场次",
    "positions_latest": "最近周期岗位数",
    "active_windows": "开展活动的周期数",
    "complete_windows": "已结束的周期数",
    # visits
    "new_employers": "新开拓用人单位数",
    "leader_visits": "校领导走访次数",
    "college_visits": "二级学院走访次数",
    "other_visits": "其他人员走访次数",
    "college_distinct_employers": "二级学院走访用人单位数",
    "expected_to_date": "按进度应走访用人单位数",
    "new_target_applies": "适用新开拓目标",
    "expected_new_to_date": "按进度应新开拓用人单位数",
    "on_track_employers": "走访进度达标",
    "on_track_new": "新开拓进度达标",
    "role_group": "走访人类别",
    # platform
    "stat_date": "平台统计日期",
    "platform_followers": "平台关注人数",
    "counsellors": "毕业班辅导员数",
    "counsellors_bound": "已绑定辅导员数",
    "registered": "毕业去向登记人数",
    "follow_rate_laggard": "关注率滞后",
    "binding_rate_laggard": "绑定率滞后",
    "registration_rate_laggard": "登记率滞后",
    "laggard": "存在滞后",
    "laggard_reason": "滞后情况",
    # graduates in difficulty
    "not_compliant_3x3": "未达到“3个3”人数",
    "willing_unknown": "就业意愿未填报人数",
    "below": "低于本校平均水平",
    "checkpoint": "约谈节点",
    "checkpoint_label": "约谈节点名称",
    "data_date": "数据截止日期",
    # interview list
    "reason_code": "约谈事由代码",
    # data notes
    "dataset": "数据集",
}

register_headers(ZH_HEADERS)
register_table_titles(TABLE_TITLES)
