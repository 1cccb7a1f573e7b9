"""What ``ingest`` did (:class:`IngestResult`), and its summary for staff (bilingual)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from helpers.config import processed_dir
from helpers.datasets import INPUT_DATASETS, REFERENCE_DATASETS
from helpers.ingest.quarantine import BOUND_REASONS, REASONS
from helpers.ingest.sources import MANIFEST_NAME, SNAPSHOT


@dataclass
class IngestResult:
    """What ``ingest`` did; ``summary()`` is the text for staff (bilingual)."""

    as_of: dt.date
    data_dir: Path
    built: list[dt.date] = field(default_factory=list)
    up_to_date: list[dt.date] = field(default_factory=list)
    seconds: float = 0.0
    worker_peak_rss_mb: float = 0.0  # largest peak RSS among the processes that read files
    # CPU time (user + system) of the pool's worker processes; 0 when everything ran in this
    # process (then time.process_time() of the caller holds it all)
    worker_cpu_seconds: float = 0.0
    files_read: int = 0  # raw files read by the regular reader (bulk files not counted)
    files_cached: int = 0  # raw files whose result came from the per-file cache

    @property
    def processed_dir(self) -> Path:
        return processed_dir(self.data_dir, self.as_of)

    def manifest(self) -> dict:
        return json.loads((self.processed_dir / MANIFEST_NAME).read_text(encoding="utf-8"))

    def files(self) -> pd.DataFrame:
        return pd.read_parquet(self.processed_dir / "files.parquet")

    def reason_counts(self) -> pd.Series:
        q = pd.read_parquet(
            self.processed_dir / "quarantine.parquet", columns=["level", "reason_code"]
        )
        return q.loc[q["level"] == "row", "reason_code"].value_counts()

    def summary(self) -> str:
        m = self.manifest()
        files = self.files()
        lines = [f"入库 ingest {self.as_of.isoformat()} → {self.processed_dir}"]
        if self.built:
            lines.append(
                "  已处理 processed: "
                + ", ".join(d.isoformat() for d in self.built)
                + f"  ({self.seconds:.1f} s)"
            )
            lines.append(
                f"  读取文件 files read: {self.files_read:,}；"
                f"未变化、取自缓存 unchanged, from the cache: {self.files_cached:,}"
            )
        if self.up_to_date:
            lines.append(
                "  无变化，未重算 up to date: " + ", ".join(d.isoformat() for d in self.up_to_date)
            )
        lines.append(
            f"  {'数据集 dataset':<26}{'文件 files':>11}{'读取 read':>11}{'接受 accepted':>15}"
            f"{'合并 merged':>13}{'隔离 quarantined':>18}"
        )
        for name in (*INPUT_DATASETS, *REFERENCE_DATASETS):
            c = m["datasets"][name.name]["counts"]
            label = f"{name.zh} {name.name}"
            lines.append(
                f"  {label:<26}{c['files']:>11,}{c['rows_read']:>11,}{c['accepted']:>15,}"
                f"{c['merged']:>13,}{c['quarantined']:>18,}"
            )
        snap = {n: m["datasets"][n].get("snapshot_date") for n in SNAPSHOT}
        lines.append(
            "  快照 snapshot: " + ", ".join(f"{n}={v or '无 none'}" for n, v in snap.items())
        )
        if m["datasets"]["universities"].get("fallback"):
            lines.append(
                "  院校名单 universities: 未提供 raw/reference/universities.*，使用项目自带名单 "
                "(shipped MoE 2018 list)"
            )
        reasons = self.reason_counts()
        if len(reasons):
            lines.append("  主要隔离原因 top quarantine reasons:")
            for code, n in reasons.head(8).items():
                lines.append(f"    {code:<28}{n:>8,}  {REASONS.get(code, code)}")
        unreadable = files[files["status"] == "unreadable"]
        if len(unreadable):
            lines.append("  无法读取的文件 unreadable files:")
            for _, r in unreadable.iterrows():
                detail = r["detail"] if r["reason_code"] in BOUND_REASONS else None
                lines.append(
                    f"    {r['source_file']} — {REASONS.get(r['reason_code'], r['reason_code'])}"
                    f" ({r['reason_code']}{': ' + detail if isinstance(detail, str) else ''})"
                )
        if m.get("ignored_files"):
            lines.append(
                f"  未识别的文件（文件名不以数据集前缀开头）unrecognised files: {len(m['ignored_files'])}: "
                + ", ".join(m["ignored_files"][:5])
                + (" …" if len(m["ignored_files"]) > 5 else "")
            )
        lines.append(
            f"  对账 reconciliation: 每个文件 读取 = 接受 + 合并 + 隔离 — "
            f"{'全部平衡 all balanced' if bool(files['balanced'].all()) else '有不平衡 NOT balanced'}"
        )
        return "\n".join(lines)
