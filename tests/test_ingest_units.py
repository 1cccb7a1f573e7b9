"""Unit tests of the ingest building blocks: pseudonyms, normalisers, readers."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import stat

import numpy as np
import pandas as pd
import pytest

from helpers.datasets import GRADUATES
from helpers.ingest import normalise as nz
from helpers.ingest import pseudonym as ps
from helpers.ingest import university_codes as uc
from helpers.ingest.readers import (
    UnreadableFile,
    cells_to_text,
    decode_text,
    find_header,
    read_file,
)


def text(values) -> pd.Series:
    return nz.nfkc(pd.Series(values, dtype=object))


# --- pseudonyms -------------------------------------------------------------------------------
def test_keyed_digest_is_hmac_of_normalised_value():
    key = b"k" * 32
    expected = hmac.new(key, b"2019001X", hashlib.sha256).hexdigest()
    assert ps.keyed_digest(" ２０１９００１x ", key) == expected
    assert ps.keyed_digest("2019001X", key) == expected
    assert ps.keyed_digest("2019001X", b"other") != expected


def test_pseudonymise_matches_keyed_digest_and_keeps_missing():
    key = b"secret"
    s = pd.Series(["A1", " a1", None, "", "B2"])
    out = ps.pseudonymise(s, key)
    assert out.iloc[0] == out.iloc[1] == ps.keyed_digest("A1", key)
    assert out.isna().tolist() == [False, False, True, True, False]
    assert out.iloc[4] == ps.keyed_digest("B2", key)
    digester = ps.Digester(key)
    assert ps.pseudonymise(s, digester).equals(out)


def test_long_key_follows_hmac_rule():
    key = b"x" * 100  # longer than the SHA-256 block: hashed first
    assert ps.digest_many(["ABC"], key)[0] == hmac.new(key, b"ABC", hashlib.sha256).hexdigest()


def test_load_key_from_env_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv(ps.KEY_ENV, "my key")
    assert ps.load_key() == b"my key"
    monkeypatch.delenv(ps.KEY_ENV)
    key_file = tmp_path / "sub" / "pseudonym.key"
    monkeypatch.setenv(ps.KEY_FILE_ENV, str(key_file))
    first = ps.load_key()
    assert len(first) == 32
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert key_file.read_text().strip() == first.hex()
    assert ps.load_key() == first  # stable once created
    key_file.write_text("a passphrase\n")
    assert ps.load_key() == b"a passphrase"
    fp = ps.key_fingerprint(first)
    assert len(fp) == 8 and fp not in first.hex()


# --- normalisers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "45107",
        "45107.0",
        "2023/6/30",
        "2023-06-30",
        "2023.06.30",
        "20230630",
        "2023年6月30日",
        "2023-06-30 00:00:00",
        "２０２３－０６－３０",
    ],
)
def test_every_contract_date_form(value):
    assert nz.parse_dates(text([value])).iloc[0] == pd.Timestamp("2023-06-30")


@pytest.mark.parametrize(
    "value", ["2023-02-30", "30/06/2023", "abc", "2023.06", "3023-01-01", "99999"]
)
def test_bad_dates(value):
    s = text([value])
    assert pd.isna(nz.parse_dates(s).iloc[0])
    assert nz.bad_dates(s).iloc[0]


def test_missing_date_is_not_bad():
    assert not nz.bad_dates(text([None, ""])).any()


def test_counts():
    clean, thousands, floats = nz.clean_counts(text(["1,200", "12.0", "-3", "3.5", "7", None]))
    assert clean.iloc[:5].tolist() == ["1200", "12", "-3", "3.5", "7"]
    assert thousands.tolist() == [True, False, False, False, False, False]
    assert floats.tolist() == [False, True, False, False, False, False]
    assert nz.is_count(clean).tolist() == [True, True, False, False, True, False]


def test_codes_float_suffix_and_zero_pad():
    codes, floats = nz.clean_code(text(["80901.0", "080901", " 12 02 03k", None]))
    assert codes.iloc[:3].tolist() == ["80901", "080901", "120203K"]
    assert floats.tolist() == [True, False, False, False]
    padded, five = nz.pad_major_codes(text(["80901", "080901", "20103T", "12345678"]))
    assert padded.tolist() == ["080901", "080901", "020103T", "12345678"]
    assert five.tolist() == [True, False, True, False]
    assert nz.as_text(padded).str.fullmatch(nz.MAJOR_CODE).tolist() == [True, True, True, False]


def test_id_number_damage_and_check_digit():
    s = text(
        ["3.50102199901E+17", "350102199901000000", "11010519491231002X", "11010519491231002x"]
    )
    assert nz.id_number_damaged(s).tolist() == [True, True, False, False]
    assert nz.check_digit_valid(s).tolist() == [False, False, True, True]


def test_names():
    s = text(["计算机 科学与技术", " 福建（厦门）  有限公司 ", "IBM  China   Co", "ＡＢＣ１２３"])
    assert nz.clean_name(s).tolist() == [
        "计算机科学与技术",
        "福建(厦门)有限公司",
        "IBM China Co",
        "ABC123",
    ]
    assert nz.match_name(s).iloc[2] == "IBMChinaCo"


def test_levels():
    level, status, one = nz.parse_levels(
        text(["本科生毕业", "31", "1", "专科生结业", "39", "火星", None])
    )
    assert level.tolist()[:6] == ["本科", "本科", "博士", "专科", "本科", "火星"]
    assert status.tolist()[:5] == ["毕业", "毕业", "毕业", "结业", "肄业"]
    assert pd.isna(status.iloc[5]) and pd.isna(level.iloc[6])
    assert one.tolist() == [False, False, True, False, False, False, False]


def test_destinations():
    codes, from_label, floats = nz.destination_codes(
        text(["10", None, None, "801.0", None, "99"]),
        text([None, "待就业", "科研助理、管理助理—科研助理、管理助理", None, "火星", None]),
        pd.RangeIndex(6),
    )
    assert codes.tolist() == ["10", "70", "271", "801", "火星", "99"]
    assert from_label.tolist() == [False, True, True, False, False, False]
    assert floats.tolist() == [False, False, False, True, False, False]
    assert nz.valid_destination(codes).tolist() == [True, True, True, True, False, False]
    both_empty, _, _ = nz.destination_codes(text([None]), text([None]), pd.RangeIndex(1))
    assert pd.isna(both_empty.iloc[0])


def test_groups_split_on_every_separator():
    groups, unknown = nz.split_groups(
        text(
            [
                "脱贫家庭、残疾",
                "低保家庭,零就业家庭",
                "低保，残疾人",
                "长期失业;脱贫家庭",
                "残疾/低保",
                "外星人",
                None,
                "无",
            ]
        )
    )
    assert groups["group_poverty_alleviated"].tolist() == [
        True,
        False,
        False,
        True,
        False,
        False,
        False,
        False,
    ]
    assert groups["group_minimum_living"].tolist() == [
        False,
        True,
        True,
        False,
        True,
        False,
        False,
        False,
    ]
    assert groups["group_disabled"].tolist() == [
        True,
        False,
        True,
        False,
        True,
        False,
        False,
        False,
    ]
    assert groups["group_zero_employment"].tolist()[1]
    assert groups["group_long_unemployed"].tolist()[3]
    assert unknown.iloc[5] == "外星人" and unknown.drop(5).isna().all()


def test_flags_and_rates():
    yes, bad = nz.parse_yes_no(text(["是", "否", "Y", "maybe", None]))
    assert yes.tolist()[:3] == [True, False, True] and pd.isna(yes.iloc[4])
    assert bad.tolist() == [False, False, False, True, False]
    gender, bad = nz.parse_gender(text(["男", "2", "X"]))
    assert gender.tolist()[:2] == ["男", "女"] and bad.tolist() == [False, False, True]
    rate, bad = nz.parse_rate(text(["0.72", "75%", "72.5 %", "72.5", None]))
    assert rate.iloc[:3].tolist() == pytest.approx([0.72, 0.75, 0.725])
    assert bad.tolist() == [False, False, False, True, False]


def test_resolve_university():
    lookup = uc.UniversityLookup(
        frozenset({"10386", "10384"}),
        {"4135010386": "10386"},
        {"福州大学": "10386", "厦门大学": "10384"},
    )
    code = text(["10386", None, None, "4135010386.0", "99999", "10384", None])
    uid = text([None, "4135010386", None, None, None, "4135010386", None])
    name = text([None, None, "福州 大学", None, None, None, None])
    r = uc.resolve_university(code, uid, name, lookup, pd.RangeIndex(7))
    assert r.code.tolist()[:6] == ["10386", "10386", "10386", "10386", "99999", "10384"]
    assert pd.isna(r.code.iloc[6])
    assert r.id_used.tolist() == [False, True, False, True, False, False, False]
    assert r.name_used.tolist() == [False, False, True, False, False, False, False]
    assert r.conflict.tolist() == [False, False, False, False, False, True, False]
    assert r.code_floats.tolist()[3]


# --- readers ----------------------------------------------------------------------------------
def test_cells_to_text_keeps_damage_visible():
    col = np.array(
        [
            80901.0,
            4135010386.0,
            3.50102199901e17,
            "abc",
            dt.date(2023, 6, 30),
            dt.datetime(2023, 6, 30, 8, 30),
            12,
            None,
            True,
            0.5,
        ],
        dtype=object,
    )
    assert cells_to_text(col).tolist() == [
        "80901",
        "4135010386",
        "3.50102199901e+17",
        "abc",
        "2023-06-30",
        "2023-06-30 08:30:00",
        "12",
        "",
        "True",
        "0.5",
    ]


def test_strict_decoding():
    text_zh = "学号,姓名\n1,𠮷㛃\n"
    assert decode_text(text_zh.encode("utf-8")) == (text_zh, "utf-8-sig")
    assert decode_text(b"\xef\xbb\xbf" + text_zh.encode("utf-8"))[0] == text_zh
    assert decode_text(text_zh.encode("gb18030")) == (text_zh, "gb18030")
    assert decode_text("学号,姓名\n1,张三\n".encode("gbk"))[1] == "gb18030"
    with pytest.raises(UnreadableFile) as exc:
        decode_text(b"\x81\x20\xff\xfe\x80")
    assert exc.value.code == "file_encoding"


def test_header_detection(tmp_path):
    from test_ingest_support import write_xlsx

    rows = [
        ["2023届毕业生就业方案"],
        [],
        [None, "填报单位：福州大学"],
        [
            "序号",
            "Student ID",
            "院校\n代码",
            "学 历 层 次",
            "专业代码（6位）",
            "*专业名称",
            "ｍａｊｏｒ＿ｃｏｄｅ",
        ],
        [1, "2019001", "10386", "本科", "080901", "计算机", "x"],
    ]
    path = write_xlsx(tmp_path / "a.xlsx", {"Sheet1": rows})
    sheet = read_file(path).sheets[0]
    header = find_header(sheet, GRADUATES)
    assert header.row == 3
    assert header.columns == {
        "student_id": 1,
        "university_code": 2,
        "education_level": 3,
        "major_code": 4,
        "major_name": 5,
    }
    assert header.duplicates == ["major_code"]


@pytest.mark.parametrize(
    "name,content,code",
    [
        ("a.xlsx", b"PK\x03\x04 not really a zip", "file_corrupt"),
        ("a.xlsx", b"", "file_empty"),
        ("a.csv", b"   \r\n", "file_empty"),
        ("a.pdf", b"%PDF-1.4", "file_wrong_type"),
        ("a.csv", b"PK\x03\x04\x00\x00binary", "file_wrong_type"),
    ],
)
def test_unreadable_files(tmp_path, name, content, code):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(UnreadableFile) as exc:
        read_file(p)
    assert exc.value.code == code


def encrypted_workbook_bytes() -> bytes:
    """An OLE2 container naming the EncryptionInfo/EncryptedPackage streams of an
    ECMA-376-encrypted workbook (what Excel writes for a password-protected .xlsx)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    entries = b"".join(
        n.encode("utf-16-le").ljust(128, b"\x00")
        for n in ("Root Entry", "EncryptionInfo", "EncryptedPackage")
    )
    return header + entries + b"\x00" * 1024


def test_password_protected_workbook(tmp_path):
    p = tmp_path / "a.xlsx"
    p.write_bytes(encrypted_workbook_bytes())
    with pytest.raises(UnreadableFile) as exc:
        read_file(p)
    assert exc.value.code == "file_password"


def test_csv_line_numbers_follow_quoted_line_breaks(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('学号,"院校\n代码",学历层次\n1,10386,本科\n\n2,10386,本科\n', encoding="utf-8")
    sheet = read_file(p).sheets[0]
    assert sheet.row_numbers.tolist() == [1, 3, 4, 5]
    assert sheet.cells[2].tolist() == ["", "", ""]
