"""The universities reference as lookups, and 院校代码 resolved from the code, the 学校标识码 or
the 院校名称 of a row (once per distinct combination)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.ingest import normalise as nz


@dataclass(frozen=True)
class UniversityLookup:
    """The universities reference as lookups (small: pickled to every worker)."""

    codes: frozenset[str]
    by_id: dict[str, str]
    by_name: dict[str, str]  # nz.match_name(院校名称) -> 院校代码

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> UniversityLookup:
        codes = df["university_code"].dropna().astype(str)
        ids = df.dropna(subset=["university_id", "university_code"])
        names = df.dropna(subset=["university_name", "university_code"])
        name_keys = nz.match_name(names["university_name"])
        return cls(
            codes=frozenset(codes),
            by_id=dict(
                zip(
                    ids["university_id"].astype(str),
                    ids["university_code"].astype(str),
                    strict=True,
                )
            ),
            by_name=dict(
                zip(name_keys.astype(str), names["university_code"].astype(str), strict=True)
            ),
        )

    @classmethod
    def empty(cls) -> UniversityLookup:
        return cls(frozenset(), {}, {})


def _id_to_code(ids: pd.Series, lookup: UniversityLookup) -> pd.Series:
    """学校标识码 (10 digits: 41 + province + 0 + 院校代码) -> 院校代码."""
    mapped = ids.map(lookup.by_id)
    pattern = ids.str.fullmatch(r"41[0-9]{2}0[0-9]{5}").fillna(False).astype(bool)
    return mapped.fillna(ids.where(pattern).str.slice(5, 10))


@dataclass
class ResolvedUniversity:
    code: pd.Series  # resolved 院校代码, or the unresolved text, or missing
    conflict: pd.Series  # 院校代码 / 学校标识码 / 院校名称 disagree
    id_used: pd.Series  # code came from a 学校标识码
    name_used: pd.Series  # code came from a 院校名称
    id_text: pd.Series  # the 学校标识码 text used (also one found in the 院校代码 column)
    code_floats: pd.Series  # '.0' removed from 院校代码 text
    id_floats: pd.Series  # '.0' removed from 学校标识码 text
    code_before: pd.Series  # 院校代码 text before the '.0' repair


def resolve_university(
    code: pd.Series | None,
    uid: pd.Series | None,
    name: pd.Series | None,
    lookup: UniversityLookup,
    index: pd.Index,
) -> ResolvedUniversity:
    """院校代码 from whichever of 院校代码 / 学校标识码 / 院校名称 a row has.

    ``code`` holds the resolved 5-digit code, or the unresolved text a row gave (so that
    validation reports it as an unknown university), or missing when the row names no university
    at all. A 10-digit 学校标识码 in the 院校代码 column counts as a 学校标识码. Computed once per
    distinct combination of the three columns.
    """
    d = nz.distinct_rows([code, uid, name])
    if d is None:
        return _resolve_university(code, uid, name, lookup, index)
    ids, first = d
    heads = [nz.distinct_head(c, first) for c in (code, uid, name)]
    return nz.spread(_resolve_university(*heads, lookup, pd.RangeIndex(len(first))), ids, index)


def _resolve_university(
    code: pd.Series | None,
    uid: pd.Series | None,
    name: pd.Series | None,
    lookup: UniversityLookup,
    index: pd.Index,
) -> ResolvedUniversity:
    empty = pd.Series(np.nan, index=index, dtype="str")
    no = pd.Series(False, index=index)
    c_before = nz.as_text(code) if code is not None else empty
    c, c_floats = nz.clean_code.rows(code) if code is not None else (empty, no)
    i, i_floats = nz.clean_code.rows(uid) if uid is not None else (empty, no)
    ten = c.str.fullmatch(r"[0-9]{10}").fillna(False).astype(bool)
    i = i.mask(ten & i.isna(), c)
    c = c.mask(ten)
    from_id = _id_to_code(i, lookup)
    n = nz.match_name.rows(name) if name is not None else empty
    from_name = n.map(lookup.by_name)
    resolved = c.fillna(from_id).fillna(from_name)
    id_used = (c.isna() & from_id.notna()).astype(bool)
    name_used = (c.isna() & from_id.isna() & from_name.notna()).astype(bool)
    # nothing resolved: keep what the row said, for the 'unknown university' reason
    resolved = resolved.fillna(c.fillna(i).fillna(n))
    known = c.fillna(from_id)
    conflict = (
        (c.notna() & from_id.notna() & (c != from_id)).fillna(False)
        | (known.notna() & from_name.notna() & (known != from_name)).fillna(False)
    ).astype(bool)
    return ResolvedUniversity(
        resolved.astype("str"), conflict, id_used, name_used, i, c_floats, i_floats, c_before
    )
