"""Read, normalise, validate and type one batch of files of one dataset (runs in a worker process).

A batch is a list of files of the same dataset (usually from the same raw folder). The result
holds the typed rows that passed validation (with their source, a natural key and a content
signature, so the parent can merge duplicates across batches), the quarantined rows with reasons
and raw content, the repairs, per-file/sheet counts and the keyed fingerprints of every personal
value seen. Cross-file duplicates are the parent's job (helpers.ingest.pipeline).
"""

from __future__ import annotations

import os
import re
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.codes import BUCKETS_2021, BUCKETS_2024, classify_destinations, discipline_of
from helpers.config import load_policy
from helpers.datasets import BY_NAME, PROCESSED_COLUMNS, Dataset
from helpers.ingest import normalise as nz
from helpers.ingest.pseudonym import Digester, digest_words, pseudonymise, pseudonymise_words
from helpers.ingest.quarantine import (
    QUARANTINE_COLUMNS,
    REASONS,
    REPAIR_COLUMNS,
    REPAIRS,
    empty_frame,
    issues_frame,
    raw_json,
    summarise_issues,
)
from helpers.ingest.readers import FOOTER, RawSheet, UnreadableFile, find_header, read_file
from helpers.ingest.schemas import COUNT_COLUMNS, validate

# Natural keys on processed columns (helpers.datasets names 学号/走访人/帮扶责任人 by their keys).
_KEY_RENAMES = {"student_id": "student_key", "visitor": "visitor_key", "helper": "helper_key"}
NATURAL_KEYS = {
    name: tuple(_KEY_RENAMES.get(c, c) for c in d.natural_key) for name, d in BY_NAME.items()
}
PERSONAL_KINDS = {
    "student_id": "student_id",
    "name": "name",
    "id_number": "id_number",
    "phone": "phone",
    "email": "email",
    "visitor": "visitor",
    "helper": "helper",
}
META_COLUMNS = ("source_file", "source_row", "snapshot_date")
FILE_COLUMNS = {
    "source_file": "string",
    "sheet": "string",
    "dataset": "string",
    "snapshot_date": "string",
    "encoding": "string",
    "engine": "string",
    "status": "string",
    "reason_code": "string",
    "detail": "string",
    "header_row": "Int64",
    "rows_read": "int64",
    "blank_rows": "int64",
    "footer_rows": "int64",
    "columns": "string",
}


# Header names accepted for one particular shipped file (the MoE list says 学校名称).
@dataclass(frozen=True)
class FileTask:
    path: str  # absolute path
    rel: str  # as shown to analysts: relative to raw/ (or 'helpers/reference/…')
    dataset: str
    folder: str | None  # ISO date of the raw snapshot folder; None for reference files


@dataclass(frozen=True)
class Context:
    key: bytes
    universities: nz.UniversityLookup


@dataclass
class BatchResult:
    dataset: str
    records: pd.DataFrame  # typed processed columns + _psig and source columns
    quarantine: pd.DataFrame  # QUARANTINE_COLUMNS
    repairs: pd.DataFrame  # REPAIR_COLUMNS
    files: pd.DataFrame  # FILE_COLUMNS
    fingerprints: pd.DataFrame  # kind, d0..d3 (digest words), _folder
    dup_raw: dict = field(default_factory=dict)  # (source_file, sheet, row) -> raw JSON
    peak_rss_mb: float = 0.0  # of the process that made it (a pool worker or the parent)
    pid: int = 0
    cpu_seconds: float = 0.0  # CPU time of that process so far (user + system)


@dataclass
class _Sheets:
    """The data rows of every sheet of a batch; ``pos`` = row in the stacked batch frame."""

    columns: list[dict[str, int]] = field(default_factory=list)  # canonical -> column, per sheet
    bodies: list[np.ndarray] = field(default_factory=list)  # data rows (cell text), per sheet
    headers: list[list[str]] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)  # row numbers, per sheet
    meta: list[tuple[str, str, str | None]] = field(default_factory=list)  # file, sheet, folder
    starts: list[int] = field(default_factory=list)
    issues: list[pd.DataFrame] = field(default_factory=list)
    n: int = 0


def _zh(dataset: str, column: str) -> str:
    return {c.name: c.zh for c in BY_NAME[dataset].columns}.get(column, column)


def text_column(cells: np.ndarray) -> pd.Series:
    """Cell text (object array of str) -> pandas ``str``: NFKC, stripped, empty -> missing.

    Done in Arrow on the whole batch column at once (per-call overhead dominates small arrays).
    """
    a = pa.array(cells, type=pa.large_string())
    ascii_ = pc.string_is_ascii(a)
    if not pc.all(ascii_).as_py():  # ASCII text is its own NFKC form: normalise the rest only
        rest = pc.invert(ascii_)
        other = pc.filter(a, rest)
        enc = pc.dictionary_encode(other)  # names of majors, levels...: few distinct values
        if len(enc.dictionary) * 4 < len(other):
            normal = pc.take(pc.utf8_normalize(enc.dictionary, "NFKC"), enc.indices)
        else:
            normal = pc.utf8_normalize(other, "NFKC")
        a = pc.replace_with_mask(a, rest, normal.cast(pa.large_string()))
    a = pc.utf8_trim_whitespace(a)
    a = pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.large_string()), a)
    return pd.Series(pd.array(a, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _body_masks(body: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Blank rows, footer rows (合计, 填表人：…) and the footer keywords (for the repairs log)."""
    n = body.shape[0]
    if n == 0 or body.shape[1] == 0:
        return np.ones(n, dtype=bool), np.zeros(n, dtype=bool), []
    ne = body != ""
    sparse = np.flatnonzero(ne.sum(axis=1) <= 3)  # blank-looking rows: cells of only spaces?
    if len(sparse):
        sub = body[sparse]
        ne[sparse] = np.frompyfunc(lambda c: bool(c.strip()), 1, 1)(sub).astype(bool)
    nonempty = ne.any(axis=1)
    first = body[np.arange(n), ne.argmax(axis=1)]
    key = pc.replace_substring_regex(
        pc.utf8_normalize(pa.array(first, type=pa.large_string()), "NFKC"), nz.WS, ""
    )
    footer = pc.match_substring_regex(key, FOOTER.pattern).to_numpy(zero_copy_only=False) & nonempty
    keywords = [re.split(r"[:：]", key[int(i)].as_py())[0] for i in np.flatnonzero(footer)]
    return ~nonempty, footer, keywords


def _missing_required(d: Dataset, columns: dict[str, int]) -> list[str]:
    """Required columns (and one-of groups) the header does not name, as Chinese headers."""
    missing = [c.zh for c in d.columns if c.required and c.name not in columns]
    for group in d.one_of:
        if not any(g in columns for g in group):
            missing.append("/".join(_zh(d.name, g) for g in group))
    return missing


def _file_failure(
    base: dict, code: str, detail: str, files: list[dict], quarantine: list[dict], **info
) -> None:
    files.append(
        {**base, **info, "sheet": "", "status": "unreadable", "reason_code": code, "detail": detail}
    )
    quarantine.append(
        {
            **base,
            "sheet": "",
            "row": None,
            "level": "file",
            "reason_code": code,
            "reason": REASONS[code],
            "column": "",
            "reason_codes": code,
            "raw": "{}",
        }
    )


def _read_task(
    task: FileTask,
    d: Dataset,
    sheets: _Sheets,
    files: list[dict],
    quarantine: list[dict],
    repairs: list[dict],
) -> None:
    base = {"source_file": task.rel, "dataset": d.name, "snapshot_date": task.folder}
    try:
        raw = read_file(Path(task.path))
    except UnreadableFile as exc:
        _file_failure(base, exc.code, exc.detail, files, quarantine)
        return
    found_any = False
    pending: list[dict] = []
    for sheet in raw.sheets:
        info = {**base, "sheet": sheet.name, "encoding": raw.encoding, "engine": raw.engine}
        if sheet.cells.size == 0 or not (sheet.cells != "").any():
            pending.append({**info, "status": "empty_sheet"})
            continue
        header = find_header(sheet, d)
        if header is None:
            pending.append(
                {
                    **info,
                    "status": "ignored_sheet",
                    "reason_code": "file_no_header",
                    "detail": "no header row of this dataset in this sheet",
                }
            )
            continue
        found_any = True
        _add_sheet(task, d, sheet, header, info, sheets, files, repairs)
    if not found_any:
        _file_failure(
            base,
            "file_no_header",
            "no sheet has a header row of this dataset",
            files,
            quarantine,
            encoding=raw.encoding,
            engine=raw.engine,
        )
    else:
        files.extend(pending)


def _add_sheet(task, d, sheet: RawSheet, header, info, sheets: _Sheets, files, repairs) -> None:
    body = sheet.cells[header.row + 1 :]
    rownums = sheet.row_numbers[header.row + 1 :]
    blank, footer, keywords = _body_masks(body)
    for i, kw in zip(np.flatnonzero(footer), keywords, strict=True):
        repairs.append(
            {
                **_src(task, d, sheet.name),
                "row": int(rownums[i]),
                "column": "",
                "repair_code": "footer_row",
                "before": kw,
                "after": "",
            }
        )
    for name in header.duplicates:
        repairs.append(
            {
                **_src(task, d, sheet.name),
                "row": int(sheet.row_numbers[header.row]),
                "column": _zh(d.name, name),
                "repair_code": "duplicate_header",
                "before": "",
                "after": "",
            }
        )
    data = ~blank & ~footer
    n = int(data.sum())
    start = sheets.n
    for col in _missing_required(d, header.columns):
        sheets.issues.append(issues_frame(np.arange(start, start + n), "missing_column", col))
    sheets.columns.append(header.columns)
    sheets.bodies.append(body[data])
    sheets.headers.append(header.headers)
    sheets.rows.append(rownums[data].astype(np.int64))
    sheets.meta.append((task.rel, sheet.name, task.folder))
    sheets.starts.append(start)
    sheets.n += n
    files.append(
        {
            **info,
            "status": "ok",
            "header_row": int(sheet.row_numbers[header.row]),
            "rows_read": n,
            "blank_rows": int(blank.sum()),
            "footer_rows": int(footer.sum()),
            "columns": ",".join(header.columns),
        }
    )


def _batch_frame(d: Dataset, sheets: _Sheets) -> pd.DataFrame:
    """Stack the mapped columns of every sheet into one frame of clean text (+ source columns)."""
    names = [c.name for c in d.columns if any(c.name in cols for cols in sheets.columns)]
    data = {}
    for name in names:
        parts = [
            body[:, cols[name]] if name in cols else np.full(len(body), "", dtype=object)
            for body, cols in zip(sheets.bodies, sheets.columns, strict=True)
        ]
        data[name] = text_column(np.concatenate(parts))
    f = pd.DataFrame(data, index=pd.RangeIndex(sheets.n))
    lengths = [len(b) for b in sheets.bodies]
    for i, col in enumerate(("_file", "_sheet", "_folder")):
        per_sheet = [m[i] for m in sheets.meta]
        cats = list(dict.fromkeys(v for v in per_sheet if v is not None))
        sheet_codes = np.array(
            [cats.index(v) if v is not None else -1 for v in per_sheet], dtype=np.int64
        )
        f[col] = pd.Categorical.from_codes(np.repeat(sheet_codes, lengths), categories=cats)
    f["_row"] = np.concatenate(sheets.rows) if sheets.rows else np.empty(0, dtype=np.int64)
    return f


def _src(task: FileTask, d: Dataset, sheet: str) -> dict:
    return {
        "source_file": task.rel,
        "sheet": sheet,
        "dataset": d.name,
        "snapshot_date": task.folder,
    }


# --- repairs ---------------------------------------------------------------------------------
class _Repairs:
    def __init__(self, frame: pd.DataFrame, dataset: str):
        self.frame = frame
        self.dataset = dataset
        self.parts: list[pd.DataFrame] = []

    def add(self, mask, column: str, code: str, before=None, after=None, personal: bool = False):
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        pos = np.flatnonzero(mask)
        n = len(pos)

        def values(v):
            if personal or v is None:
                return np.full(n, "", dtype=object)
            return (
                pd.Series(v)
                .iloc[pos]
                .astype(object)
                .where(lambda x: x.notna(), "")
                .astype(str)
                .to_numpy()
            )

        self.parts.append(
            pd.DataFrame(
                {
                    "pos": pos,
                    "column": _zh(self.dataset, column),
                    "repair_code": code,
                    "before": values(before),
                    "after": values(after),
                }
            )
        )

    def result(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["pos", "column", "repair_code", "before", "after"])
        return pd.concat(self.parts, ignore_index=True)


def _col(frame: pd.DataFrame, name: str) -> pd.Series | None:
    return frame[name] if name in frame.columns else None


def _text_or_na(frame: pd.DataFrame, name: str) -> pd.Series:
    """A clean text column of the batch frame, or all-missing when no file had it."""
    s = _col(frame, name)
    return s if s is not None else pd.Series(np.nan, index=frame.index, dtype="str")


def _university(frame: pd.DataFrame, ctx: Context, rep: _Repairs, v: pd.DataFrame) -> None:
    r = nz.resolve_university(
        _col(frame, "university_code"),
        _col(frame, "university_id"),
        _col(frame, "university_name"),
        ctx.universities,
        frame.index,
    )
    rep.add(
        r.code_floats,
        "university_code",
        "float_suffix",
        r.code_before,
        r.code_before.str.replace(r"\.0+$", "", regex=True),
    )
    rep.add(r.id_floats, "university_id", "float_suffix", _col(frame, "university_id"), r.id_text)
    rep.add(r.id_used, "university_code", "university_id_to_code", r.id_text, r.code)
    rep.add(
        r.name_used,
        "university_code",
        "university_name_to_code",
        _col(frame, "university_name"),
        r.code,
    )
    v["university_code"] = r.code
    v["_university_conflict"] = r.conflict


def _code(frame, name, rep: _Repairs, v, personal=False) -> None:
    s = _col(frame, name)
    if s is None:
        v[name] = pd.Series(np.nan, index=frame.index, dtype="str")
        return
    clean, floats = nz.clean_code(s)
    rep.add(floats, name, "float_suffix", s, clean, personal)
    v[name] = clean


def _count_cols(frame, dataset, rep: _Repairs, v) -> None:
    for name in COUNT_COLUMNS.get(dataset, ()):
        s = _col(frame, name)
        if s is None:
            v[name] = pd.Series(np.nan, index=frame.index, dtype="str")
            continue
        clean, thousands, floats = nz.clean_counts(s)
        rep.add(thousands, name, "thousands_separator", s, clean)
        rep.add(floats, name, "float_suffix", s, clean)
        v[name] = clean


def _optional(mask_bad, name, rep: _Repairs, raw, personal=False) -> None:
    rep.add(mask_bad, name, "unrecognised_to_na", raw, None, personal)


# --- normalisers: cell text -> validation frame (text) --------------------------------------
def _normalise_graduates(f: pd.DataFrame, ctx: Context, rep: _Repairs) -> pd.DataFrame:
    v = pd.DataFrame(index=f.index)
    sid = _text_or_na(f, "student_id")
    fixed = sid.str.replace(r"^([0-9]+)\.0+$", r"\1", regex=True)
    rep.add(sid.notna() & (fixed != sid), "student_id", "float_suffix", personal=True)
    v["student_id"] = fixed
    _university(f, ctx, rep, v)
    level, status, one_digit = nz.parse_levels(_text_or_na(f, "education_level"))
    rep.add(one_digit, "education_level", "zero_pad", f.get("education_level"), level)
    v["education_level"], v["graduation_status"] = level, status
    mc, floats = nz.clean_code(_text_or_na(f, "major_code"))
    rep.add(floats, "major_code", "float_suffix", f.get("major_code"), mc)
    padded, five = nz.pad_major_codes(mc)
    rep.add(five, "major_code", "zero_pad", mc, padded)
    v["major_code"] = padded
    v["major_name"] = nz.clean_name(_text_or_na(f, "major_name"))
    dest, from_label, dfloats = nz.destination_codes(
        _col(f, "destination_code"), _col(f, "destination"), f.index
    )
    rep.add(dfloats, "destination_code", "float_suffix", f.get("destination_code"), dest)
    rep.add(from_label, "destination_code", "destination_from_label", f.get("destination"), dest)
    v["destination_code"] = dest
    v["id_number"] = _text_or_na(f, "id_number")
    cohort, cfloats = nz.clean_code(_text_or_na(f, "cohort"))
    cohort = cohort.str.replace(r"^([0-9]{4})届?$", r"\1", regex=True)
    rep.add(cfloats, "cohort", "float_suffix", f.get("cohort"), cohort)
    default_year = f["_folder"].astype("str").str.slice(0, 4)
    v["cohort"] = cohort.fillna(default_year)
    gender, bad = nz.parse_gender(_text_or_na(f, "gender"))
    _optional(bad, "gender", rep, f.get("gender"))
    v["gender"] = gender
    ur, bad = nz.parse_urban_rural(_text_or_na(f, "urban_rural"))
    _optional(bad, "urban_rural", rep, f.get("urban_rural"))
    v["urban_rural"] = ur
    willing, bad = nz.parse_yes_no(_text_or_na(f, "willing_to_work"))
    _optional(bad, "willing_to_work", rep, f.get("willing_to_work"))
    v["willing_to_work"] = willing
    groups, unknown = nz.split_groups(_text_or_na(f, "assistance_groups"))
    rep.add(unknown.notna(), "assistance_groups", "unknown_group", unknown, None)
    for c in groups.columns:
        v[c] = groups[c]
    pdate = nz.parse_dates(_text_or_na(f, "placement_date"))
    _optional(
        _text_or_na(f, "placement_date").notna() & pdate.isna(),
        "placement_date",
        rep,
        f.get("placement_date"),
    )
    v["placement_date"] = pdate
    for name in ("department", "difficulty_category", "employer_name"):
        v[name] = nz.clean_name(_text_or_na(f, name))
    for name in (
        "employer_type_code",
        "employer_industry_code",
        "employer_region_code",
        "origin_region_code",
    ):
        _code(f, name, rep, v)
    _credit_code(f, rep, v)
    return v


def _credit_code(f, rep: _Repairs, v) -> None:
    cc, floats = nz.clean_code(_text_or_na(f, "employer_credit_code"))
    rep.add(floats, "employer_credit_code", "float_suffix", f.get("employer_credit_code"), cc)
    bad = cc.notna() & ~cc.str.fullmatch(nz.CREDIT_CODE).fillna(False)
    _optional(bad, "employer_credit_code", rep, f.get("employer_credit_code"))
    v["employer_credit_code"] = cc.mask(bad)


def _normalise_recruitment(f, ctx, rep) -> pd.DataFrame:
    v = pd.DataFrame(index=f.index)
    _university(f, ctx, rep, v)
    for name in ("window_start", "window_end"):
        v[name] = _text_or_na(f, name)
    v["activity_type"] = nz.match_name(_text_or_na(f, "activity_type"))
    _count_cols(f, "recruitment", rep, v)
    return v


def _normalise_visits(f, ctx, rep) -> pd.DataFrame:
    v = pd.DataFrame(index=f.index)
    _university(f, ctx, rep, v)
    v["visit_date"] = _text_or_na(f, "visit_date")
    v["visitor"] = _text_or_na(f, "visitor")
    v["visitor_role"] = nz.match_name(_text_or_na(f, "visitor_role"))
    v["employer_name"] = nz.clean_name(_text_or_na(f, "employer_name"))
    _credit_code(f, rep, v)
    v["new_employer"] = _text_or_na(f, "new_employer")
    _count_cols(f, "visits", rep, v)
    return v


def _normalise_platform(f, ctx, rep) -> pd.DataFrame:
    v = pd.DataFrame(index=f.index)
    _university(f, ctx, rep, v)
    v["stat_date"] = _text_or_na(f, "stat_date")
    _count_cols(f, "platform", rep, v)
    return v


def _normalise_assistance(f, ctx, rep) -> pd.DataFrame:
    v = pd.DataFrame(index=f.index)
    sid = _text_or_na(f, "student_id")
    fixed = sid.str.replace(r"^([0-9]+)\.0+$", r"\1", regex=True)
    rep.add(sid.notna() & (fixed != sid), "student_id", "float_suffix", personal=True)
    v["student_id"] = fixed
    _university(f, ctx, rep, v)
    v["help_date"] = _text_or_na(f, "help_date")
    v["help_type"] = nz.match_name(_text_or_na(f, "help_type"))
    v["helper"] = _text_or_na(f, "helper")
    return v


def _normalise_universities(f, ctx, rep) -> pd.DataFrame:
    v = pd.DataFrame(index=f.index)
    code, cfloats = nz.clean_code(_text_or_na(f, "university_code"))
    uid, ifloats = nz.clean_code(_text_or_na(f, "university_id"))
    rep.add(cfloats, "university_code", "float_suffix", f.get("university_code"), code)
    rep.add(ifloats, "university_id", "float_suffix", f.get("university_id"), uid)
    from_id = uid.where(uid.str.fullmatch(r"41[0-9]{2}0[0-9]{5}").fillna(False)).str.slice(5, 10)
    rep.add(code.isna() & from_id.notna(), "university_code", "university_id_to_code", uid, from_id)
    v["university_code"] = code.fillna(from_id)
    v["university_id"] = uid
    v["_university_conflict"] = (code.notna() & from_id.notna() & (code != from_id)).fillna(False)
    v["university_name"] = nz.clean_name(_text_or_na(f, "university_name"))
    for name in ("school_level", "ownership", "city"):
        v[name] = nz.clean_name(_text_or_na(f, name))
    rate, bad = nz.parse_rate(_text_or_na(f, "baseline_rate"))
    _optional(bad, "baseline_rate", rep, f.get("baseline_rate"))
    v["baseline_rate"] = rate
    return v


def _normalise_majors(f, ctx, rep) -> pd.DataFrame:
    v = pd.DataFrame(index=f.index)
    mc, floats = nz.clean_code(_text_or_na(f, "major_code"))
    rep.add(floats, "major_code", "float_suffix", f.get("major_code"), mc)
    padded, five = nz.pad_major_codes(mc)
    rep.add(five, "major_code", "zero_pad", mc, padded)
    v["major_code"] = padded
    v["major_name"] = nz.clean_name(_text_or_na(f, "major_name"))
    v["education_level"] = nz.match_name(_text_or_na(f, "education_level"))
    dc, dfloats = nz.clean_code(_text_or_na(f, "discipline_code"))
    rep.add(dfloats, "discipline_code", "float_suffix", f.get("discipline_code"), dc)
    one = dc.str.fullmatch(r"[0-9]").fillna(False)
    rep.add(one, "discipline_code", "zero_pad", dc, "0" + dc)
    v["discipline_code"] = dc.mask(one, "0" + dc)
    v["discipline_name"] = nz.clean_name(_text_or_na(f, "discipline_name"))
    return v


def _normalise_adjustment_plans(f, ctx, rep) -> pd.DataFrame:
    v = pd.DataFrame(index=f.index)
    _university(f, ctx, rep, v)
    v["received_date"] = _text_or_na(f, "received_date")
    return v


NORMALISERS = {
    "graduates": _normalise_graduates,
    "recruitment": _normalise_recruitment,
    "visits": _normalise_visits,
    "platform": _normalise_platform,
    "assistance": _normalise_assistance,
    "universities": _normalise_universities,
    "majors": _normalise_majors,
    "adjustment_plans": _normalise_adjustment_plans,
}


# --- typing: validation frame (valid rows) -> processed columns ------------------------------
def _derived_graduates(v: pd.DataFrame) -> pd.DataFrame:
    """placed / destination_known / buckets / in_denominator, with the policy of each cohort."""
    out = pd.DataFrame(index=v.index)
    out["placed"] = False
    out["destination_known"] = False
    out["bucket_2024"] = pd.Categorical([None] * len(v), categories=BUCKETS_2024)
    out["bucket_2021"] = pd.Categorical([None] * len(v), categories=BUCKETS_2021)
    out["in_denominator"] = False
    cohort = v["cohort"].astype(int)
    for year in np.unique(cohort.to_numpy()):
        m = (cohort == year).to_numpy()
        policy = load_policy(int(year)).placement
        cls = classify_destinations(
            v.loc[m, "destination_code"].astype("string"),
            policy.not_placed_codes,
            policy.not_placed_prefixes,
        )
        for c in cls.columns:
            out.loc[m, c] = cls[c].to_numpy()
        status = v.loc[m, "graduation_status"]
        out.loc[m, "in_denominator"] = (
            (
                (status == "毕业")
                | ((status == "结业") & policy.include_jieye_in_denominator)
                | ((status == "肄业") & policy.include_yiye_in_denominator)
            )
            .fillna(False)
            .to_numpy(dtype=bool)
        )
    return out


def _disciplines(level: pd.Series, major_code: pd.Series) -> tuple[pd.Series, pd.Series]:
    """helpers.codes.discipline_of for every row, computed once per distinct (level, prefix)."""
    pairs = level.astype(str) + "|" + major_code.str.slice(0, 2).astype(str)
    codes, uniques = pd.factorize(pairs)
    mapped = [discipline_of(*u.split("|", 1)) for u in uniques]
    code = np.array([m[0] for m in mapped], dtype=object)[codes]
    name = np.array([m[1] for m in mapped], dtype=object)[codes]
    return pd.Series(code, index=level.index, dtype="str"), pd.Series(
        name, index=level.index, dtype="str"
    )


def _type_graduates(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = pd.DataFrame(index=v.index)
    out["student_key"], out["_skey_d0"] = pseudonymise_words(v["student_id"], digester)
    out["university_code"] = v["university_code"]
    out["cohort"] = v["cohort"].astype(int)
    out["education_level"] = v["education_level"]
    out["graduation_status"] = v["graduation_status"]
    out["major_code"] = v["major_code"]
    out["major_name"] = v["major_name"]
    out["discipline_code"], out["discipline_name"] = _disciplines(
        v["education_level"], v["major_code"]
    )
    for c in (
        "department",
        "gender",
        "urban_rural",
        "difficulty_category",
        "destination_code",
        "placement_date",
        "employer_name",
        "employer_credit_code",
        "employer_type_code",
        "employer_industry_code",
        "employer_region_code",
        "origin_region_code",
        "willing_to_work",
    ):
        out[c] = v[c]
    for c in v.columns:
        if c.startswith("group_"):
            out[c] = v[c]
    out = out.join(_derived_graduates(v))
    return out


def _type_recruitment(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = pd.DataFrame(index=v.index)
    out["university_code"] = v["university_code"]
    out["window_start"] = nz.parse_dates(v["window_start"])
    out["window_end"] = nz.parse_dates(v["window_end"])
    out["activity_type"] = v["activity_type"]
    for c in COUNT_COLUMNS["recruitment"]:
        out[c] = v[c].astype("int64")
    return out


def _type_visits(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = pd.DataFrame(index=v.index)
    out["university_code"] = v["university_code"]
    out["visit_date"] = nz.parse_dates(v["visit_date"])
    out["visitor_key"] = pseudonymise(v["visitor"], digester)
    out["visitor_role"] = v["visitor_role"]
    out["employer_name"] = v["employer_name"]
    out["employer_credit_code"] = v["employer_credit_code"]
    out["employer_key"] = v["employer_credit_code"].fillna(nz.match_name(v["employer_name"]))
    out["new_employer"] = v["new_employer"].str.upper().isin(nz.YES).astype(bool)
    out["positions"] = v["positions"].astype("int64")
    return out


def _type_platform(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = pd.DataFrame(index=v.index)
    out["university_code"] = v["university_code"]
    out["stat_date"] = nz.parse_dates(v["stat_date"])
    for c in COUNT_COLUMNS["platform"]:
        out[c] = v[c].astype("int64")
    return out


def _type_assistance(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = pd.DataFrame(index=v.index)
    out["student_key"] = pseudonymise(v["student_id"], digester)
    out["university_code"] = v["university_code"]
    out["help_date"] = nz.parse_dates(v["help_date"])
    out["help_type"] = v["help_type"]
    out["helper_key"] = pseudonymise(v["helper"], digester)
    return out


def _type_universities(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    cols = (
        "university_id",
        "university_code",
        "university_name",
        "school_level",
        "ownership",
        "city",
        "baseline_rate",
    )
    return v[list(cols)].copy()


def _type_majors(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = v[
        ["major_code", "major_name", "education_level", "discipline_code", "discipline_name"]
    ].copy()
    missing = out["discipline_code"].isna() | out["discipline_name"].isna()
    if missing.any():
        level = out["education_level"].where(out["education_level"] != "专科", "专科")
        code, name = _disciplines(level[missing], out.loc[missing, "major_code"])
        out.loc[missing, "discipline_code"] = out.loc[missing, "discipline_code"].fillna(code)
        out.loc[missing, "discipline_name"] = out.loc[missing, "discipline_name"].fillna(name)
    return out


def _type_adjustment_plans(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = pd.DataFrame(index=v.index)
    out["university_code"] = v["university_code"]
    out["received_date"] = nz.parse_dates(v["received_date"])
    return out


TYPERS = {
    "graduates": _type_graduates,
    "recruitment": _type_recruitment,
    "visits": _type_visits,
    "platform": _type_platform,
    "assistance": _type_assistance,
    "universities": _type_universities,
    "majors": _type_majors,
    "adjustment_plans": _type_adjustment_plans,
}


def processed_frame(dataset: str, typed: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """Exactly PROCESSED_COLUMNS[dataset], in order and dtype, with source columns from meta."""
    spec = PROCESSED_COLUMNS[dataset]
    data = {}
    for col, dtype in spec.items():
        if col == "source_file":
            s = meta["_file"]
        elif col == "source_row":
            s = meta["_row"]
        elif col == "snapshot_date":
            s = pd.to_datetime(meta["_folder"], errors="coerce")
        else:
            s = typed[col]
        if dtype == "category":
            cats = BUCKETS_2024 if col == "bucket_2024" else BUCKETS_2021
            data[col] = pd.Categorical(s, categories=cats)
        else:
            data[col] = s.astype(dtype) if str(s.dtype) != dtype else s
    return pd.DataFrame(data, index=typed.index)


def signature(frame: pd.DataFrame) -> pd.Series:
    """Content hash of processed rows (source columns excluded) and their personal values' hash
    (``_psig``): two rows with one natural key are identical duplicates when these agree."""
    cols = [c for c in frame.columns if c not in META_COLUMNS and not c.startswith("_")]
    return pd.util.hash_pandas_object(frame[[*cols, "_psig"]], index=False)


# --- fingerprints ----------------------------------------------------------------------------
FINGERPRINT_COLUMNS = ("kind", "d0", "d1", "d2", "d3", "_folder")


def empty_fingerprints() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": pd.Series(dtype=object),
            **{f"d{i}": pd.Series(dtype=np.uint64) for i in range(4)},
            "_folder": pd.Series(dtype=object),
        }
    )


def _fingerprints(
    f: pd.DataFrame, digester: Digester, row_words: dict | None = None
) -> pd.DataFrame:
    """Keyed digests of every distinct personal value of the batch, per raw folder: kind, the
    digest as four uint64 words (d0..d3; hex only when written) and _folder. Each value counts as
    written and in the forms a leak may take (no internal spaces; no '.0' of a number stored as a
    decimal). Batch text is already NFKC and stripped: upper case completes keyed_digest's form."""
    parts = []
    if "_folder" not in f.columns or len(f) == 0:
        return empty_fingerprints()
    fcodes, folders = pd.factorize(f["_folder"], use_na_sentinel=False)
    folders = np.asarray(folders, dtype=object)
    nf = max(len(folders), 1)
    for col, kind in PERSONAL_KINDS.items():
        if col not in f.columns:
            continue
        codes, uniques = pd.factorize(f[col].str.upper(), use_na_sentinel=True)
        if len(uniques) == 0:
            continue
        m = codes >= 0
        pairs = np.unique(codes[m].astype(np.int64) * nf + fcodes[m])
        ucode, ufolder = pairs // nf, pairs % nf
        u = pd.Series(uniques, dtype="str")
        forms = [u]
        for probe, pattern, repl in ((nz.WS, nz.WS, ""), (r"\.0+$", r"^([0-9]+)\.0+$", r"\1")):
            if u.str.contains(probe, regex=True).any():
                alt = u.str.replace(pattern, repl, regex=True)
                forms.append(alt.where(alt != u))
        for form in forms:
            present = (form.notna() & (form != "")).to_numpy(dtype=bool)
            if not present.any():
                continue
            words = np.zeros((len(form), 4), dtype=np.uint64)
            values = form.to_numpy(dtype=object, na_value=None)[present].tolist()
            words[present] = digest_words(digester.many_bytes(values))
            if form is u and row_words is not None:  # per row: the first word, 0 when missing
                row_words[col] = np.where(codes >= 0, words[np.where(codes >= 0, codes, 0), 0], 0)
            keep = present[ucode]
            sel = words[ucode[keep]]
            parts.append(
                pd.DataFrame(
                    {
                        "kind": pd.Series(kind, index=range(len(sel)), dtype=object),
                        **{f"d{i}": sel[:, i] for i in range(4)},
                        "_folder": pd.Series(folders[ufolder[keep]], dtype=object),
                    }
                )
            )
    if not parts:
        return empty_fingerprints()
    return pd.concat(parts, ignore_index=True)


# --- the batch -------------------------------------------------------------------------------
def _raw_for(sheets: _Sheets, pos: np.ndarray) -> list[str]:
    """Raw JSON of some rows (quarantined or duplicated), by position in the batch frame."""
    starts = np.asarray(sheets.starts)
    idx = np.searchsorted(starts, pos, side="right") - 1
    return [
        raw_json(sheets.headers[i], sheets.bodies[i][[p - starts[i]]])[0]
        for p, i in zip(pos, idx, strict=True)
    ]


def process_batch(tasks: list[FileTask], ctx: Context) -> BatchResult:
    """Read, normalise, validate and type every file of ``tasks`` (one dataset)."""
    dataset = tasks[0].dataset
    d = BY_NAME[dataset]
    sheets = _Sheets()
    files: list[dict] = []
    quarantine: list[dict] = []
    repair_rows: list[dict] = []
    for task in tasks:
        _read_task(task, d, sheets, files, quarantine, repair_rows)

    spec = PROCESSED_COLUMNS[dataset]
    empty_records = processed_frame(
        dataset,
        pd.DataFrame(
            {c: pd.Series(dtype=t if t != "category" else object) for c, t in spec.items()}
        ),
        pd.DataFrame({"_file": [], "_row": [], "_folder": []}),
    )
    empty_records["_psig"] = pd.Series(dtype="uint64")
    empty_records["_khash"] = pd.Series(dtype="uint64")
    for c in ("_file", "_sheet", "_folder"):
        empty_records[c] = pd.Series(dtype="string")
    empty_records["_row"] = pd.Series(dtype="int64")
    if sheets.n == 0:
        return BatchResult(
            dataset,
            empty_records,
            _quarantine_frame(quarantine),
            _repairs_frame(dataset, repair_rows, None, None),
            _files_frame(files),
            _fingerprints(pd.DataFrame(), Digester(ctx.key)),
        )

    f = _batch_frame(d, sheets)
    digester = Digester(ctx.key)
    row_words: dict[str, np.ndarray] = {}
    fingerprints = _fingerprints(f, digester, row_words)
    rep = _Repairs(f, dataset)
    v = NORMALISERS[dataset](f, ctx, rep)
    issues = validate(dataset, v.copy(), ctx.universities.codes)
    if sheets.issues:
        issues = pd.concat([issues, *sheets.issues], ignore_index=True)
    summary = summarise_issues(issues)
    bad_pos = summary["pos"].to_numpy(dtype=np.int64)
    if len(bad_pos):
        q = pd.DataFrame(
            {
                "source_file": f["_file"].to_numpy()[bad_pos],
                "sheet": f["_sheet"].to_numpy()[bad_pos],
                "row": f["_row"].to_numpy()[bad_pos],
                "snapshot_date": f["_folder"].to_numpy()[bad_pos],
                "dataset": dataset,
                "level": "row",
                "reason_code": summary["reason_code"].to_numpy(),
                "reason": summary["reason"].to_numpy(),
                "column": summary["column"].to_numpy(),
                "reason_codes": summary["reason_codes"].to_numpy(),
                "raw": _raw_for(sheets, bad_pos),
            }
        )
        quarantine_frame = pd.concat(
            [_quarantine_frame(quarantine), _typed(q, QUARANTINE_COLUMNS)], ignore_index=True
        )
    else:
        quarantine_frame = _quarantine_frame(quarantine)

    records, dup_pos = accepted_records(dataset, d, v, f, bad_pos, digester, row_words)
    dup_raw = {}
    if len(dup_pos):
        pos = dup_pos
        where = zip(
            f["_file"].to_numpy()[pos],
            f["_sheet"].to_numpy()[pos],
            f["_row"].to_numpy()[pos],
            strict=True,
        )
        dup_raw = {
            (fi, sh, int(r)): js
            for (fi, sh, r), js in zip(where, _raw_for(sheets, pos), strict=True)
        }

    repairs = _repairs_frame(dataset, repair_rows, rep.result(), f)
    return BatchResult(
        dataset,
        records.reset_index(drop=True),
        quarantine_frame,
        repairs,
        _files_frame(files),
        fingerprints,
        dup_raw,
        _peak_rss_mb(),
        os.getpid(),
        time.process_time(),
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _typed(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    for c in columns:
        if c not in df.columns:
            df[c] = None
    return df[list(columns)].astype(columns)


def _quarantine_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_frame(QUARANTINE_COLUMNS)
    return _typed(pd.DataFrame(rows), QUARANTINE_COLUMNS)


def _files_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_frame(FILE_COLUMNS)
    df = pd.DataFrame(rows)
    for c in ("rows_read", "blank_rows", "footer_rows"):
        if c not in df.columns:
            df[c] = 0
        df[c] = df[c].fillna(0)
    return _typed(df, FILE_COLUMNS)


def _repairs_frame(
    dataset: str, rows: list[dict], vector: pd.DataFrame | None, f: pd.DataFrame | None
) -> pd.DataFrame:
    parts = []
    if rows:
        parts.append(pd.DataFrame(rows))
    if vector is not None and len(vector):
        pos = vector["pos"].to_numpy(dtype=np.int64)
        parts.append(
            pd.DataFrame(
                {
                    "source_file": f["_file"].to_numpy()[pos],
                    "sheet": f["_sheet"].to_numpy()[pos],
                    "row": f["_row"].to_numpy()[pos],
                    "snapshot_date": f["_folder"].to_numpy()[pos],
                    "dataset": dataset,
                    "column": vector["column"].to_numpy(),
                    "repair_code": vector["repair_code"].to_numpy(),
                    "before": vector["before"].to_numpy(),
                    "after": vector["after"].to_numpy(),
                }
            )
        )
    if not parts:
        return empty_frame(REPAIR_COLUMNS)
    df = pd.concat(parts, ignore_index=True)
    df["repair"] = df["repair_code"].map(REPAIRS)
    return _typed(df, REPAIR_COLUMNS)


def accepted_records(dataset, d, v, f, bad_pos, digester, row_words):
    """Typed processed rows of a batch's accepted rows, with provenance, the personal-value
    signature and the natural-key hash; plus the batch positions of rows whose key repeats.
    Shared by the regular and the bulk (national) paths so both merge duplicates alike."""
    good = np.ones(len(f), dtype=bool)
    good[bad_pos] = False
    typed = TYPERS[dataset](v.loc[good], digester)
    records = processed_frame(dataset, typed, f.loc[good])
    # hash of the personal values (姓名, 身份证号): two rows of one 学号 with different people conflict
    psig = np.zeros(int(good.sum()), dtype=np.uint64)
    if dataset == "graduates":
        for i, col in enumerate(("name", "id_number")):
            if col in row_words:
                psig ^= row_words[col][good].astype(np.uint64) * np.uint64(2 * i + 1)
    records["_psig"] = psig
    for c in ("_file", "_sheet", "_folder"):
        records[c] = f.loc[good, c]
    records["_row"] = f.loc[good, "_row"].astype("int64")

    # a 64-bit hash of the natural key: the parent finds duplicates across batches with it
    keys = list(NATURAL_KEYS[dataset])
    if "_skey_d0" in typed.columns and keys == ["university_code", "student_key"]:
        # the pseudonym is itself a keyed hash: its first word and the university's code suffice
        # (院校代码 is five digits here: validated against the reference list)
        ucode = records["university_code"].astype("uint64").to_numpy() * np.uint64(
            0x9E3779B97F4A7C15
        )
        records["_khash"] = typed["_skey_d0"].to_numpy(dtype=np.uint64) ^ ucode
    else:
        records["_khash"] = pd.util.hash_pandas_object(records[keys], index=False).to_numpy()
    # raw rows of duplicates (the parent quarantines the conflicting ones); snapshot datasets only
    # compare rows of the same raw folder
    probe = records[["_khash", "_folder"]] if d.kind == "snapshot" else records[["_khash"]]
    dup = probe.duplicated(keep=False).to_numpy()
    return records, np.flatnonzero(good)[dup]
