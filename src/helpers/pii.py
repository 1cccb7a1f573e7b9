"""Personal-data patterns, shared by ingest (scrubbing free text) and the end-of-run scanner.

One place for what a personal number looks like, so that what ingest removes from free text and
what the scanner refuses to publish are the same thing:

- ``id_number``: a 身份证号 (GB 11643): 17 digits and a check character (``X`` or ``x`` too), a
  province prefix, a birth date, the right ISO 7064 MOD 11-2 check character; written
  contiguously or in any grouping with single spaces or hyphens (``350102 19990101 123X``,
  ``350102-19990101-123x``). Full-width digits are NFKC-normalised by the callers first.
- ``mobile``: a mainland mobile number, ``1[3-9]`` + 9 digits, with an optional ``86`` / ``+86``
  prefix, contiguous or grouped with single spaces or hyphens (``138 1234 5678``,
  ``1381-234-5678``).
- identifier candidates (:func:`identifier_candidates`): letter/digit runs, and runs joined across
  single separators (``2019-3000-1200`` and ``2019 3000 1200`` give ``201930001200``), the forms a
  学号 is compared in (upper-cased).

A match must start and end at the edge of a group of digits (never inside a longer run of digits,
nor after a decimal point), as in the scanner's original contiguous rules.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable

import numpy as np

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = "10X98765432"
_ID_CHECK_ARRAY = np.array(list(ID_CHECK))
PROVINCE_PREFIXES = frozenset(
    re.findall(
        r"\d\d",
        "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 "
        "65 71 81 82 91",
    )
)

SEPARATORS = " -"  # inside a grouped number: one space or one hyphen between two digits
# Each pattern consumes its first digit and looks ahead for the rest, so that every group start
# is tried (a window that starts one group later is still found) and the scan stays fast (a
# pattern that starts with a plain character, not with a look-behind).
ID_RE = re.compile(r"(\d)(?<![\d.]\d)(?=((?:[ -]?\d){16}[ -]?[\dXx])(?!\d))")
MOBILE_RE = re.compile(
    r"([18])(?<![\d.][18])(?:(?<=8)(?=(6[ -]?1[ -]?[3-9](?:[ -]?\d){9})(?!\d))"
    r"|(?<=1)(?=([ -]?[3-9](?:[ -]?\d){9})(?!\d)))"
)
_TOKEN_RE = re.compile(r"[0-9A-Za-z]+")
# groups that hold a digit (S2019-0305, 2019 0305 12), joined by single separators; the match
# starts at a digit (fast scan) and is widened over the letters before it
JOINED_RE = re.compile(r"\d[0-9A-Za-z]*(?:[ _-][A-Za-z]*\d[0-9A-Za-z]*)+")
_ASCII_LETTERS = frozenset(string.ascii_letters)
_DIGIT = re.compile(r"\d")
MAX_JOINED_PARTS = 6  # a 学号 written in at most six groups
MIN_IDENTIFIER = 4  # shorter letter/digit runs are not compared with 学号


def digits_only(text: str) -> str:
    return re.sub(r"[^0-9Xx]", "", text).upper()


def check_character(first17: Iterable[str]) -> np.ndarray:
    """The GB 11643 check character (ISO 7064 MOD 11-2) of each 17-digit string."""
    body = list(first17)
    if not body:
        return np.zeros(0, dtype="<U1")
    arr = np.frombuffer("".join(body).encode("ascii"), dtype=np.uint8)
    return _ID_CHECK_ARRAY[((arr.reshape(-1, 17).astype(np.int64) - 48) @ ID_WEIGHTS) % 11]


def check_character_ok(values: Iterable[str]) -> np.ndarray:
    """GB 11643 check character of 18-character ID numbers (upper case, no separators): the one
    implementation of ISO 7064 MOD 11-2 in the project. Anything not 17 digits and [0-9X] is
    False."""
    vals = list(values)
    out = np.zeros(len(vals), dtype=bool)
    shaped = [i for i, v in enumerate(vals) if len(v) == 18 and v[:17].isdigit() and v.isascii()]
    if not shaped:
        return out
    expect = check_character(vals[i][:17] for i in shaped)
    out[np.array(shaped)] = expect == np.array([vals[i][17] for i in shaped])
    return out


def id_number_ok(candidates: Iterable[str]) -> np.ndarray:
    """A real-looking ID number: province prefix, birth date (YYYYMMDD, 1900–2099) and check
    character. ``candidates``: 18 characters, separators removed (any case)."""
    import pandas as pd

    vals = [c.upper() for c in candidates]
    if not vals:
        return np.zeros(0, dtype=bool)
    check = check_character_ok(vals)
    digits = np.array([[ord(ch) - 48 for ch in v[:14]] if check[i] else [0] * 14
                       for i, v in enumerate(vals)], dtype=np.int64)  # fmt: skip
    prov = np.array([v[:2] in PROVINCE_PREFIXES for v in vals])
    year = digits[:, 6:10] @ np.array([1000, 100, 10, 1])
    month = digits[:, 10:12] @ np.array([10, 1])
    day = digits[:, 12:14] @ np.array([10, 1])
    born = (
        pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")
        .notna()
        .to_numpy()
    )
    return check & prov & born & (year >= 1900) & (year <= 2099)


def id_matches(text: str) -> list[tuple[int, int, str]]:
    """(start, end, the 18 characters) of every real-looking ID number in ``text`` (NFKC text),
    in any grouping."""
    found = [(m.start(), m.end(2), m.group(1) + m.group(2)) for m in ID_RE.finditer(text)]
    if not found:
        return []
    plain = [digits_only(v) for _, _, v in found]
    ok = id_number_ok(plain)
    return [(s, e, p) for (s, e, _), p, good in zip(found, plain, ok, strict=True) if good]


def mobile_matches(text: str) -> list[tuple[int, int, str]]:
    """(start, end, the 11 digits) of every mainland mobile number in ``text`` (NFKC text)."""
    out = []
    for m in MOBILE_RE.finditer(text):
        rest = 2 if m.group(2) is not None else 3
        raw, end = m.group(1) + m.group(rest), m.end(rest)
        digits = re.sub(r"\D", "", raw)
        out.append((m.start(), end, digits[2:] if len(digits) == 13 else digits))
    return out


def joined_candidates(text: str) -> set[str]:
    """Letter/digit groups that hold a digit, joined across single separators (space, hyphen,
    underscore): every window of up to :data:`MAX_JOINED_PARTS` consecutive groups with at least
    four digits, upper-cased: the forms ``2019-3000-1200`` and ``2019 3000 1200`` of
    ``201930001200``."""
    out: set[str] = set()
    for m in JOINED_RE.finditer(text):
        run = m.group()
        if len(_DIGIT.findall(run)) < 4:
            continue
        start = m.start()
        while start and text[start - 1] in _ASCII_LETTERS:
            start -= 1
        run = text[start : m.end()]
        parts = re.split(r"[ _-]", run)
        for i in range(len(parts)):
            for j in range(i + 2, min(i + MAX_JOINED_PARTS, len(parts)) + 1):
                joined = "".join(parts[i:j])
                if len(joined) >= MIN_IDENTIFIER and len(_DIGIT.findall(joined)) >= 4:
                    out.add(joined.upper())
    return out


def identifier_candidates(text: str) -> set[str]:
    """Every form in which ``text`` may hold a 学号: its letter/digit runs and
    :func:`joined_candidates`, upper-cased."""
    runs = {t.upper() for t in _TOKEN_RE.findall(text) if len(t) >= MIN_IDENTIFIER}
    return runs | joined_candidates(text)


def normalise_identifier(value: str) -> str:
    """A 学号 in the form :func:`identifier_candidates` yields: NFKC, upper case, no separators."""
    return re.sub(r"[\s_-]", "", unicodedata.normalize("NFKC", value)).upper()


def identifier_set(values) -> frozenset[str]:
    """An input's 学号 (text values, or an Arrow string array) as :func:`personal_in_text`
    compares them: :func:`normalise_identifier`, at least :data:`MIN_IDENTIFIER` long. Values of
    plain ASCII letters and digits (nearly all) are their own NFKC form without separators: they
    are only upper-cased, in Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    a = values if isinstance(values, pa.Array) else pa.array(list(values), type=pa.large_string())
    plain = pc.match_substring_regex(a, "^[0-9A-Za-z]*$")
    out = pc.utf8_upper(a.filter(plain)).to_pylist()
    out += [normalise_identifier(v) for v in a.filter(pc.invert(plain)).to_pylist()]
    return frozenset(x for x in out if len(x) >= MIN_IDENTIFIER)


def personal_in_text(text: str, identifiers: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The kind of personal value ``text`` holds (``id_number``, ``mobile``, ``student_id``), or
    None. ``identifiers``: known 学号 of the input, as :func:`normalise_identifier` gives them."""
    t = unicodedata.normalize("NFKC", text)
    if len(_DIGIT.findall(t)) < 4:
        return None
    if id_matches(t):
        return "id_number"
    if mobile_matches(t):
        return "mobile"
    if identifiers and identifier_candidates(t) & identifiers:
        return "student_id"
    return None


REDACTED = "已隐去"


def redact(text: str) -> str:
    """``text`` with every ID number and mobile number (any formatting) replaced by
    :data:`REDACTED`: for names that are shown but must stay recognisable (file and sheet names:
    the 院校代码 and the rest of the name stay)."""
    t = unicodedata.normalize("NFKC", text)
    spans = sorted((s, e) for s, e, _ in id_matches(t) + mobile_matches(t))
    if not spans:
        return text
    out, pos = [], 0
    for s, e in spans:
        if s < pos:  # overlapping (+86 and the number after it)
            if e > pos:
                pos = e
            continue
        out += [t[pos:s], REDACTED]
        pos = e
    return "".join(out) + t[pos:]
