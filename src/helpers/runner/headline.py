"""The period's headline figures for the top of ``reports/<as_of>/index.html``.

Computed from the tables the province reports wrote (``tables/*.csv``, the data contract's
snake_case columns) and the run manifest, never typed by hand: the province rate against the
policy line and its change, the universities below the line, the 专业点 by evidence level, the
universities to 约谈 and the data-quality status. A table that is missing (its report failed) makes
its figure say so instead of showing a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from helpers.majors import EVIDENCE_LABELS, EVIDENCE_LEVELS

# tables (tables/<name>.csv) the figures are computed from
HEADLINE_TABLES = (
    "placement_headline",
    "placement_below_policy",
    "major_summary",
    "interview_list",
    "data_quality_datasets",
    "data_quality_unreadable",
)
MISSING = "—"
QUALITY_NOTEBOOK = "data_quality.ipynb"


@dataclass(frozen=True)
class Headline:
    """One figure: what it is, its value as shown, a sentence of context, and its tone
    (``ok``, ``bad`` or ``""``) for the page's colours."""

    label: str
    value: str
    note: str = ""
    tone: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _points(x: float) -> str:
    return f"{x * 100:+.1f}个百分点"


def _num(v) -> float | None:
    v = pd.to_numeric(pd.Series([v]), errors="coerce").iloc[0]
    return None if pd.isna(v) else float(v)


def _not_made(label: str, table: str) -> Headline:
    return Headline(label, MISSING, f"本期未生成（{table}.csv 缺失，见下方失败与错误）", "bad")


def province_rate(head: pd.DataFrame | None) -> Headline:
    label = "全省毕业去向落实率"
    if head is None or head.empty:
        return _not_made(label, "placement_headline")
    row = head.iloc[0]
    rate, line = _num(row.get("placement_rate")), _num(row.get("policy_rate"))
    if rate is None:
        return Headline(label, MISSING, "本期没有可计算的落实率", "bad")
    parts = []
    if line is not None:
        side = "低于" if rate < line else "达到"
        parts.append(f"{side}政策线 {_pct(line)}（{_points(rate - line)}）")
    change, prev = _num(row.get("rate_change")), row.get("previous_snapshot_date")
    if change is not None and isinstance(prev, str) and prev:
        parts.append(f"较 {prev} {_points(change)}")
    last, last_date = _num(row.get("last_year_change")), row.get("last_year_snapshot_date")
    if last is not None and isinstance(last_date, str) and last_date:
        parts.append(f"较上年同期（{last_date}）{_points(last)}")
    tone = "" if line is None else ("bad" if rate < line else "ok")
    return Headline(label, _pct(rate), "；".join(parts), tone)


def below_policy(below: pd.DataFrame | None) -> Headline:
    label = "落实率低于政策线的高校"
    if below is None:
        return _not_made(label, "placement_below_policy")
    if "below_policy_rate" in below.columns:
        below = below[below["below_policy_rate"].astype("boolean").fillna(False)]
    n = len(below)
    names = "、".join(str(v) for v in below.get("university_name", pd.Series(dtype=str)).head(5))
    more = f"等 {n} 所" if n > 5 else ""
    note = f"{names}{more}" if n else "所有高校均达到政策线"
    return Headline(label, f"{n} 所", note, "bad" if n else "ok")


def majors_by_evidence(summary: pd.DataFrame | None) -> Headline:
    label = "学科专业点（按证据等级）"
    if summary is None:
        return _not_made(label, "major_summary")
    rows = summary[summary["scope"] == "全省"] if "scope" in summary.columns else summary.head(0)
    if rows.empty:
        return Headline(label, MISSING, "本期没有专业点数据", "")
    row = rows.iloc[0]
    counts = {lvl: int(_num(row.get(lvl)) or 0) for lvl in EVIDENCE_LEVELS}
    flagged = counts["below_confident"] + counts["below_point"]
    total = int(_num(row.get("points")) or sum(counts.values()))
    note = "；".join(f"{EVIDENCE_LABELS[lvl]} {counts[lvl]} 个" for lvl in EVIDENCE_LEVELS)
    return Headline(label, f"{flagged} / {total} 个低于阈值", note, "bad" if flagged else "ok")


def interviews(listing: pd.DataFrame | None) -> Headline:
    label = "需约谈的高校"
    if listing is None:
        return _not_made(label, "interview_list")
    n = listing["university_code"].nunique() if "university_code" in listing.columns else 0
    reasons = len(listing)
    note = f"共 {reasons} 项约谈事由" if n else "本期无需约谈的高校"
    return Headline(label, f"{n} 所", note, "bad" if n else "ok")


def data_quality(
    datasets: pd.DataFrame | None, unreadable: pd.DataFrame | None, report_ok: bool | None
) -> Headline:
    label = "数据质量"
    if datasets is None:
        return _not_made(label, "data_quality_datasets")
    balanced = bool(datasets["balanced"].astype("boolean").fillna(False).all())
    quarantined = int(pd.to_numeric(datasets["rows_quarantined"], errors="coerce").fillna(0).sum())
    files = 0 if unreadable is None else len(unreadable)
    read = int(pd.to_numeric(datasets["rows_read"], errors="coerce").fillna(0).sum())
    problems = []
    if files:
        problems.append(f"{files} 个文件无法读取")
    if quarantined:
        problems.append(f"{quarantined:,} 行被隔离（共读取 {read:,} 行）")
    if not balanced:
        problems.append("对账不平衡")
    if report_ok is False:
        problems.append("数据质量报告生成失败")
    if not problems:
        return Headline(label, "正常", f"共读取 {read:,} 行，全部接受，对账平衡", "ok")
    value = "需处理" if (files or not balanced or report_ok is False) else "有隔离行"
    tail = "，对账平衡" if balanced else ""
    return Headline(label, value, "；".join(problems) + tail, "bad")


def headline_figures(
    tables: Mapping[str, pd.DataFrame | None], report_ok: bool | None = None
) -> list[Headline]:
    """The figures in page order, from the tables named in :data:`HEADLINE_TABLES` (``None``
    for a table the run did not write). ``report_ok``: whether the data-quality report
    rendered (None when the run did not include it)."""
    return [
        province_rate(tables.get("placement_headline")),
        below_policy(tables.get("placement_below_policy")),
        majors_by_evidence(tables.get("major_summary")),
        interviews(tables.get("interview_list")),
        data_quality(
            tables.get("data_quality_datasets"), tables.get("data_quality_unreadable"), report_ok
        ),
    ]


def read_headline_tables(run_dir: Path) -> dict[str, pd.DataFrame | None]:
    """The province tables of a run folder the headline needs (None where a file is missing)."""
    from helpers.tables import read_table

    out: dict[str, pd.DataFrame | None] = {}
    for name in HEADLINE_TABLES:
        path = Path(run_dir) / "tables" / f"{name}.csv"
        out[name] = read_table(path) if path.is_file() else None
    return out


def run_headline(run_dir: Path, manifest: Mapping) -> list[Headline]:
    """The headline of a run folder: its tables and whether its data-quality report rendered."""
    quality = [
        r
        for r in manifest.get("reports", [])
        if r.get("scope") == "province"
        and any(p.get("notebook") == QUALITY_NOTEBOOK for p in r.get("parts", []))
    ]
    report_ok = quality[0].get("status") == "ok" if quality else None
    return headline_figures(read_headline_tables(run_dir), report_ok)
