"""Typers: the validation frame of accepted rows -> the processed columns (dtypes of
helpers.datasets.PROCESSED_COLUMNS), with pseudonyms and the graduates' derived columns
(placed, buckets, denominator) by each cohort's policy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.codes import BUCKETS_2021, BUCKETS_2024, classify_destinations, discipline_of
from helpers.config import load_policy
from helpers.datasets import PROCESSED_COLUMNS
from helpers.ingest import normalise as nz
from helpers.ingest.normalisers import Columns
from helpers.ingest.pseudonym import Digester, pseudonymise, pseudonymise_words
from helpers.ingest.schemas import COUNT_COLUMNS
from helpers.ingest.tasks import NATURAL_KEYS, SOURCE_COLUMNS


def _derived_graduates(v: pd.DataFrame) -> pd.DataFrame:
    """placed / destination_known / buckets / in_denominator, with the policy of each cohort.

    Each distinct destination code is classified once per cohort year (a batch has a few dozen
    codes and one or two cohorts); rows take their code's result by position."""
    n = len(v)
    ids, distinct = pd.factorize(v["destination_code"].astype("string"), use_na_sentinel=True)
    # one extra slot for the missing code: id -1 reads the last slot
    codes = pd.Series([*np.asarray(distinct, dtype=object), None], dtype="string")
    status = v["graduation_status"].to_numpy(dtype=object, na_value=None)
    graduated, jieye, yiye = (status == "毕业"), (status == "结业"), (status == "肄业")
    placed = np.zeros(n, dtype=bool)
    known = np.zeros(n, dtype=bool)
    in_denominator = np.zeros(n, dtype=bool)
    b24 = np.zeros(n, dtype=np.int8)
    b21 = np.zeros(n, dtype=np.int8)
    years, year_of_row = np.unique(v["cohort"].to_numpy(dtype=np.int64), return_inverse=True)
    for k, year in enumerate(years):
        m = year_of_row == k
        policy = load_policy(int(year)).placement
        cls = classify_destinations(codes, policy.not_placed_codes, policy.not_placed_prefixes)
        rows = ids[m]
        placed[m] = cls["placed"].to_numpy(dtype=bool)[rows]
        known[m] = cls["destination_known"].to_numpy(dtype=bool)[rows]
        b24[m] = np.asarray(cls["bucket_2024"].cat.codes, dtype=np.int8)[rows]
        b21[m] = np.asarray(cls["bucket_2021"].cat.codes, dtype=np.int8)[rows]
        in_denominator[m] = (
            graduated[m]
            | (jieye[m] & policy.include_jieye_in_denominator)
            | (yiye[m] & policy.include_yiye_in_denominator)
        )
    return pd.DataFrame(
        {
            "placed": placed,
            "destination_known": known,
            "bucket_2024": pd.Categorical.from_codes(b24, categories=BUCKETS_2024),
            "bucket_2021": pd.Categorical.from_codes(b21, categories=BUCKETS_2021),
            "in_denominator": in_denominator,
        },
        index=v.index,
    )


def _disciplines(level: pd.Series, major_code: pd.Series) -> tuple[pd.Series, pd.Series]:
    """helpers.codes.discipline_of for every row, computed once per distinct (level, prefix)."""
    d = nz.distinct_rows([level, major_code])
    if d is not None:
        ids, first = d
        heads = [level.iloc[first].reset_index(drop=True), major_code.iloc[first]]
        return nz.spread(
            _discipline_rows(heads[0], heads[1].reset_index(drop=True)), ids, level.index
        )
    return _discipline_rows(level, major_code)


def _discipline_rows(level: pd.Series, major_code: pd.Series) -> tuple[pd.Series, pd.Series]:
    pairs = level.astype(str) + "|" + major_code.str.slice(0, 2).astype(str)
    codes, uniques = pd.factorize(pairs)
    mapped = [discipline_of(*u.split("|", 1)) for u in uniques]
    code = np.array([m[0] for m in mapped], dtype=object)[codes]
    name = np.array([m[1] for m in mapped], dtype=object)[codes]
    return pd.Series(code, index=level.index, dtype="str"), pd.Series(
        name, index=level.index, dtype="str"
    )


def _type_graduates(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = Columns(v.index)
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
    out.update(_derived_graduates(v))
    return out.frame()


def _type_recruitment(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = Columns(v.index)
    out["university_code"] = v["university_code"]
    out["window_start"] = nz.parse_dates(v["window_start"])
    out["window_end"] = nz.parse_dates(v["window_end"])
    out["activity_type"] = v["activity_type"]
    for c in COUNT_COLUMNS["recruitment"]:
        out[c] = v[c].astype("int64")
    return out.frame()


def _type_visits(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = Columns(v.index)
    out["university_code"] = v["university_code"]
    out["visit_date"] = nz.parse_dates(v["visit_date"])
    out["visitor_key"] = pseudonymise(v["visitor"], digester)
    out["visitor_role"] = v["visitor_role"]
    out["employer_name"] = v["employer_name"]
    out["employer_credit_code"] = v["employer_credit_code"]
    out["employer_key"] = v["employer_credit_code"].fillna(nz.match_name(v["employer_name"]))
    out["new_employer"] = v["new_employer"].str.upper().isin(nz.YES).astype(bool)
    out["positions"] = v["positions"].astype("int64")
    return out.frame()


def _type_platform(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = Columns(v.index)
    out["university_code"] = v["university_code"]
    out["stat_date"] = nz.parse_dates(v["stat_date"])
    for c in COUNT_COLUMNS["platform"]:
        out[c] = v[c].astype("int64")
    return out.frame()


def _type_assistance(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = Columns(v.index)
    out["student_key"] = pseudonymise(v["student_id"], digester)
    out["university_code"] = v["university_code"]
    out["help_date"] = nz.parse_dates(v["help_date"])
    out["help_type"] = v["help_type"]
    out["helper_key"] = pseudonymise(v["helper"], digester)
    return out.frame()


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
    out = Columns(v.index)
    out["university_code"] = v["university_code"]
    out["received_date"] = nz.parse_dates(v["received_date"])
    return out.frame()


def _type_submissions(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = Columns(v.index)
    out["university_code"] = v["university_code"]
    out["item"] = v["item"]
    out["received_date"] = nz.parse_dates(v["received_date"])
    return out.frame()


TYPERS = {
    "graduates": _type_graduates,
    "recruitment": _type_recruitment,
    "visits": _type_visits,
    "platform": _type_platform,
    "assistance": _type_assistance,
    "universities": _type_universities,
    "majors": _type_majors,
    "adjustment_plans": _type_adjustment_plans,
    "submissions": _type_submissions,
}


def processed_frame(dataset: str, typed: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """Exactly PROCESSED_COLUMNS[dataset], in order and dtype, with source columns from meta."""
    spec = PROCESSED_COLUMNS[dataset]
    data = {}
    for col, dtype in spec.items():
        if col == "source_file":
            s = meta["_file"]
            if isinstance(s.dtype, pd.CategoricalDtype) and dtype == "string":
                s = as_string(s)
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


def as_string(s: pd.Series) -> pd.Series:
    """``s.astype("string")``; a categorical by its categories (not value by value)."""
    if not isinstance(s.dtype, pd.CategoricalDtype) or len(s) == 0:
        return s.astype("string")
    codes = s.cat.codes.to_numpy()
    cats = pa.array(np.asarray(s.cat.categories, dtype=object), type=pa.large_string())
    taken = cats.take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype="string"), index=s.index, name=s.name)


def light_records(dataset: str, records: pd.DataFrame) -> pd.DataFrame:
    """What the parent needs of every accepted row to merge duplicates and count rows: the
    natural key, the personal-value signature, the key hash and the source columns."""
    keys = [k for k in NATURAL_KEYS[dataset] if k in records.columns]
    return records[[*keys, "_psig", "_khash", *SOURCE_COLUMNS]]


def records_table(dataset: str, records: pd.DataFrame) -> pa.Table:
    """The processed columns as an Arrow table (with pandas' metadata: read back, the Parquet
    has the dtypes of PROCESSED_COLUMNS)."""
    return pa.Table.from_pandas(records[list(PROCESSED_COLUMNS[dataset])], preserve_index=False)


def empty_records(dataset: str) -> pd.DataFrame:
    """No accepted rows: the processed columns with their dtypes, and the merge columns."""
    spec = PROCESSED_COLUMNS[dataset]
    out = processed_frame(
        dataset,
        pd.DataFrame(
            {c: pd.Series(dtype=t if t != "category" else object) for c, t in spec.items()}
        ),
        pd.DataFrame({"_file": [], "_row": [], "_folder": []}),
    )
    return with_merge_columns(out)


def with_merge_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (no rows) with the empty columns the merge adds to processed rows."""
    frame["_psig"] = pd.Series(dtype="uint64")
    frame["_khash"] = pd.Series(dtype="uint64")
    for c in ("_file", "_sheet", "_folder"):
        frame[c] = pd.Series(dtype="string")
    frame["_row"] = pd.Series(dtype="int64")
    return frame
