"""Which notebooks form a period run, and where their outputs go in ``reports/<as_of>/``.

A spec is included only when its notebook exists, so a run works while notebooks are still being
written. A university's report joins the executed university-scope notebooks, in catalog order,
into one page: ``universities/<code>-<name>.html``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from helpers.config import PROJECT_ROOT

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"

PROVINCE = "province"
UNIVERSITY = "university"


@dataclass(frozen=True)
class ReportSpec:
    notebook: str  # file name in the notebooks folder
    title: str  # Chinese title the reader sees
    scope: str  # PROVINCE (one report) or UNIVERSITY (one part of every university's report)
    output: str  # province: HTML file stem; university: name of the part (file names)

    def __post_init__(self) -> None:
        if self.scope not in (PROVINCE, UNIVERSITY):
            raise ValueError(f"scope must be {PROVINCE!r} or {UNIVERSITY!r}, got {self.scope!r}")
        if not self.notebook.endswith(".ipynb"):
            raise ValueError(f"notebook must be an .ipynb file name, got {self.notebook!r}")

    @property
    def stem(self) -> str:
        return self.notebook[: -len(".ipynb")]


# Province reports in the order the index lists them (the circular first: it goes to leadership).
CATALOG: tuple[ReportSpec, ...] = (
    ReportSpec("circular.ipynb", "全省高校毕业生就业工作情况通报", PROVINCE, "情况通报"),
    ReportSpec("placement_rates.ipynb", "全省高校毕业去向落实率分析", PROVINCE, "落实率分析"),
    ReportSpec(
        "major_evidence.ipynb", "学科专业点毕业去向落实情况与调整依据", PROVINCE, "专业点预警"
    ),
    ReportSpec("followup.ipynb", "就业工作任务跟踪督导", PROVINCE, "跟踪督导"),
    ReportSpec("data_quality.ipynb", "本期数据质量报告", PROVINCE, "数据质量"),
    ReportSpec("placement_rates.ipynb", "毕业去向落实情况", UNIVERSITY, "placement_rates"),
    ReportSpec("major_evidence.ipynb", "学科专业点毕业去向落实情况", UNIVERSITY, "major_evidence"),
)


def available(
    catalog: tuple[ReportSpec, ...] | list[ReportSpec] = CATALOG,
    notebooks_dir: Path = NOTEBOOKS_DIR,
) -> list[ReportSpec]:
    """The specs whose notebook exists on disk."""
    return [s for s in catalog if (Path(notebooks_dir) / s.notebook).is_file()]


# A file name may be 255 bytes (ext4, XFS; NTFS and APFS count characters: more room); stems built
# from data keep room for the longest suffix a helper adds to them (``-学科专业点调整通知.docx`` is
# 33 bytes) and for a temporary name's ``.`` + ``.tmp``.
NAME_MAX_BYTES = 255
SUFFIX_ROOM_BYTES = 64
STEM_MAX_BYTES = NAME_MAX_BYTES - SUFFIX_ROOM_BYTES
# path separators, characters Windows forbids, whitespace (incl. U+3000 after NFKC: a space)
_UNSAFE = re.compile(r"[\\/:*?\"<>|\s]+")
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
_CODE = re.compile(r"[0-9A-Za-z]{1,16}")


def _visible(text: str) -> str:
    """NFKC, without control, format (bidi overrides, zero-width), surrogate or private-use
    characters."""
    t = unicodedata.normalize("NFKC", str(text))
    return "".join(ch for ch in t if unicodedata.category(ch)[0] != "C")


def _cut_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form has at most ``limit`` bytes."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def safe_name(text: str, max_bytes: int = STEM_MAX_BYTES) -> str:
    """A file-name-safe form of a (Chinese) name from data: NFKC; no path separators, characters
    Windows forbids, whitespace or control characters; no leading dots or dashes; not a
    reserved device name; at most ``max_bytes`` bytes of UTF-8. A name that had to be cut ends
    in ``~`` and 8 hex digits of its SHA-256, so two long names that share a beginning stay apart.
    """
    cleaned = _UNSAFE.sub("", _visible(text)).lstrip(".-").rstrip(".")
    if cleaned.split(".")[0].lower() in _RESERVED:
        cleaned = "_" + cleaned
    if not cleaned:
        return "未命名"
    if len(cleaned.encode("utf-8")) > max_bytes:
        digest = hashlib.sha256(cleaned.encode("utf-8")).hexdigest()[:8]
        cleaned = _cut_bytes(cleaned, max(max_bytes - 9, 1)).rstrip(".") + "~" + digest
    return cleaned


def safe_code(code: str) -> str:
    """A 院校代码 as a file-name part: kept whole when it is plain letters and digits (ingest
    admits only 5 digits), else made safe like a name."""
    code = str(code).strip()
    return code if _CODE.fullmatch(code) else safe_name(code, 40)


@dataclass(frozen=True)
class Part:
    """One notebook execution of a task."""

    spec: ReportSpec
    university: str | None
    notebook_rel: str  # executed notebook, relative to the run folder
    error_rel: str  # its error page, relative to the run folder


@dataclass(frozen=True)
class Task:
    """One page of the run: a province report, or a university's report (one part per spec)."""

    key: str  # "province:<output>" or "university:<code>"
    scope: str
    title: str
    html_rel: str  # the page, relative to the run folder
    parts: tuple[Part, ...]
    university: str | None = None
    university_name: str | None = None


def province_task(spec: ReportSpec) -> Task:
    part = Part(spec, None, f"notebooks/{spec.stem}.ipynb", f"errors/{spec.stem}.html")
    return Task(
        f"province:{spec.output}", PROVINCE, spec.title, f"{safe_name(spec.output)}.html", (part,)
    )


def university_stem(code: str, name: str) -> str:
    """The file-name stem of everything made for one university: ``<院校代码>-<校名>``, the code
    whole, the name slugged and cut so that the stem is at most :data:`STEM_MAX_BYTES` bytes."""
    code = safe_code(code)
    return f"{code}-{safe_name(name, STEM_MAX_BYTES - len(code.encode('utf-8')) - 1)}"


def university_task(specs: list[ReportSpec], code: str, name: str) -> Task:
    stem = university_stem(code, name)
    c = safe_code(code)
    parts = tuple(
        Part(s, code, f"notebooks/universities/{c}-{s.stem}.ipynb", f"errors/{c}-{s.stem}.html")
        for s in specs
    )
    return Task(
        f"university:{code}",
        UNIVERSITY,
        f"{name}毕业生就业监测报告",
        f"universities/{stem}.html",
        parts,
        code,
        name,
    )


def plan_tasks(
    specs: list[ReportSpec], universities: list[tuple[str, str]], university: str | None = None
) -> list[Task]:
    """Province tasks first (unless one university was asked for), then one task per university."""
    tasks = [] if university else [province_task(s) for s in specs if s.scope == PROVINCE]
    uni_specs = [s for s in specs if s.scope == UNIVERSITY]
    if uni_specs:
        for code, name in universities:
            if university is None or code == university:
                tasks.append(university_task(uni_specs, code, name))
    return tasks
