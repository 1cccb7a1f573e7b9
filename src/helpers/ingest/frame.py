"""The processing core, shared by both readers: a batch frame of clean cell text (one row per
data row, with ``_file``/``_sheet``/``_folder``/``_row``) -> personal-value fingerprints,
normalised values and repairs, pandera validation and reason codes, typed processed rows with
pseudonyms, and the raw rows of duplicates (:func:`process_frame`).

The regular reader (:mod:`helpers.ingest.process`, whole files as cells) and the bulk reader
(:mod:`helpers.ingest.bulk`, chunks of national exports) differ only in how they make the frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.datasets import BY_NAME
from helpers.ingest import normalise as nz
from helpers.ingest.normalisers import NORMALISERS, Repairs
from helpers.ingest.pseudonym import Digester, digest_words, utf8_values
from helpers.ingest.quarantine import (
    QUARANTINE_COLUMNS,
    REPAIR_COLUMNS,
    REPAIRS,
    empty_frame,
    summarise_issues,
)
from helpers.ingest.schemas import validate
from helpers.ingest.tasks import (
    META_COLUMNS,
    NATURAL_KEYS,
    PERSONAL_KINDS,
    PSEUDONYMISED,
    Context,
    quarantine_frame,
    typed_frame,
    values_at,
)
from helpers.ingest.typers import TYPERS, empty_records, processed_frame

FINGERPRINT_COLUMNS = ["kind", "d0", "d1", "d2", "d3"]  # a fingerprint without its file


# one categorical dtype for every batch: stacking the fingerprints of many batches stays cheap
KIND_DTYPE = pd.CategoricalDtype(sorted(set(PERSONAL_KINDS.values())))


def empty_fingerprints() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": pd.Series(dtype=KIND_DTYPE),
            **{f"d{i}": pd.Series(dtype=np.uint64) for i in range(4)},
            "_file": pd.Series(dtype="category"),
        }
    )


def personal_fingerprints(
    f: pd.DataFrame, digester: Digester, row_words: dict | None = None
) -> pd.DataFrame:
    """Keyed digests of every distinct personal value of each file of the batch: kind, the
    digest as four uint64 words (d0..d3; hex only when written) and the file (``_file``), so
    that a file's fingerprints do not depend on the other files of its batch. Each value counts
    as written and in the forms a leak may take (no internal spaces; no '.0' of a number stored
    as a decimal). Batch text is already NFKC and stripped: upper case completes keyed_digest's
    form. The same value in other files is counted once when a processed folder is written."""
    parts = []
    if len(f) == 0:
        return empty_fingerprints()
    file_codes = np.asarray(f["_file"].cat.codes, dtype=np.int64)
    file_labels = f["_file"].cat.categories
    for col, kind in PERSONAL_KINDS.items():
        if col not in f.columns:
            continue
        codes, uniques = pd.factorize(f[col].str.upper(), use_na_sentinel=True)
        if len(uniques) == 0:
            continue
        # (file, value) pairs present, by file then by first appearance in the batch
        seen = codes >= 0
        pairs = np.unique(file_codes[seen] * len(uniques) + codes[seen])
        pair_file, pair_value = pairs // len(uniques), pairs % len(uniques)
        u = pd.Series(uniques, dtype="str")
        for words, position in _forms(col, u, digester, codes, row_words):
            at = position[pair_value]  # row of the form's digests; -1: no such form
            ok = at >= 0
            sel_words = words[at[ok]]
            parts.append(
                pd.DataFrame(
                    {
                        "kind": pd.Categorical.from_codes(
                            np.full(int(ok.sum()), KIND_DTYPE.categories.get_loc(kind)),
                            dtype=KIND_DTYPE,
                        ),
                        **{f"d{i}": sel_words[:, i] for i in range(4)},
                        "_file": pd.Categorical.from_codes(pair_file[ok], file_labels),
                    }
                )
            )
    if not parts:
        return empty_fingerprints()
    return pd.concat(parts, ignore_index=True)


def _forms(col: str, u: pd.Series, digester: Digester, codes, row_words: dict | None):
    """(digest words of the present values, position of each distinct value among them or -1)
    for the value as written and each leak form."""
    forms = [u]
    for chars, probe, pattern, repl in (
        (nz.ASCII_WS, nz.WS, nz.WS, ""),
        (b".", r"\.0+$", r"^([0-9]+)\.0+$", r"\1"),
    ):
        if nz.may_contain(u, chars) and u.str.contains(probe, regex=True).any():
            alt = u.str.replace(pattern, repl, regex=True)
            forms.append(alt.where(alt != u))
    out = []
    for form in forms:
        present = (form.notna() & (form != "")).to_numpy(dtype=bool)
        if not present.any():
            continue
        values = utf8_values(pa.array(form.array).filter(pa.array(present)))
        words = digest_words(digester.many_utf8(values, col in PSEUDONYMISED))
        if form is u and row_words is not None:  # per row: the first word, 0 when missing
            first = np.zeros(len(form), dtype=np.uint64)
            first[present] = words[:, 0]
            row_words[col] = np.where(codes >= 0, first[np.where(codes >= 0, codes, 0)], 0)
        position = np.full(len(form), -1, dtype=np.int64)
        position[present] = np.arange(int(present.sum()))
        out.append((words, position))
    return out


def signature(frame: pd.DataFrame) -> pd.Series:
    """Content hash of processed rows (source columns excluded) and their personal values' hash
    (``_psig``): two rows with one natural key are identical duplicates when these agree."""
    cols = [c for c in frame.columns if c not in META_COLUMNS and not c.startswith("_")]
    return pd.util.hash_pandas_object(frame[[*cols, "_psig"]], index=False)


def repairs_frame(
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
                    "source_file": values_at(f["_file"], pos),
                    "sheet": values_at(f["_sheet"], pos),
                    "row": values_at(f["_row"], pos),
                    "snapshot_date": values_at(f["_folder"], pos),
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
    return typed_frame(df, REPAIR_COLUMNS)


def accepted_records(dataset, d, v, f, bad_pos, digester, row_words):
    """Typed processed rows of a batch's accepted rows, with provenance, the personal-value
    signature and the natural-key hash; plus the batch positions of rows whose key repeats.
    Shared by the regular and the bulk (national) paths so both merge duplicates alike."""
    good = np.ones(len(f), dtype=bool)
    good[bad_pos] = False
    rows = np.flatnonzero(good)
    every = len(rows) == len(f)
    meta = f[["_file", "_sheet", "_folder", "_row"]]
    if not every:  # positional selections of the accepted rows
        v, meta = v.take(rows), meta.take(rows)
    typed = TYPERS[dataset](v, digester)
    records = processed_frame(dataset, typed, meta)
    # hash of the personal values (姓名, 身份证号): two rows of one 学号 with different people conflict
    psig = np.zeros(len(rows), dtype=np.uint64)
    if dataset == "graduates":
        for i, col in enumerate(("name", "id_number")):
            if col in row_words:
                psig ^= row_words[col][rows].astype(np.uint64) * np.uint64(2 * i + 1)
    records["_psig"] = psig
    for c in ("_file", "_sheet", "_folder"):
        records[c] = meta[c]
    records["_row"] = meta["_row"].astype("int64")

    # a 64-bit hash of the natural key: the parent finds duplicates across batches with it
    keys = list(NATURAL_KEYS[dataset])
    if "_skey_d0" in typed.columns and keys == ["university_code", "student_key"]:
        # the pseudonym is itself a keyed hash: its first word and the university's code suffice
        # (院校代码 is five digits here: validated against the reference list)
        ids, codes = pd.factorize(records["university_code"], use_na_sentinel=True)
        values = pd.Series(codes).astype("uint64").to_numpy()
        ucode = values[ids] * np.uint64(0x9E3779B97F4A7C15)
        records["_khash"] = typed["_skey_d0"].to_numpy(dtype=np.uint64) ^ ucode
    else:
        records["_khash"] = pd.util.hash_pandas_object(records[keys], index=False).to_numpy()
    # raw rows of duplicates (the parent quarantines the conflicting ones); snapshot datasets only
    # compare rows of the same raw folder
    probe = records[["_khash", "_folder"]] if d.kind == "snapshot" else records[["_khash"]]
    dup = probe.duplicated(keep=False).to_numpy()
    return records, rows[dup]


# --- the core --------------------------------------------------------------------------------
@dataclass
class FrameResult:
    """What the core makes of one batch frame."""

    records: pd.DataFrame  # processed columns + _psig, _khash and the source columns; RangeIndex
    quarantine: pd.DataFrame  # row-level quarantine (QUARANTINE_COLUMNS)
    repairs: pd.DataFrame  # REPAIR_COLUMNS
    fingerprints: pd.DataFrame  # kind, d0..d3
    dup_raw: dict  # (source_file, sheet, row) -> raw JSON of rows whose natural key repeats


def empty_result(dataset: str, repair_rows: list[dict]) -> FrameResult:
    """No data row at all (every file unreadable, or only blank and footer rows)."""
    return FrameResult(
        empty_records(dataset),
        quarantine_frame([]),
        repairs_frame(dataset, repair_rows, None, None),
        empty_fingerprints(),
        {},
    )


def process_frame(
    dataset: str,
    f: pd.DataFrame,
    raw_for: Callable[[np.ndarray], list[str]],
    extra_issues: list[pd.DataFrame],
    repair_rows: list[dict],
    ctx: Context,
) -> FrameResult:
    """Fingerprints, normalisers, pandera checks, reason codes, typers and pseudonyms for one
    batch frame. ``raw_for(positions)``: the raw JSON of some rows (quarantined or duplicated);
    ``extra_issues``: the reader's own issues (missing columns, broken rows) by position;
    ``repair_rows``: the reader's repairs (footer rows, duplicate headers)."""
    if len(f) == 0:
        return empty_result(dataset, repair_rows)
    digester = Digester(ctx.key)
    row_words: dict[str, np.ndarray] = {}
    fingerprints = personal_fingerprints(f, digester, row_words)
    rep = Repairs(f, dataset)
    v = NORMALISERS[dataset](f, ctx, rep)
    issues = validate(dataset, v.copy(), ctx.universities.codes)
    if extra_issues:
        issues = pd.concat([issues, *extra_issues], ignore_index=True)
    summary = summarise_issues(issues)
    bad_pos = summary["pos"].to_numpy(dtype=np.int64)
    quarantine = _row_quarantine(dataset, f, summary, raw_for) if len(bad_pos) else None
    records, dup_pos = accepted_records(
        dataset, BY_NAME[dataset], v, f, bad_pos, digester, row_words
    )
    dup_raw = {}
    if len(dup_pos):
        where = zip(
            values_at(f["_file"], dup_pos),
            values_at(f["_sheet"], dup_pos),
            values_at(f["_row"], dup_pos),
            strict=True,
        )
        dup_raw = {
            (fi, sh, int(r)): js for (fi, sh, r), js in zip(where, raw_for(dup_pos), strict=True)
        }
    return FrameResult(
        records.reset_index(drop=True),
        quarantine if quarantine is not None else quarantine_frame([]),
        repairs_frame(dataset, repair_rows, rep.result(), f),
        fingerprints,
        dup_raw,
    )


def _row_quarantine(dataset: str, f: pd.DataFrame, summary: pd.DataFrame, raw_for) -> pd.DataFrame:
    """The quarantined rows of a batch frame, one per row, with its reasons and raw content."""
    bad_pos = summary["pos"].to_numpy(dtype=np.int64)
    q = pd.DataFrame(
        {
            "source_file": values_at(f["_file"], bad_pos),
            "sheet": values_at(f["_sheet"], bad_pos),
            "row": values_at(f["_row"], bad_pos),
            "snapshot_date": values_at(f["_folder"], bad_pos),
            "dataset": dataset,
            "level": "row",
            "reason_code": summary["reason_code"].to_numpy(),
            "reason": summary["reason"].to_numpy(),
            "column": summary["column"].to_numpy(),
            "reason_codes": summary["reason_codes"].to_numpy(),
            "raw": raw_for(bad_pos),
        }
    )
    return typed_frame(q, QUARANTINE_COLUMNS)
