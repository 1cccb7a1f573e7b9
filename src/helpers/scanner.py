"""Scan report outputs for personal data before anything leaves the machine.

Rules (``docs/privacy.md``):

- ``id_number``: 18-character 身份证号 with a valid GB 11643 check character (``X`` allowed),
  not inside a longer digit run, written contiguously or grouped with single spaces or hyphens
  (``350102 19990101 123X``; :mod:`helpers.pii`, the rules ingest scrubs free text with); also
  an ID number damaged into scientific notation (``3.50102199901E+17``), which still carries
  region and birth date.
- ``mobile``: mainland mobile numbers ``1[3-9]`` + 9 digits, not inside a longer digit run
  (``+86``/``86`` prefix, any grouping with single spaces or hyphens: ``138 1234 5678``,
  ``1381-234-5678``).
- ``student_id`` / ``name`` (and the other fingerprinted values): any raw 学号, 姓名, ID number,
  phone, 走访人 or 帮扶责任人 of the inputs. Ingest writes their keyed digests
  (``pii_fingerprints.parquet``: ``kind``, ``digest`` = HMAC-SHA256 of the normalised value); the
  scanner digests every candidate in a file with the same key and looks it up: letter/digit runs
  for identifiers (also joined across single separators: ``2019-3000-1200``, ``2019 3000 1200``),
  every 2–4 character window (and the whole run) of each CJK run for names.
  Known vocabulary (university and major names, code labels, dataset headers) is blanked out of
  CJK runs first, so ordinary report text is not mistaken for a name.
- ``pseudonym``: a keyed digest itself (``student_key``, ``visitor_key``, ``helper_key`` are the
  digests of 学号, 走访人, 帮扶责任人): a report printing them prints individual records.

Formats: HTML, CSV, TXT/LOG/MD, JSON and ``.ipynb`` (every string: sources, outputs, metadata;
embedded base64 images are skipped), xlsx/xls (every cell, via python-calamine), Parquet. A file
that cannot be read is a hit of kind ``unreadable``: a file the scanner cannot read is not known
to be clean. A hit never carries the value: only a masked form.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import pii
from helpers.config import data_paths, processed_dir
from helpers.fingerprint_index import FingerprintIndex
from helpers.pii import ID_CHECK, ID_WEIGHTS, PROVINCE_PREFIXES  # noqa: F401  (public names)

KIND_OF_FINGERPRINT = {
    "student_id": "student_id",
    "name": "name",
    "visitor": "name",
    "helper": "name",
    "id_number": "id_number",
    "phone": "mobile",
}
KIND_ZH = {
    "id_number": "身份证号",
    "mobile": "手机号码",
    "student_id": "学号",
    "name": "姓名",
    "pseudonym": "个人记录假名键（如 student_key）",
    "unreadable": "无法读取",
}
TEXT_SUFFIXES = {".csv", ".txt", ".log", ".md", ".tsv", ".xml", ".svg", ".css", ".js", ".py"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".ipynb"}
SHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".woff", ".woff2", ".otf",
                   ".ttf", ".pdf", ".gz"}  # fmt: skip
ARCHIVE_SUFFIXES = {".docx", ".zip"}  # read inside: a docx's text, a zip's files

# Each pattern starts with a plain character and looks behind it (much faster than a leading
# look-behind, which the engine would try at every position).
_ID_SCI_RE = re.compile(r"[1-9](?<![\d.][1-9])\.\d{8,16}[Ee]\+?17(?!\d)")
_TOKEN_RE = re.compile(r"[0-9A-Za-z](?:[0-9A-Za-z_-]*[0-9A-Za-z])?")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}][{_CJK}·]*")
_DATA_URI_RE = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]*")
NAME_WINDOWS = (2, 3, 4)
MAX_WHOLE_RUN = 12  # a whole CJK run up to this length is a candidate too (names with ·)
MIN_TOKEN = 4  # shorter letter/digit runs are not matched against 学号 fingerprints


@dataclass(frozen=True)
class Hit:
    """One finding: the file, what kind of value, where; never the value itself."""

    file: str
    kind: str  # id_number / mobile / student_id / name / pseudonym / unreadable
    location: str  # "line 12", "sheet 汇总 row 3 col B", "cells[4].outputs[0].text line 2"
    masked: str = ""  # e.g. "350***************", "138********", "**"
    rule: str = ""  # "pattern" (regex + check digit) or "fingerprint" (keyed digest match)

    def __str__(self) -> str:
        zh = KIND_ZH.get(self.kind, self.kind)
        extra = f" [{self.masked}]" if self.masked else ""
        return f"{self.file}: {self.location}: {zh} ({self.kind}, {self.rule}){extra}"


_HEX = frozenset("0123456789abcdefABCDEF")
MIN_HASH = 16  # hex runs at least this long are digests (sha256, uuids), not numbers


def _in_hash(text: str, m: re.Match | tuple[int, int]) -> bool:
    """The match (or (start, end) span) lies inside a long hexadecimal token (e.g. a file hash in
    a manifest): a hex letter touches it and the whole hex run is at least ``MIN_HASH``
    characters."""
    start, end = (m.start(), m.end()) if isinstance(m, re.Match) else m
    touching = text[start - 1 : start] + text[end : end + 1]
    if not any(c in _HEX and c.isalpha() for c in touching):
        return False
    lo, hi = start, end
    while lo > 0 and text[lo - 1] in _HEX:
        lo -= 1
    while hi < len(text) and text[hi] in _HEX:
        hi += 1
    return hi - lo >= MIN_HASH and all(c in _HEX for c in text[start:end])


def mask(value: str, kind: str) -> str:
    """A masked form that cannot give the value back."""
    if kind in ("id_number", "mobile"):
        digits = re.sub(r"\D", "", value)
        return digits[:3] + "*" * max(len(digits) - 3, 0)
    return "*" * len(value)


def id_check_ok(candidates: Iterable[str]) -> np.ndarray:
    """Vectorised GB 11643 check of 18-character candidates: a province prefix, a birth date
    (YYYYMMDD, 1900–2099) and the right check character (:func:`helpers.pii.id_number_ok`)."""
    return pii.id_number_ok(candidates)


# --- keyed digests -----------------------------------------------------------------------------
def normalise(value: str) -> str:
    """The normalisation the pseudonym key is applied to: NFKC, stripped, upper-cased."""
    return unicodedata.normalize("NFKC", value).strip().upper()


class _Digester:
    """HMAC-SHA256 hex digests of many candidates, cached (report text repeats a lot)."""

    def __init__(self, key: bytes):
        self._base = hmac.new(key, digestmod=hashlib.sha256)
        self._cache: dict[str, str] = {}

    def many(self, values: Iterable[str]) -> dict[str, str]:
        out = {}
        cache = self._cache
        for v in values:
            d = cache.get(v)
            if d is None:
                h = self._base.copy()
                h.update(normalise(v).encode("utf-8"))
                d = cache[v] = h.hexdigest()
            out[v] = d
        return out


# --- reading files into text segments -----------------------------------------------------
@dataclass
class _Segment:
    where: str  # location prefix ("" for a whole text file)
    text: str
    sheet: bool = False  # one line per row, cells separated by \t


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _json_strings(obj, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, list):
        if obj and all(isinstance(x, str) for x in obj):  # notebook sources/outputs: lines
            yield path, "".join(obj)
        else:
            for i, x in enumerate(obj):
                yield from _json_strings(x, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, str) and k.startswith("image/") and k != "image/svg+xml":
                continue  # base64 pixels: no text to scan
            if k == "application/pdf":
                continue
            yield (path or "(top)"), str(k)  # keys can leak too
            yield from _json_strings(v, f"{path}.{k}" if path else str(k))
    elif obj is not None and not isinstance(obj, bool):
        yield path, str(obj)


def _cell_text(v) -> str:
    """A cell as text on one line (line breaks and tabs inside a cell would shift locations)."""
    if v is None:
        return ""
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e19:
            return str(int(v))
        return repr(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v).replace("\r", " ").replace("\n", " ").replace("\t", " ")


def _archive_segments(path: Path, data: bytes | None = None) -> list[_Segment]:
    """Text of a Word file (every paragraph and table cell of the body, headers, footers,
    notes and comments, one paragraph a line, and the document properties) or of every file in
    a zip (each read as if it stood alone; located as ``<member> <location>``)."""
    import xml.etree.ElementTree as ET
    import zipfile

    source = io.BytesIO(data) if data is not None else path
    with zipfile.ZipFile(source) as zf:
        if path.suffix.lower() == ".docx":
            w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
            segs = []
            for name in zf.namelist():
                if not name.endswith(".xml") or name.startswith("[Content_Types]"):
                    continue
                root = ET.fromstring(zf.read(name))
                if name.startswith("word/"):
                    lines = [
                        "".join(t.text or "" for t in p.iter(f"{w}t"))
                        + "".join(t.text or "" for t in p.iter(f"{w}instrText"))
                        for p in root.iter(f"{w}p")
                    ]
                else:  # docProps: author, title, ...
                    lines = [e.text for e in root.iter() if e.text and e.text.strip()]
                segs.append(_Segment(name, "\n".join(lines)))
            return segs
        segs = []
        for info in zf.infolist():
            if info.is_dir():
                continue
            member = Path(info.filename)
            if member.suffix.lower() in BINARY_SUFFIXES:
                continue
            for seg in _segments(member, zf.read(info)):  # read as if it stood alone
                where = f"{info.filename} {seg.where}".strip()
                segs.append(_Segment(where, seg.text, seg.sheet))
        return segs


def _segments(path: Path, data: bytes | str | None = None) -> list[_Segment]:
    """The text segments of a file, read from ``path`` or, when given, from ``data`` (the file's
    bytes, or its text as written): the suffix of ``path`` says how to read it."""
    suffix = path.suffix.lower()
    if isinstance(data, str) and suffix not in TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES:
        data = data.encode("utf-8")
    if suffix in ARCHIVE_SUFFIXES:
        return _archive_segments(path, data)
    if suffix in SHEET_SUFFIXES:
        from python_calamine import CalamineWorkbook

        if data is None:
            wb = CalamineWorkbook.from_path(str(path))
        else:
            wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        segs = []
        for name in wb.sheet_names:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            text = "\n".join("\t".join(_cell_text(v) for v in row) for row in rows)
            segs.append(_Segment(f"sheet {name}", text, sheet=True))
        return segs
    if suffix == ".parquet":
        frame = pd.read_parquet(path if data is None else io.BytesIO(data))
        text = frame.astype(str).replace(r"[\r\n\t]", " ", regex=True).to_csv(index=False, sep="\t")
        return [_Segment("", text, sheet=True)]
    if isinstance(data, str):
        text = data.removeprefix("\ufeff")  # as _decode reads the same text written as UTF-8
    else:
        text = _decode(path.read_bytes() if data is None else data)
    if suffix in JSON_SUFFIXES:
        obj = json.loads(text)
        segs = []
        for where, s in _json_strings(obj):
            if "<" in s and ">" in s:
                s = html.unescape(_DATA_URI_RE.sub(" ", s))
            segs.append(_Segment(where, s))
        return segs
    if suffix in HTML_SUFFIXES or (suffix not in TEXT_SUFFIXES and "<html" in text[:2000].lower()):
        text = html.unescape(_DATA_URI_RE.sub(" ", text))
    return [_Segment("", text)]


def _location(seg: _Segment, offset: int) -> str:
    line = seg.text.count("\n", 0, offset) + 1
    if seg.sheet:
        start = seg.text.rfind("\n", 0, offset) + 1
        col = seg.text.count("\t", start, offset)
        where = f"{seg.where} " if seg.where else ""
        return f"{where}row {line} col {_col_letter(col)}"
    if seg.where:
        return f"{seg.where} line {line}"
    return f"line {line}"


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


# --- vocabulary blanked out of CJK runs ---------------------------------------------------
@lru_cache(maxsize=1)
def _builtin_vocabulary() -> frozenset[str]:
    from helpers import codes, datasets
    from helpers.config import REFERENCE_DIR

    words: set[str] = set()
    words |= {v[0] for v in codes.DESTINATIONS.values()}
    words |= set(codes.SUB_DESTINATIONS.values()) | set(codes.DESTINATION_LABELS)
    words |= set(codes.BUCKETS_2024) | set(codes.BUCKETS_2021)
    words |= set(codes.GROUP_COLUMNS) | set(codes.GROUP_ALIASES)
    words |= set(codes.UNDERGRAD_CATEGORIES.values()) | set(codes.VOCATIONAL_CATEGORIES.values())
    words |= set(codes.ACTIVITY_TYPES) | set(codes.VISITOR_ROLES) | set(codes.HELP_TYPES)
    for ds in datasets.BY_NAME.values():
        words.add(ds.zh)
        words |= {c.zh for c in ds.columns}
    for csv in REFERENCE_DIR.glob("*.csv"):
        frame = pd.read_csv(csv, dtype=str, encoding="utf-8-sig")
        for col in frame.columns:
            if "名称" in col or "名单" in col or col in ("所在地", "学科门类", "主管部门"):
                words |= set(frame[col].dropna().astype(str))
    return frozenset(w for w in (normalise(x) for x in words) if len(w) >= 2)


def vocabulary(data_dir: Path | None = None, as_of: dt.date | None = None) -> frozenset[str]:
    """Words that are report vocabulary, not names (built in + processed reference tables)."""
    words = set(_builtin_vocabulary())
    if data_dir is not None and as_of is not None:
        proc = processed_dir(data_dir, as_of)
        for name, cols in (("universities", ["university_name", "city"]),
                           ("majors", ["major_name", "discipline_name"])):  # fmt: skip
            p = proc / f"{name}.parquet"
            if p.exists():
                frame = pd.read_parquet(p, columns=cols)
                for c in cols:
                    words |= {normalise(x) for x in frame[c].dropna().astype(str)}
    return frozenset(w for w in words if len(w) >= 2)


def _blanker(words: frozenset[str]):
    cjk_words = sorted((w for w in words if _CJK_RE.search(w)), key=len, reverse=True)
    if not cjk_words:
        return lambda s: s
    rx = re.compile("|".join(re.escape(w) for w in cjk_words))
    return lambda s: rx.sub(lambda m: " " * len(m.group()), s)


def _name_candidates(run: str) -> set[str]:
    """Whole runs, and windows of 3+ characters inside longer runs. A 2-character name is matched
    only as a whole run (a table cell, a text between punctuation): as a window inside ordinary
    prose it collides with common words (其余文件 contains the name 余文) and would withhold runs."""
    out = set()
    for part in run.split():
        if len(part) <= MAX_WHOLE_RUN:
            out.add(part)
        for w in NAME_WINDOWS:
            if w >= 3:
                out.update(part[i : i + w] for i in range(len(part) - w + 1))
    return {c for c in out if len(c) >= 2}


# --- scanning ------------------------------------------------------------------------------
class Scanner:
    """Reusable scanner: fingerprints, key and vocabulary prepared once, digests cached."""

    def __init__(
        self,
        fingerprints: pd.DataFrame | FingerprintIndex | None = None,
        key: bytes | None = None,
        vocabulary_words: Iterable[str] | None = None,
    ):
        self.lookup = FingerprintIndex.empty()
        if fingerprints is not None and len(fingerprints):
            if key is None:
                raise ValueError("scanner: fingerprints given without the pseudonym key")
            if isinstance(fingerprints, FingerprintIndex):
                self.lookup = fingerprints
            else:
                missing = {"kind", "digest"} - set(fingerprints.columns)
                if missing:
                    raise ValueError(f"scanner: fingerprints lack column(s) {sorted(missing)}")
                self.lookup = FingerprintIndex.from_frame(fingerprints, KIND_OF_FINGERPRINT)
        self.digester = _Digester(key) if key is not None else None
        words = _builtin_vocabulary() if vocabulary_words is None else frozenset(vocabulary_words)
        self._blank = _blanker(words)
        self._blank_cache: dict[str, str] = {}

    def scan_file(self, path: Path, root: Path | None = None) -> list[Hit]:
        """Hits in one file; ``root`` makes the reported file name relative to it."""
        name = path.relative_to(root).as_posix() if root is not None else str(path)
        return self._scan(name, path, None)

    def scan_content(self, name: str, data: bytes | str) -> list[Hit]:
        """Hits in a file's content as it is (being) written, without reading it back: ``data`` is
        its bytes or, for text kinds (HTML, notebooks, CSV, JSON), the text written as UTF-8.
        ``name`` is the file name the hits report; its suffix says how to read the content.
        Exactly the hits :meth:`scan_file` finds in the file holding that content."""
        return self._scan(name, Path(name), data)

    def _scan(self, name: str, path: Path, data: bytes | str | None) -> list[Hit]:
        if path.suffix.lower() in BINARY_SUFFIXES:
            return []
        try:
            segs = _segments(path, data)
        except Exception as exc:  # a file we cannot read is not known to be clean
            return [Hit(name, "unreadable", f"{type(exc).__name__}", "", "read")]
        hits: list[Hit] = []
        for seg in segs:
            text = unicodedata.normalize("NFKC", seg.text)
            seg = _Segment(seg.where, text, seg.sheet)
            hits += self._patterns(name, seg)
            if self.lookup:
                hits += self._fingerprints(name, seg)
        # one hit per (kind, location, masked)
        seen, unique = set(), []
        for h in hits:
            k = (h.kind, h.location, h.masked)
            if k not in seen:
                seen.add(k)
                unique.append(h)
        return unique

    @staticmethod
    def _pattern_spans(text: str) -> list[tuple[int, int, str, str, str]]:
        """(start, end, kind, mask kind, value) of every ID and mobile number in ``text``."""
        spans = [
            (start, end, "id_number", "id_number", v)
            for start, end, v in pii.id_matches(text)
            if not _in_hash(text, (start, end))
        ]
        spans += [
            (*m.span(), "id_number", "id_number", m.group()) for m in _ID_SCI_RE.finditer(text)
        ]
        spans += [
            (start, end, "mobile", "mobile", v)
            for start, end, v in pii.mobile_matches(text)
            if not _in_hash(text, (start, end))
        ]
        return spans

    def _patterns(self, name: str, seg: _Segment) -> list[Hit]:
        return _hits(name, seg, self._pattern_spans(seg.text), "pattern")

    def _blanked(self, run: str) -> str:
        b = self._blank_cache.get(run)
        if b is None:
            b = self._blank_cache[run] = self._blank(run)
        return b

    def _fingerprints(self, name: str, seg: _Segment) -> list[Hit]:
        return _hits(name, seg, self._fingerprint_spans(seg.text), "fingerprint")

    def _fingerprint_spans(self, text: str) -> list[tuple[int, int, str, str, str]]:
        """(start, end, kind, mask kind, value) of every span whose keyed digest is a fingerprint of the
        inputs: 学号 (also written in groups), pseudonyms, names."""
        lookup = self.lookup
        digest = self.digester.many
        spans: list[tuple[int, int, str, str, str]] = []
        # identifiers: letter/digit runs
        tokens = {t for t in _TOKEN_RE.findall(text) if len(t) >= MIN_TOKEN}
        bad_tokens = lookup.kinds_of(digest(tokens))
        # a pseudonym itself (student_key = the digest of a 学号): a frame of individual records
        bad_tokens |= {t: "pseudonym" for t in tokens if len(t) == 64 and t.lower() in lookup}
        # a 学号 written in groups (2019-3000-1200, 2019 3000 1200): its separator-free forms
        joined = pii.joined_candidates(text)
        bad_joined = lookup.kinds_of(digest(joined))
        if bad_joined:
            for m in pii.JOINED_RE.finditer(text):
                forms = pii.joined_candidates(m.group())
                for kind in {bad_joined[f] for f in forms if f in bad_joined}:
                    spans.append((*m.span(), kind, kind, m.group()))
        if bad_tokens:
            for m in _TOKEN_RE.finditer(text):
                kind = bad_tokens.get(m.group())
                if kind:
                    spans.append((*m.span(), kind, kind, m.group()))
        # names: CJK runs, vocabulary blanked, 2-4 character windows
        runs = set(_CJK_RE.findall(text))
        if not runs:
            return spans
        cands_of = {r: _name_candidates(self._blanked(r)) for r in runs}
        all_cands = set().union(*cands_of.values())
        bad = lookup.kinds_of(digest(all_cands))
        if bad:
            bad_runs = {
                r: [c for c in cs if c in bad] for r, cs in cands_of.items() if cs & bad.keys()
            }
            for m in _CJK_RE.finditer(text):
                for c in bad_runs.get(m.group()) or ():
                    off = m.start() + m.group().find(c)
                    spans.append((off, off + len(c), bad[c], "name", c))
        return spans

    def redact(self, text: str, placeholder: str = pii.REDACTED) -> str:
        """``text`` with everything the scan would find replaced by ``placeholder``: for names
        that are shown (file and sheet names) and must not withhold a run, as the scan would."""
        t = unicodedata.normalize("NFKC", str(text))
        spans = self._pattern_spans(t) + (self._fingerprint_spans(t) if self.lookup else [])
        if not spans:
            return text
        out, pos = [], 0
        for start, end, *_ in sorted(spans):
            if end <= pos:  # inside a span already replaced
                continue
            out += [t[pos:start], placeholder] if start >= pos else []  # overlapping: extend
            pos = end
        return "".join(out) + t[pos:]


def _hits(name: str, seg: _Segment, spans, rule: str) -> list[Hit]:
    return [
        Hit(name, kind, _location(seg, start), mask(value, how), rule)
        for start, _end, kind, how, value in spans
    ]


def scan_paths(
    paths: Iterable[Path],
    fingerprints: pd.DataFrame | None = None,
    key: bytes | None = None,
    vocabulary_words: Iterable[str] | None = None,
    root: Path | None = None,
    scanner: Scanner | None = None,
) -> list[Hit]:
    """Scan files (folders are walked) for ID numbers, mobiles and fingerprinted values.

    ``root``: name files relative to this folder in the hits (default: the paths as given).
    ``scanner``: a prepared :class:`Scanner` instead of fingerprints, key and vocabulary."""
    if scanner is None:
        scanner = Scanner(fingerprints, key, vocabulary_words)
    hits: list[Hit] = []
    for p in _walk(paths):
        hits += scanner.scan_file(p, root)
    return hits


def _walk(paths: Iterable[Path]) -> Iterator[Path]:
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.is_file())
        elif p.is_file():
            yield p


def _fingerprint_files(data_dir: Path, as_of: dt.date) -> list[Path]:
    """Every ``pii_fingerprints.parquet`` of processed folders dated ``<= as_of`` (reports show
    earlier snapshots and cohorts too). Raises when the period's own file is missing: without it
    names and 学号 cannot be checked."""
    proc = data_paths(data_dir)[1]
    own = processed_dir(data_dir, as_of) / "pii_fingerprints.parquet"
    if not own.exists():
        raise FileNotFoundError(
            f"privacy scan: {own} is missing (written by `placement ingest`); "
            "without it names and 学号 cannot be checked"
        )
    return sorted(
        f
        for f in proc.glob("*/pii_fingerprints.parquet")
        if (d := _folder_date(f.parent.name)) is not None and d <= as_of
    )


def load_fingerprints(data_dir: Path, as_of: dt.date) -> pd.DataFrame:
    """The (kind, digest) pairs of :func:`_fingerprint_files`, duplicates dropped."""
    frames = [
        pd.read_parquet(f, columns=["kind", "digest"]) for f in _fingerprint_files(data_dir, as_of)
    ]
    return pd.concat(frames, ignore_index=True).drop_duplicates()


def fingerprint_index(data_dir: Path, as_of: dt.date) -> FingerprintIndex:
    """The period's fingerprints as the scanner looks them up (read as Arrow: a province's six
    million rows never become Python strings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [
        pq.read_table(f, columns=["kind", "digest"]) for f in _fingerprint_files(data_dir, as_of)
    ]
    return FingerprintIndex.from_arrow(pa.concat_tables(tables), KIND_OF_FINGERPRINT)


def _folder_date(name: str) -> dt.date | None:
    """The date a ``processed/<YYYY-MM-DD>`` folder stands for (None for any other folder)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", name):
        return None
    try:
        return dt.date.fromisoformat(name)
    except ValueError:
        return None


def check_key(data_dir: Path, as_of: dt.date, key: bytes) -> None:
    """Refuse to scan with a key other than the one the period's fingerprints were made with
    (the processed manifest's ``pseudonym_key_fingerprint``): no digest would ever match."""
    manifest = processed_dir(data_dir, as_of) / "manifest.json"
    if not manifest.exists():
        return
    recorded = json.loads(manifest.read_text(encoding="utf-8")).get("pseudonym_key_fingerprint")
    if not recorded:
        return
    from helpers.ingest.pseudonym import key_fingerprint

    current = key_fingerprint(key)
    if current != recorded:
        raise ValueError(
            f"privacy scan: {manifest.parent} was pseudonymised with another key (fingerprint "
            f"{recorded}, current key {current}); names and 学号 cannot be checked — "
            "restore the key or re-ingest (docs/privacy.md §3)"
        )


def scan_run(report_folder: Path, data_dir: Path, key: bytes | None = None) -> list[Hit]:
    """Scan every file under ``reports/<as_of>`` against the period's fingerprints.

    ``as_of`` is the folder's name; ``key`` defaults to ``helpers.ingest.pseudonym.load_key()``
    and must be the key the period was ingested with (:func:`check_key`). An empty list means
    clean. Hits name files relative to ``report_folder`` (e.g. ``notebooks/circular.ipynb``).
    """
    report_folder = Path(report_folder)
    m = re.match(r"\d{4}-\d{2}-\d{2}", report_folder.name)
    as_of = _folder_date(m.group()) if m else None
    if as_of is None:
        raise ValueError(f"privacy scan: {report_folder} is not a reports/<YYYY-MM-DD> folder")
    scanner = period_scanner(data_dir, as_of, key)
    return scan_paths([report_folder], root=report_folder, scanner=scanner)


def period_scanner(data_dir: Path, as_of: dt.date, key: bytes | None = None) -> Scanner:
    """The scanner of a period: its fingerprints, the pseudonym key it was ingested with
    (``key`` defaults to ``helpers.ingest.pseudonym.load_key()``) and its vocabulary.

    Made once per process for the same inputs (the runner asks for it to scan and to redact
    names; its digest caches then serve both): a fingerprint or manifest file that changed
    makes a new one."""
    if key is None:
        from helpers.ingest.pseudonym import load_key

        key = load_key()
    files = [*_fingerprint_files(data_dir, as_of), processed_dir(data_dir, as_of) / "manifest.json"]
    stamps = tuple((str(f.resolve()), *_stat(f)) for f in files)
    return _period_scanner(Path(data_dir).resolve(), as_of, key, stamps)


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


@lru_cache(maxsize=2)
def _period_scanner(data_dir: Path, as_of: dt.date, key: bytes, stamps: tuple) -> Scanner:
    check_key(data_dir, as_of, key)
    return Scanner(fingerprint_index(data_dir, as_of), key, vocabulary(data_dir, as_of))


def format_hits(hits: list[Hit], limit: int = 20) -> str:
    """A short bilingual summary for the CLI (never the values)."""
    if not hits:
        return "隐私扫描：未发现个人信息 / privacy scan: no personal data found"
    files = sorted({h.file for h in hits})
    lines = [
        f"隐私扫描发现 {len(hits)} 处疑似个人信息，涉及 {len(files)} 个文件 / "
        f"privacy scan: {len(hits)} hit(s) in {len(files)} file(s):"
    ]
    lines += [f"  {h}" for h in hits[:limit]]
    if len(hits) > limit:
        lines.append(f"  …… 另有 {len(hits) - limit} 处 / {len(hits) - limit} more")
    return "\n".join(lines)
