"""The data-quality report: helpers on constructed frames, and notebooks/data_quality.ipynb on the
demo data (province mode, university mode, and with its defaults from notebooks/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers.runner import quality

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2023-08-31"
UNIS = pd.DataFrame(
    {"university_code": ["10386", "10394"], "university_name": ["福州大学", "福建师范大学"]}
)


def files_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_file": [
                "2023-08-31/毕业去向_10386_福州大学.xlsx",
                "2023-08-31/毕业去向_10386_福州大学.xlsx",
                "2023-08-31/访企拓岗_汇总.csv",
                "2023-08-31/坏文件.xlsx",
            ],
            "sheet": ["本科生", "研究生", "", ""],
            "dataset": ["graduates", "graduates", "visits", "visits"],
            "snapshot_date": [AS_OF] * 4,
            "status": ["ok", "ok", "ok", "unreadable"],
            "rows_read": [100, 50, 20, 0],
            "accepted": [95, 50, 17, 0],
            "merged": [2, 0, 0, 0],
            "quarantined": [3, 0, 2, 0],  # the visits file does not add up: 20 != 17 + 0 + 2
            "footer_rows": [2, 1, 0, 0],
        }
    )


def quarantine_frame() -> pd.DataFrame:
    raw = [
        json.dumps({"学号": "S0001", "姓名": "张三丰", "院校代码": "10386"}, ensure_ascii=False),
        json.dumps({"学号": "S0002", "姓名": "李四光", "院校代码": "99999"}, ensure_ascii=False),
        json.dumps(
            {"学号": "S0003", "姓名": "王五", "学校标识码": "4135010394.0"}, ensure_ascii=False
        ),
        json.dumps({"走访人": "赵六", "院校名称": "某学院"}, ensure_ascii=False),
        json.dumps({"学号": "S0005", "院校代码": "10386"}, ensure_ascii=False),
        None,
    ]
    return pd.DataFrame(
        {
            "source_file": [
                "2023-08-31/毕业去向_10386_福州大学.xlsx",
                "2023-08-31/毕业去向_10386_福州大学.xlsx",
                "2023-08-31/访企拓岗_汇总.csv",
                "2023-08-31/访企拓岗_汇总.csv",
                "2023-08-31/毕业去向_10386_福州大学.xlsx",
                "2023-08-31/坏文件.xlsx",
            ],
            "sheet": ["本科生", "本科生", "", "", "本科生", ""],
            "row": pd.array([7, 8, 12, 13, 9, None], dtype="Int64"),
            "dataset": ["graduates", "graduates", "visits", "visits", "graduates", "visits"],
            "level": ["row"] * 5 + ["file"],
            "reason_code": [
                "scientific_notation",
                "unknown_university",
                "empty_required",
                "unknown_university",
                "scientific_notation",
                "file_corrupt",
            ],
            "reason": ["…"] * 6,
            "column": ["身份证号", "院校代码", "走访日期", "院校名称", "身份证号", ""],
            "raw": raw,
        }
    )


def repairs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_file": ["2023-08-31/毕业去向_10386_福州大学.xlsx"] * 4,
            "sheet": ["本科生"] * 4,
            "row": pd.array([3, 4, 5, 9], dtype="Int64"),
            "dataset": ["graduates"] * 4,
            "column": ["专业代码"] * 4,
            "repair_code": ["zero_pad"] * 4,
            "repair": ["补全丢失的前导零"] * 4,
            "before": ["80901"] * 4,
            "after": ["080901"] * 4,
        }
    )


def _all_text(*frames: pd.DataFrame) -> str:
    return "\n".join(f.astype(str).to_csv(index=False) for f in frames)


def test_file_reconciliation_checks_the_equation_per_file():
    rec = quality.file_reconciliation(files_frame())
    balanced = dict(zip(rec["source_file"] + "|" + rec["sheet"], rec["balanced"], strict=True))
    assert balanced == {
        "2023-08-31/毕业去向_10386_福州大学.xlsx|本科生": True,
        "2023-08-31/毕业去向_10386_福州大学.xlsx|研究生": True,
        "2023-08-31/访企拓岗_汇总.csv|": False,
        "2023-08-31/坏文件.xlsx|": True,
    }
    assert set(rec["read_status"]) == {"已读取", "无法读取"}
    totals = quality.dataset_reconciliation(rec).set_index("dataset")
    assert totals.loc[
        "毕业去向", ["file_count", "rows_read", "rows_accepted", "rows_merged", "rows_quarantined"]
    ].tolist() == [1, 150, 145, 2, 3]
    assert not totals.loc["访企拓岗", "balanced"]


def test_missing_ingest_columns_are_named():
    with pytest.raises(ValueError, match=r"files\.parquet lacks columns .*'accepted'"):
        quality.file_reconciliation(files_frame().drop(columns="accepted"))


def test_quarantined_rows_are_assigned_to_a_known_university():
    code = quality.quarantine_university(quarantine_frame(), UNIS)
    # own code if known; a 学校标识码 gives the code; else the file's code; else unknown
    assert code.tolist() == ["10386", "10386", "10394", pd.NA, "10386", pd.NA]
    with_column = quarantine_frame().drop(columns="raw").assign(university_code=["10394"] * 6)
    assert quality.quarantine_university(with_column, UNIS).tolist() == ["10394"] * 6


def test_reasons_by_dataset_and_university():
    q = quarantine_frame()
    reasons = quality.reasons(
        q,
        {
            "scientific_notation": "科学计数法",
            "unknown_university": "院校不明",
            "empty_required": "必填项为空",
        },
    )
    assert reasons[["dataset", "quarantine_reason", "row_count"]].values.tolist() == [
        ["毕业去向", "科学计数法", 2],
        ["毕业去向", "院校不明", 1],
        ["访企拓岗", "必填项为空", 1],
        ["访企拓岗", "院校不明", 1],
    ]
    by_uni = quality.reasons_by_university(q, UNIS)
    assert by_uni["row_count"].sum() == 5  # the unreadable file is listed apart
    unknown = by_uni[by_uni["university_code"].isna()]
    assert unknown["university_name"].tolist() == [quality.UNKNOWN_UNIVERSITY]
    matrix = quality.university_reason_matrix(by_uni)
    assert matrix["合计"].sum() == 5
    unreadable = quality.unreadable_files(q)
    assert unreadable["source_file"].tolist() == ["2023-08-31/坏文件.xlsx"]


def test_row_numbers_compressed_and_no_values_leak():
    q, r = quarantine_frame(), repairs_frame()
    rows = quality.quarantined_row_numbers(q)
    sci = rows[rows["quarantine_reason_code"] == "scientific_notation"]
    assert sci[["row_count", "row_numbers"]].values.tolist() == [[2, "7, 9"]]
    rep = quality.repair_row_numbers(r)
    assert rep[["row_count", "row_numbers"]].values.tolist() == [[4, "3–5, 9"]]
    summary = quality.repairs_summary(r)
    assert summary[["dataset", "column_name", "row_count", "file_count"]].values.tolist() == [
        ["毕业去向", "专业代码", 4, 1]
    ]
    text = _all_text(
        rows,
        rep,
        summary,
        quality.reasons(q),
        quality.reasons_by_university(q, UNIS),
        quality.unreadable_files(q),
    )
    for value in ("张三丰", "李四光", "王五", "赵六", "S0001", "80901", "{"):
        assert value not in text


def test_compress_rows():
    assert quality.compress_rows(pd.Series([12, 3, 5, 6, 7, 5])) == "3, 5–7, 12"
    assert quality.compress_rows(pd.Series([], dtype="Int64")) == ""


def test_reasons_chart_is_greyscale_safe_and_chinese():
    import matplotlib

    matplotlib.use("Agg")
    import warnings

    import helpers.charts  # noqa: F401  (registers the CJK font)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would warn
        fig = quality.reasons_chart(quality.reasons(quarantine_frame()))
        fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_title() == "隔离行数（按原因，全部数据集合计）" and ax.get_xlabel() == "行数"
    import matplotlib.pyplot as plt

    plt.close(fig)


# --- the notebook on the demo data -----------------------------------------------------------------


def _execute(notebook: Path, cwd: Path, parameters: dict | None, out: Path):
    import papermill as pm

    return pm.execute_notebook(
        str(notebook),
        str(out),
        parameters=parameters or {},
        kernel_name="python3",
        cwd=str(cwd),
        progress_bar=False,
    )


def _outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(str(o.get("text", "")))
            parts += [str(v) for k, v in o.get("data", {}).items() if not k.startswith("image/")]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def province(demo_data_dir, tmp_path_factory):
    """The province report as an analyst runs it: project/notebooks/ as working directory, no
    injected parameters (the notebook's defaults), ../data is the demo data. Its project folder
    and the executed notebook."""
    project = tmp_path_factory.mktemp("project")
    (project / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "data_quality.ipynb", project / "notebooks")
    (project / "data").symlink_to(demo_data_dir, target_is_directory=True)
    nb = _execute(
        project / "notebooks" / "data_quality.ipynb",
        project / "notebooks",
        None,
        project / "defaults.ipynb",
    )
    return project, nb


@pytest.mark.slow
def test_notebook_province_and_university_mode(demo_data_dir, province, tmp_path):
    processed = demo_data_dir / "processed" / AS_OF
    files = pd.read_parquet(processed / "files.parquet")
    q = pd.read_parquet(processed / "quarantine.parquet")
    project, nb = province
    tables = project / "reports" / AS_OF / "tables"
    rec = pd.read_csv(tables / "data_quality_files.csv", encoding="utf-8-sig")
    assert len(rec) == len(files)
    assert rec["rows_read"].sum() == files["rows_read"].sum()
    assert (
        rec["rows_read"] == rec["rows_accepted"] + rec["rows_merged"] + rec["rows_quarantined"]
    ).all()
    by_uni = pd.read_csv(tables / "data_quality_by_university.csv", encoding="utf-8-sig", dtype=str)
    assert by_uni["row_count"].astype(int).sum() == int((q["level"] == "row").sum())
    # no personal value of a quarantined row reaches the report
    from helpers.datasets import BY_NAME

    personal = {
        h for d in BY_NAME.values() for c in d.columns if c.personal for h in (c.zh, c.name)
    }
    values = set()
    for doc in q["raw"].dropna():
        values |= {str(v) for k, v in json.loads(doc).items() if k in personal and len(str(v)) >= 3}
    assert values  # the demo's quarantined rows do carry names and 学号
    text = _outputs_text(nb) + "".join(
        p.read_text(encoding="utf-8-sig") for p in tables.glob("*.csv")
    )
    assert [v for v in values if v in text] == []
    assert "对账" in text or any("一、总体情况" in "".join(c.source) for c in nb.cells)

    code = "10386"
    reports = tmp_path / "reports"
    params_u = {"as_of": AS_OF, "university": code, "data_dir": str(demo_data_dir),
                "reports_dir": str(reports)}  # fmt: skip
    _execute(
        ROOT / "notebooks" / "data_quality.ipynb",
        ROOT / "notebooks",
        params_u,
        tmp_path / "university.ipynb",
    )
    uni_tables = reports / AS_OF / "tables" / "universities" / code
    by_uni_u = pd.read_csv(
        uni_tables / "data_quality_by_university.csv", encoding="utf-8-sig", dtype=str
    )
    assert set(by_uni_u["university_code"].dropna()) <= {code}
    rec_u = pd.read_csv(uni_tables / "data_quality_files.csv", encoding="utf-8-sig", dtype=str)
    assert rec_u["source_file"].str.contains(code).all()


@pytest.mark.slow
def test_notebook_runs_with_its_defaults_from_notebooks_folder(province):
    """As an analyst would: project/notebooks/ as working directory, ../data is the demo data."""
    project, nb = province
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert (project / "reports" / AS_OF / "tables" / "data_quality_files.csv").exists()
