"""Every form of mess of data-contract §2, each in a file built here, with the expected accepted /
merged / quarantined rows and reasons."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from test_ingest_support import (
    AS_OF,
    GRAD_HEADER,
    file_row,
    files_table,
    grad_row,
    make_data_dir,
    processed,
    quarantine,
    raw_dir,
    write_csv,
    write_xls,
    write_xlsx,
)
from test_ingest_units import encrypted_workbook_bytes

from helpers.ingest import ingest


def run(data):
    return ingest(AS_OF, data, workers=1)


def reasons(data, name_part: str) -> dict[int, str]:
    q = quarantine(data)
    q = q[q["source_file"].str.contains(name_part, regex=False) & (q["level"] == "row")]
    return dict(zip(q["row"].astype(int), q["reason_code"], strict=True))


def counts(data, name_part):
    r = file_row(data, name_part)
    return r["rows_read"], r["accepted"], r["merged"], r["quarantined"]


def test_title_blank_and_footer_rows(tmp_path):
    data = make_data_dir(tmp_path)
    rows = [["2023届毕业生就业方案"], [], ["", "填报单位：福州大学"], [None, *GRAD_HEADER]]
    rows += [[None, *grad_row(i)] for i in range(3)]
    rows += [
        [],
        [None, *grad_row(3)],
        [None, "合计", "4"],
        [None, "总计：4人"],
        [None, "填表人：张老师"],
        [None, "制表日期：2023-09-01"],
    ]
    write_xlsx(raw_dir(data) / "毕业去向_10386_福州大学.xlsx", {"Sheet1": rows})
    run(data)
    r = file_row(data, "毕业去向_10386")
    assert (r["rows_read"], r["accepted"], r["merged"], r["quarantined"]) == (4, 4, 0, 0)
    assert (r["header_row"], r["blank_rows"], r["footer_rows"]) == (4, 1, 4)
    g = processed(data, "graduates")
    assert g["source_row"].tolist() == [5, 6, 7, 9]
    rep = processed(data, "repairs")
    footers = rep[rep["repair_code"] == "footer_row"]
    assert footers["row"].tolist() == [10, 11, 12, 13]
    assert "张老师" not in "".join(footers["before"].astype(str))


def test_headers_full_width_spaces_line_breaks_and_aliases(tmp_path):
    data = make_data_dir(tmp_path)
    header = [
        "ｓｔｕｄｅｎｔ＿ｉｄ",
        " 院校 代码 ",
        "学历\n层次",
        "Major Code",
        "major_name",
        "毕业去向类别代码",
    ]
    rows = [header, ["2019001", "10386", "本科生毕业", "080901", "计算机科学与技术", "10"]]
    write_csv(raw_dir(data) / "Graduates_fzu.csv", rows, "utf-8-sig")
    run(data)
    assert counts(data, "Graduates_fzu") == (1, 1, 0, 0)
    g = processed(data, "graduates")
    assert g[["university_code", "education_level", "major_code", "destination_code"]].iloc[
        0
    ].tolist() == ["10386", "本科", "080901", "10"]


def test_lost_leading_zeros_and_university_identifiers(tmp_path):
    data = make_data_dir(tmp_path)
    rows = [[*GRAD_HEADER, "学校标识码", "院校名称"]]
    rows.append([*grad_row(1, 专业代码=80901), "", ""])  # numeric cell
    rows.append([*grad_row(2, 专业代码="20103T"), "", ""])  # text lost zero + suffix
    rows.append([*grad_row(3, 院校代码="4135010386.0"), "", ""])  # 标识码 in the code column
    rows.append([*grad_row(4, 院校代码=""), 4135010384, ""])  # numeric 学校标识码
    rows.append([*grad_row(5, 院校代码=""), "", "福建船政交通职业学院"])  # name only
    rows.append(
        [*grad_row(6, 专业代码="120203k", 学号=2019006), "", ""]
    )  # numeric 学号, lower-case K
    write_xlsx(raw_dir(data) / "毕业去向_mixed.xlsx", {"Sheet1": rows})
    run(data)
    assert counts(data, "毕业去向_mixed") == (6, 6, 0, 0)
    g = processed(data, "graduates").set_index("source_row")
    assert g.loc[2, "major_code"] == "080901" and g.loc[3, "major_code"] == "020103T"
    assert g.loc[7, "major_code"] == "120203K"
    assert g["university_code"].tolist() == ["10386", "10386", "10386", "10384", "12631", "10386"]
    rep = processed(data, "repairs")
    assert set(rep["repair_code"]) >= {
        "zero_pad",
        "float_suffix",
        "university_id_to_code",
        "university_name_to_code",
    }
    pad = rep[(rep["repair_code"] == "zero_pad") & (rep["column"] == "专业代码")]
    assert pad[["row", "before", "after"]].values.tolist() == [
        [2, "80901", "080901"],
        [3, "20103T", "020103T"],
    ]


def test_destination_codes_labels_and_nothing_recorded(tmp_path):
    data = make_data_dir(tmp_path)
    rows = [
        GRAD_HEADER,
        grad_row(1, 毕业去向类别代码="801"),
        grad_row(2, 毕业去向类别代码="271"),
        grad_row(3, 毕业去向类别代码="", 毕业去向="签劳动合同形式就业"),
        grad_row(4, 毕业去向类别代码="", 毕业去向=""),  # nothing recorded yet
        grad_row(5, 毕业去向类别代码="72"),
        grad_row(6, 毕业去向类别代码="55"),
        grad_row(7, 毕业去向类别代码="", 毕业去向="去火星"),
        grad_row(8, 学历层次="本科生结业"),
        grad_row(9, 学历层次="专科生肄业"),
        grad_row(10, 学历层次="研究生在读"),
    ]
    write_csv(raw_dir(data) / "毕业去向_dest.csv", rows, "gb18030")
    run(data)
    assert counts(data, "毕业去向_dest") == (10, 7, 0, 3)
    assert reasons(data, "毕业去向_dest") == {
        7: "unknown_destination",
        8: "unknown_destination",
        11: "unknown_level",
    }
    g = processed(data, "graduates").set_index("source_row")
    assert g.loc[2, "placed"] and g.loc[2, "bucket_2024"] == "升学"
    assert g.loc[4, "destination_code"] == "11"
    assert pd.isna(g.loc[5, "destination_code"]) and not g.loc[5, "destination_known"]
    assert g.loc[5, "bucket_2024"] == "未登记" and not g.loc[5, "placed"]
    assert not g.loc[6, "placed"] and g.loc[6, "destination_known"]
    assert g.loc[9, "graduation_status"] == "结业" and not g.loc[9, "in_denominator"]
    assert g.loc[10, "graduation_status"] == "肄业" and g.loc[10, "education_level"] == "专科"
    assert g.loc[2, "in_denominator"]


def test_full_width_brackets_and_spaces_in_names(tmp_path):
    data = make_data_dir(tmp_path)
    rows = [
        GRAD_HEADER,
        grad_row(1, 专业名称="计算机 科学与技术", 学号="２０１９００１"),
        grad_row(2, 专业名称="汉语言文学（师范）", 专业代码="０５０１０１"),
        grad_row(3, 院校代码=" 10386 "),
    ]
    write_csv(raw_dir(data) / "毕业去向_fw.csv", rows, "utf-8")
    run(data)
    g = processed(data, "graduates")
    assert g["major_name"].tolist()[:2] == ["计算机科学与技术", "汉语言文学(师范)"]
    assert g["major_code"].iloc[1] == "050101"
    assert g["university_code"].iloc[2] == "10386"
    from helpers.ingest.pseudonym import keyed_digest, load_key

    assert g["student_key"].iloc[0] == keyed_digest("2019001", load_key())


def test_dates_in_every_form(tmp_path):
    data = make_data_dir(tmp_path)
    header = [
        "院校代码",
        "走访日期",
        "走访人",
        "走访人职务",
        "走访单位名称",
        "统一社会信用代码",
        "是否新开拓",
        "拓展岗位数",
    ]
    forms = [
        45107,
        "45107",
        "2023/6/30",
        "2023-06-30",
        "2023.06.30",
        "20230630",
        "2023年6月30日",
        dt.datetime(2023, 6, 30),
        "2023-13-01",
        "六月三十日",
    ]
    rows = [header] + [
        ["10386", d, f"王{i}", "校长", f"单位{i}", "", "是", 3] for i, d in enumerate(forms)
    ]
    write_xlsx(raw_dir(data) / "访企拓岗_10386.xlsx", {"Sheet1": rows})
    run(data)
    assert counts(data, "访企拓岗_10386") == (10, 8, 0, 2)
    assert reasons(data, "访企拓岗_10386") == {10: "bad_date", 11: "bad_date"}
    v = processed(data, "visits")
    assert (v["visit_date"] == pd.Timestamp("2023-06-30")).all()
    assert v["employer_key"].tolist() == [f"单位{i}" for i in range(8)]


def test_id_number_in_scientific_notation(tmp_path):
    data = make_data_dir(tmp_path)
    rows = [
        GRAD_HEADER,
        grad_row(1, 身份证号=3.50102199901e17),
        grad_row(2, 身份证号="3.50102199901E+17"),
        grad_row(3, 身份证号="350102199901000000"),
        grad_row(4),
    ]
    write_xlsx(raw_dir(data) / "毕业去向_id.xlsx", {"Sheet1": rows})
    run(data)
    assert counts(data, "毕业去向_id") == (4, 1, 0, 3)
    assert set(reasons(data, "毕业去向_id").values()) == {"scientific_notation"}
    q = quarantine(data)
    assert q.loc[q["row"] == 2, "column"].iloc[0] == "身份证号"


def test_duplicates_identical_merge_conflicting_quarantined(tmp_path):
    data = make_data_dir(tmp_path)
    rows = [
        GRAD_HEADER,
        grad_row(1),
        grad_row(2),
        grad_row(1),
        grad_row(3),
        grad_row(3, 毕业去向类别代码="11"),
        grad_row(4),
        grad_row(4, 姓名="另一个人"),
    ]
    write_xlsx(raw_dir(data) / "毕业去向_dup.xlsx", {"Sheet1": rows})
    run(data)
    assert counts(data, "毕业去向_dup") == (7, 2, 1, 4)
    assert reasons(data, "毕业去向_dup") == {
        5: "duplicate_conflict",
        6: "duplicate_conflict",
        7: "duplicate_conflict",
        8: "duplicate_conflict",
    }
    q = quarantine(data)
    raw = json.loads(q.loc[q["row"] == 6, "raw"].iloc[0])
    assert raw["毕业去向类别代码"] == "11"


def test_duplicates_across_files_of_one_folder(tmp_path):
    data = make_data_dir(tmp_path)
    write_csv(raw_dir(data) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1), grad_row(2)])
    write_xlsx(
        raw_dir(data) / "毕业去向_b.xlsx",
        {"S": [GRAD_HEADER, grad_row(1), grad_row(2, 专业名称="软件工程")]},
    )
    run(data)
    assert counts(data, "毕业去向_a") == (2, 1, 0, 1)
    assert counts(data, "毕业去向_b") == (2, 0, 1, 1)
    q = quarantine(data)
    assert set(q["raw"].map(lambda s: json.loads(s).get("专业名称"))) == {
        "计算机科学与技术",
        "软件工程",
    }


def test_unknown_university_and_empty_required(tmp_path):
    data = make_data_dir(tmp_path)
    rows = [
        GRAD_HEADER,
        grad_row(1, 院校代码="99999"),
        grad_row(2, 学号=""),
        grad_row(3, 专业名称=""),
        grad_row(4, 院校代码=""),
        grad_row(5, 专业代码="ABC"),
        grad_row(6),
    ]
    write_xlsx(raw_dir(data) / "毕业去向_bad.xlsx", {"Sheet1": rows})
    run(data)
    assert counts(data, "毕业去向_bad") == (6, 1, 0, 5)
    assert reasons(data, "毕业去向_bad") == {
        2: "unknown_university",
        3: "empty_required",
        4: "empty_required",
        5: "empty_required",
        6: "bad_major_code",
    }
    q = quarantine(data).set_index("row")
    assert q.loc[3, "column"] == "学号" and q.loc[4, "column"] == "专业名称"
    assert "院校不在院校名单中" in q.loc[2, "reason"]


def test_missing_required_column_quarantines_every_row(tmp_path):
    data = make_data_dir(tmp_path)
    header = [h for h in GRAD_HEADER if h != "专业名称"]
    rows = [header] + [
        [c for h, c in zip(GRAD_HEADER, grad_row(i), strict=True) if h != "专业名称"]
        for i in range(3)
    ]
    write_csv(raw_dir(data) / "毕业去向_nocol.csv", rows)
    run(data)
    assert counts(data, "毕业去向_nocol") == (3, 0, 0, 3)
    assert set(reasons(data, "毕业去向_nocol").values()) == {"missing_column"}


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("毕业去向_corrupt.xlsx", b"PK\x03\x04garbage", "file_corrupt"),
        ("毕业去向_empty.xlsx", b"", "file_empty"),
        ("毕业去向_empty.csv", b"", "file_empty"),
        ("毕业去向_password.xlsx", None, "file_password"),
        ("毕业去向_scan.pdf", b"%PDF-1.4 scanned", "file_wrong_type"),
        ("毕业去向_latin1.csv", b"student_id,university_code\n\xe9\xff,10386\n", "file_encoding"),
        ("毕业去向_utf16.csv", "学号,院校代码\n1,10386\n".encode("utf-16"), "file_wrong_type"),
        ("毕业去向_notes.csv", "说明\n本表无数据\n".encode(), "file_no_header"),
    ],
)
def test_unreadable_file_quarantined_whole_others_load(tmp_path, name, content, reason):
    data = make_data_dir(tmp_path)
    write_csv(raw_dir(data) / "毕业去向_good.csv", [GRAD_HEADER, grad_row(1), grad_row(2)])
    (raw_dir(data) / name).write_bytes(encrypted_workbook_bytes() if content is None else content)
    result = run(data)
    f = files_table(data)
    bad = f[f["source_file"].str.endswith(name)]
    assert bad[["status", "reason_code"]].values.tolist() == [["unreadable", reason]]
    q = quarantine(data)
    fq = q[q["level"] == "file"]
    assert fq["source_file"].tolist() == [f"{AS_OF}/{name}"] and fq["reason_code"].tolist() == [
        reason
    ]
    assert len(processed(data, "graduates")) == 2
    assert name in result.summary() and reason in result.summary()


def test_xls_gbk_csv_and_bom_csv(tmp_path):
    data = make_data_dir(tmp_path)
    write_xls(
        raw_dir(data) / "毕业去向_xls.xls", [GRAD_HEADER, grad_row(1), grad_row(2, 姓名="𠮷㛃")]
    )
    write_csv(raw_dir(data) / "毕业去向_gbk.csv", [GRAD_HEADER, grad_row(3)], "gbk")
    write_csv(
        raw_dir(data) / "sub" / "deeper" / "毕业去向_bom.csv",
        [GRAD_HEADER, grad_row(4)],
        "utf-8-sig",
    )
    run(data)
    f = files_table(data).set_index("source_file")
    assert f.loc[f"{AS_OF}/毕业去向_gbk.csv", "encoding"] == "gb18030"
    assert f.loc[f"{AS_OF}/sub/deeper/毕业去向_bom.csv", "encoding"] == "utf-8-sig"
    assert f.loc[f"{AS_OF}/毕业去向_xls.xls", "engine"] == "calamine"
    assert len(processed(data, "graduates")) == 4


def test_several_sheets(tmp_path):
    data = make_data_dir(tmp_path)
    write_xlsx(
        raw_dir(data) / "毕业去向_multi.xlsx",
        {
            "说明": [["填表说明：请按模板填写"]],
            "本科": [GRAD_HEADER, grad_row(1), grad_row(2)],
            "专科": [
                GRAD_HEADER,
                grad_row(3, 学历层次="专科生毕业", 专业代码="510201", 专业名称="计算机应用技术"),
            ],
            "空表": [],
        },
    )
    run(data)
    f = files_table(data)
    f = f[f["source_file"].str.contains("multi")].set_index("sheet")
    assert f.loc["本科", "accepted"] == 2 and f.loc["专科", "accepted"] == 1
    assert f.loc["说明", "status"] == "ignored_sheet" and f.loc["空表", "status"] == "empty_sheet"
    g = processed(data, "graduates")
    assert g.loc[g["education_level"] == "专科", "discipline_name"].tolist() == ["电子与信息大类"]


def test_groups_gender_cohort_and_optional_values(tmp_path):
    data = make_data_dir(tmp_path)
    header = [*GRAD_HEADER, "毕业年份", "就业意愿", "城乡生源"]
    rows = [
        header,
        [*grad_row(1, 帮扶群体="脱贫家庭、残疾", 性别="1"), "2022届", "是", "农村"],
        [*grad_row(2, 帮扶群体="低保家庭;外星人", 性别="女性"), "", "否", "城市"],
        [*grad_row(3, 签约日期="下周"), "二〇二三", "", ""],
    ]
    write_xlsx(raw_dir(data) / "毕业去向_opt.xlsx", {"Sheet1": rows})
    run(data)
    assert counts(data, "毕业去向_opt") == (3, 2, 0, 1)
    assert reasons(data, "毕业去向_opt") == {4: "bad_value"}
    g = processed(data, "graduates").set_index("source_row")
    assert g.loc[2, "cohort"] == 2022 and g.loc[3, "cohort"] == AS_OF.year
    assert g.loc[2, "group_poverty_alleviated"] and g.loc[2, "group_disabled"]
    assert g.loc[3, "group_minimum_living"] and not g.loc[3, "group_disabled"]
    assert g.loc[2, "gender"] == "男" and pd.isna(g.loc[3, "gender"])
    assert bool(g.loc[2, "willing_to_work"]) and not bool(g.loc[3, "willing_to_work"])
    assert g.loc[2, "urban_rural"] == "农村" and g.loc[3, "urban_rural"] == "城镇"
    rep = processed(data, "repairs")
    assert set(rep.loc[rep["row"] == 3, "repair_code"]) == {"unknown_group", "unrecognised_to_na"}


def test_activity_datasets(tmp_path):
    data = make_data_dir(tmp_path)
    rec = [
        [
            "院校代码",
            "统计起始日期",
            "统计截止日期",
            "活动类型",
            "场次",
            "参会用人单位数",
            "提供岗位数",
            "参与学生人次",
        ],
        ["10386", "2023-08-14", "2023-08-27", "双选会", 2, 40, "1,200", 800],
        ["10386", "2023-08-14", "2023-08-27", "宣讲会", -1, 4, 20, 100],
        ["10386", "2023-08-14", "2023-08-27", "宣讲会 ", 1.5, 4, 20, 100],
        ["10386", "2023-08-27", "2023-08-14", "网络招聘", 1, 1, 1, 1],
        ["10386", "2023-08-14", "2023-08-27", "茶话会", 1, 1, 1, 1],
    ]
    write_xlsx(raw_dir(data) / "校园招聘_10386.xlsx", {"Sheet1": rec})
    plat = [
        [
            "院校代码",
            "统计日期",
            "毕业生数",
            "平台关注人数",
            "毕业班辅导员数",
            "已绑定辅导员数",
            "毕业去向登记人数",
        ],
        ["10386", "2023-08-31", 100, 90, 10, 9, 80],
        ["10384", "2023-08-31", 100, 120, 10, 9, 80],
    ]
    write_csv(raw_dir(data) / "平台_全省.csv", plat)
    asst = [
        ["学号", "院校代码", "帮扶日期", "帮扶类型", "帮扶责任人", "备注"],
        ["2019001", "10386", "2023-05-01", "谈心谈话", "李老师", "家里困难，已联系张三"],
        ["2019001", "10386", "2023-05-01", "谈心谈话", "李老师", "家里困难，已联系张三"],
        ["2019001", "10386", "2023-05-02", "喝茶", "李老师", ""],
    ]
    write_csv(raw_dir(data) / "帮扶台账_10386.csv", asst)
    run(data)
    assert counts(data, "校园招聘_10386") == (5, 1, 0, 4)
    assert reasons(data, "校园招聘_10386") == {
        3: "bad_count",
        4: "bad_count",
        5: "window_reversed",
        6: "unknown_category",
    }
    r = processed(data, "recruitment")
    assert r["positions"].tolist() == [1200]
    assert counts(data, "平台_全省") == (2, 1, 0, 1)
    assert reasons(data, "平台_全省") == {3: "numerator_above_denominator"}
    assert counts(data, "帮扶台账_10386") == (3, 1, 1, 1)
    a = processed(data, "assistance")
    assert list(a.columns) == [
        "student_key",
        "university_code",
        "help_date",
        "help_type",
        "helper_key",
        "snapshot_date",
        "source_file",
        "source_row",
    ]


def test_activity_union_across_folders_and_snapshot_choice(tmp_path):
    data = make_data_dir(tmp_path)
    early, late = dt.date(2023, 6, 30), AS_OF
    header = [
        "院校代码",
        "走访日期",
        "走访人",
        "走访人职务",
        "走访单位名称",
        "统一社会信用代码",
        "是否新开拓",
        "拓展岗位数",
    ]
    v1 = ["10386", "2023-06-01", "王校长", "校长", "福建某某公司", "91350100MA2XXXXX1X", "是", 5]
    v2 = ["10386", "2023-06-15", "王校长", "校长", "福建另一公司", "", "否", 2]
    write_csv(raw_dir(data, early) / "访企拓岗_a.csv", [header, v1, v2])
    write_csv(
        raw_dir(data, late) / "访企拓岗_b.csv",
        [
            header,
            v1,
            [*v2[:7], 3],
            ["10386", "2023-08-01", "李书记", "党委书记", "新公司", "", "是", 1],
        ],
    )
    write_csv(
        raw_dir(data, early) / "毕业去向_early.csv",
        [GRAD_HEADER, grad_row(1, 毕业去向类别代码="70")],
    )
    write_csv(raw_dir(data, late) / "毕业去向_late.csv", [GRAD_HEADER, grad_row(1), grad_row(2)])
    result = run(data)
    assert result.built == [early, late]
    v = processed(data, "visits")
    assert len(v) == 2 and v["employer_name"].tolist() == ["福建某某公司", "新公司"]
    assert counts(data, "访企拓岗_b") == (3, 1, 1, 1)
    assert counts(data, "访企拓岗_a") == (2, 1, 0, 1)
    assert len(processed(data, "visits", early)) == 2
    assert len(processed(data, "graduates")) == 2
    assert processed(data, "graduates", early)["destination_code"].tolist() == ["70"]
    m = result.manifest()
    assert m["datasets"]["graduates"]["snapshot_date"] == str(late)
    assert m["datasets"]["visits"]["folders"] == [str(early), str(late)]
    from helpers.load import load_graduate_history

    assert sorted(load_graduate_history(data, AS_OF)["snapshot_date"].dt.date.unique()) == [
        early,
        late,
    ]


def test_rerun_is_a_no_op_and_changes_rebuild(tmp_path):
    data = make_data_dir(tmp_path)
    early = dt.date(2023, 6, 30)
    write_csv(raw_dir(data, early) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1)])
    write_csv(raw_dir(data) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1), grad_row(2)])
    first = run(data)
    assert first.built == [early, AS_OF]
    before = (data / "processed" / str(AS_OF) / "manifest.json").read_text()
    again = run(data)
    assert again.built == [] and again.up_to_date == [early, AS_OF]
    assert (data / "processed" / str(AS_OF) / "manifest.json").read_text() == before
    assert "up to date" in again.summary()
    from helpers.ingest import needs_ingest

    assert not needs_ingest(AS_OF, data)
    write_csv(
        raw_dir(data) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1), grad_row(2), grad_row(3)]
    )
    assert needs_ingest(AS_OF, data)
    third = run(data)
    assert third.built == [AS_OF] and third.up_to_date == [early]
    assert len(processed(data, "graduates")) == 3


def test_as_of_between_folders_and_missing_raw(tmp_path):
    data = make_data_dir(tmp_path)
    write_csv(raw_dir(data) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1)])
    later = dt.date(2023, 9, 15)
    result = ingest(later, data, workers=1)
    assert result.built == [AS_OF, later]
    assert result.manifest()["datasets"]["graduates"]["snapshot_date"] == str(AS_OF)
    with pytest.raises(FileNotFoundError, match="no raw snapshot folder"):
        ingest(dt.date(2020, 1, 1), data, workers=1)
    with pytest.raises(FileNotFoundError):
        ingest(AS_OF, tmp_path / "nowhere", workers=1)


def test_reference_tables(tmp_path):
    data = make_data_dir(tmp_path, universities=False)
    write_csv(
        raw_dir(data) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1), grad_row(2, 院校代码="13978")]
    )
    write_csv(
        data / "raw" / "reference" / "majors.csv",
        [
            ["专业代码", "专业名称", "学历层次"],
            ["080901", "计算机科学与技术（新）", "本科"],
            ["099999", "新专业", "本科"],
        ],
    )
    write_csv(
        data / "raw" / "reference" / "adjustment_plans.csv",
        [["院校代码", "报送日期"], ["10386", "2024/3/28"], ["99999", "2024-03-01"]],
    )
    result = run(data)
    m = result.manifest()
    assert m["datasets"]["universities"]["fallback"] is True
    u = processed(data, "universities")
    assert (
        len(u) == 89
        and u.set_index("university_code").loc["10386", "university_name"] == "福州大学"
    )
    assert len(processed(data, "graduates")) == 2
    majors = processed(data, "majors").set_index("major_code")
    assert majors.loc["080901", "major_name"] == "计算机科学与技术(新)"
    assert majors.loc["099999", "discipline_name"] == "农学"
    assert not majors.index.duplicated().any()
    plans = processed(data, "adjustment_plans")
    assert plans["received_date"].tolist() == [pd.Timestamp("2024-03-28")]
    assert reasons(data, "adjustment_plans") == {3: "unknown_university"}
    assert "未提供" in result.summary()


def test_worker_pool_gives_the_same_processed_data(tmp_path, monkeypatch):
    import shutil

    from helpers.ingest import batches

    monkeypatch.setattr(batches, "BATCH_BYTES", 1)  # one batch per file: the pool really runs

    data = make_data_dir(tmp_path / "one")
    for i in range(4):
        rows = [
            GRAD_HEADER,
            *(grad_row(100 * i + j, 院校代码="10386" if i % 2 else "10384") for j in range(20)),
        ]
        rows.append(grad_row(100 * i, 毕业去向类别代码="99"))
        write_xlsx(raw_dir(data) / f"毕业去向_{i}.xlsx", {"Sheet1": rows})
    write_csv(
        raw_dir(data) / "毕业去向_dup.csv",
        [GRAD_HEADER, grad_row(5, 院校代码="10384"), grad_row(101, 专业名称="另一个专业")],
    )
    other = tmp_path / "two" / "data"
    shutil.copytree(data, other)
    ingest(AS_OF, data, workers=1)
    ingest(AS_OF, other, workers=2)
    for name in ("graduates", "quarantine", "repairs", "files", "pii_fingerprints", "visits"):
        a, b = processed(data, name), processed(other, name)
        pd.testing.assert_frame_equal(a, b, check_like=False)
    assert counts(other, "毕业去向_dup") == (
        2,
        0,
        1,
        1,
    )  # identical to a row of _0; conflicts with _1
    assert reasons(other, "毕业去向_1") == {3: "duplicate_conflict", 22: "unknown_destination"}
    q = quarantine(other)
    conflict = q[q["reason_code"] == "duplicate_conflict"]  # raw rows re-read from the other batch
    assert sorted(conflict["raw"].map(lambda s: json.loads(s)["专业名称"])) == [
        "另一个专业",
        "计算机科学与技术",
    ]
