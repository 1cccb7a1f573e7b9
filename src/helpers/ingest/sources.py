"""The raw inputs and their state, one source for the ingest and the runner: which raw files a
reporting date depends on (:func:`raw_files`, :func:`discover`), their content hashes (each file
hashed once per process: :func:`sha256_file`), whether the processed folders are up to date
(:func:`stale_targets`: the one rule, which the ingest applies and the runner asks through
:func:`ingest_status`, with a reason for its log; :func:`needs_ingest`), and the package versions
recorded in manifests.

Layout: ``data/raw/<YYYY-MM-DD>/`` snapshot folders and ``data/raw/reference/``; hidden files,
Excel lock files (``~$…``), editor and copy leftovers (``*.tmp``, ``*.lock``, ``*.swp``) and
``Thumbs.db``/``desktop.ini`` are not inputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from helpers.config import PACKAGE_DIR, REFERENCE_DIR, data_paths, parse_as_of
from helpers.datasets import INPUT_DATASETS, REFERENCE_DATASETS
from helpers.ingest import limits as read_limits
from helpers.ingest.readers import dataset_for_file
from helpers.ingest.tasks import FileTask

INGEST_VERSION = 1
SHIPPED_UNIVERSITIES = REFERENCE_DIR / "fujian_universities_moe2018.csv"
SHIPPED_MAJORS = REFERENCE_DIR / "majors.csv"
SNAPSHOT = tuple(d.name for d in INPUT_DATASETS if d.kind == "snapshot")
ACTIVITY = tuple(d.name for d in INPUT_DATASETS if d.kind == "activity")
REFERENCE = tuple(d.name for d in REFERENCE_DATASETS)
NOT_INPUTS = re.compile(r"^(\.|~\$)|\.(tmp|lock|swp)$|^Thumbs\.db$|^desktop\.ini$", re.I)
MANIFEST_NAME = "manifest.json"


# --- raw files -------------------------------------------------------------------------------
def folder_date(name: str) -> dt.date | None:
    """The date of a snapshot folder name (YYYY-MM-DD), else None."""
    try:
        return dt.date.fromisoformat(name)
    except ValueError:
        return None


def is_input(path: Path, root: Path) -> bool:
    return not any(NOT_INPUTS.search(p) for p in path.relative_to(root).parts)


def raw_folder_names(raw: Path) -> list[str]:
    """Names of every snapshot folder present in raw/ (whatever the reporting date)."""
    return sorted(p.name for p in raw.iterdir() if p.is_dir() and folder_date(p.name))


def folder_files(folder: Path, root: Path) -> list[Path]:
    """Every input file under ``folder`` (sub-folders too), sorted; ``root``: data/raw."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_input(p, root))


def raw_files(raw: Path, as_of: dt.date) -> list[Path]:
    """Raw files a reporting date depends on: ``raw/reference/**`` and ``raw/<d>/**``, d <= as_of
    (recognised as a dataset or not)."""
    out: list[Path] = []
    for folder in sorted(raw.iterdir()) if raw.is_dir() else ():
        if not folder.is_dir():
            continue
        d = folder_date(folder.name)
        if folder.name == "reference" or (d is not None and d <= as_of):
            out += folder_files(folder, raw)
    return out


_HASHES: dict[tuple, str] = {}
# a file written this recently may be written again within the clock's tick, unseen by its
# times: its hash is not remembered (git's "racily clean" entries, the same problem)
_RACY_NS = 2_000_000_000


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's content. Remembered for the life of the process by path, size,
    inode and change times, so that a run (the runner's input list, then the ingest) reads each
    raw file once; any write changes the times and the file is hashed again. Files changed in
    the last two seconds are always read."""
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
    digest = _HASHES.get(key)
    if digest is None:
        digest = _read_sha256(path)
        if time.time_ns() - st.st_mtime_ns > _RACY_NS:
            _HASHES[key] = digest
    return digest


def _read_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def package_versions(names: Iterable[str], missing: str) -> dict[str, str]:
    """Python's and each package's installed version (``missing`` when not installed)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = missing
    return out


# --- what the ingest reads -------------------------------------------------------------------
def _rel(path: Path, raw: Path) -> str:
    try:
        return path.relative_to(raw).as_posix()
    except ValueError:
        return "helpers/" + path.relative_to(PACKAGE_DIR).as_posix()


def shipped_source(used: bool) -> str:
    """Where the universities list came from, for the processed manifest."""
    return "shipped: " + _rel(SHIPPED_UNIVERSITIES, Path("/")) if used else "raw/reference"


def _tasks(files: list[Path], raw: Path, datasets, folder: str | None, ignored: list[str]):
    out = []
    for p in files:
        ds = dataset_for_file(p, datasets)
        if ds is None:
            ignored.append(_rel(p, raw))
        else:
            out.append(FileTask(str(p), _rel(p, raw), ds.name, folder))
    return out


def discover(raw: Path, as_of: dt.date) -> Inputs:
    """Raw folders <= as_of, their input files by dataset, and the reference files."""
    folders: list[dt.date] = []
    tasks: dict[str, list[FileTask]] = {}
    ignored: list[str] = []
    for child in sorted(raw.iterdir()) if raw.is_dir() else []:
        if not is_input(child, raw) or child.name == "reference":
            continue
        d = folder_date(child.name) if child.is_dir() else None
        if d is None:
            ignored.append(child.name + ("/" if child.is_dir() else ""))
        elif d <= as_of:
            folders.append(d)
            files = folder_files(child, raw)
            tasks[d.isoformat()] = _tasks(files, raw, INPUT_DATASETS, d.isoformat(), ignored)
    ref = _tasks(folder_files(raw / "reference", raw), raw, REFERENCE_DATASETS, None, ignored)
    shipped = not any(t.dataset == "universities" for t in ref)
    if shipped:
        rel = _rel(SHIPPED_UNIVERSITIES, raw)
        ref.append(FileTask(str(SHIPPED_UNIVERSITIES), rel, "universities", None))
    if SHIPPED_MAJORS.exists():
        ref.insert(0, FileTask(str(SHIPPED_MAJORS), _rel(SHIPPED_MAJORS, raw), "majors", None))
    tasks["reference"] = ref
    return Inputs(raw, sorted(folders), tasks, ignored, shipped)


@dataclass
class Inputs:
    raw: Path
    folders: list[dt.date]
    tasks: dict[str, list[FileTask]]  # folder ISO (or "reference") -> tasks
    ignored: list[str]  # files and folders that are not inputs
    shipped_universities: bool  # the fallback list is used


@dataclass
class Target:
    """One processed folder to write and the raw folders it draws on."""

    date: dt.date
    snapshot_folders: dict[str, str | None]  # graduates / platform -> folder ISO
    activity_folders: list[str]

    def tasks(self, inputs: Inputs) -> list[FileTask]:
        out = list(inputs.tasks["reference"])
        for name, folder in self.snapshot_folders.items():
            if folder:
                out += [t for t in inputs.tasks[folder] if t.dataset == name]
        for folder in self.activity_folders:
            out += [t for t in inputs.tasks[folder] if t.dataset in ACTIVITY]
        return out


def plan_targets(inputs: Inputs, as_of: dt.date) -> list[Target]:
    """Every raw folder <= as_of, and as_of itself."""
    dates = list(inputs.folders)
    if as_of not in dates:
        dates.append(as_of)
    targets = []
    for date in sorted(dates):
        upto = [f.isoformat() for f in inputs.folders if f <= date]
        snap = {}
        for name in SNAPSHOT:
            having = [f for f in upto if any(t.dataset == name for t in inputs.tasks[f])]
            snap[name] = having[-1] if having else None
        targets.append(Target(date, snap, upto))
    return targets


_CODE_HASH: str | None = None


def code_hash() -> str:
    """Digest of the code and tables that shape processed data (a change re-ingests)."""
    global _CODE_HASH
    if _CODE_HASH is None:
        h = hashlib.sha256(str(INGEST_VERSION).encode())
        paths = sorted((PACKAGE_DIR / "ingest").glob("*.py"))
        paths += [PACKAGE_DIR / n for n in ("codes.py", "datasets.py", "config.py")]
        paths += sorted((PACKAGE_DIR / "policy").glob("*.yaml"))
        for p in paths:
            h.update(p.name.encode())
            h.update(p.read_bytes())
        _CODE_HASH = h.hexdigest()[:16]
    return _CODE_HASH


def inputs_digest(tasks: list[FileTask], hashes: dict[str, str], fingerprint: str) -> str:
    h = hashlib.sha256()
    h.update(f"{code_hash()}|{fingerprint}".encode())
    # the read limits in force (environment overrides included): a change re-ingests
    h.update(json.dumps(read_limits.current().describe(), sort_keys=True).encode())
    for rel, sha in sorted((t.rel, hashes[t.path]) for t in tasks):
        h.update(f"\n{rel}\t{sha}".encode())
    return h.hexdigest()


def _recorded(folder: Path) -> dict | None:
    """A processed folder's manifest (None: missing or unreadable)."""
    try:
        doc = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


# --- staleness -------------------------------------------------------------------------------
@dataclass
class Staleness:
    """Which processed folders are up to date, and which must be (re)built with which digest."""

    fresh: list[dt.date]
    stale: list[tuple[Target, str]]  # (target, its inputs digest)
    hashes: dict[str, str]  # path -> sha256 of every file the targets read
    why: dict[dt.date, str] = field(default_factory=dict)  # stale date -> reason (Chinese)


def stale_targets(
    inputs: Inputs, targets: list[Target], processed: Path, fingerprint: str
) -> Staleness:
    """A processed folder is up to date when its manifest records the same inputs digest (file
    hashes, ingest code, pseudonym key fingerprint, read limits): the one rule, for the ingest
    and the runner alike."""
    hashes: dict[str, str] = {}
    out = Staleness([], [], hashes)
    for target in targets:
        tasks = target.tasks(inputs)
        for t in tasks:
            if t.path not in hashes:
                hashes[t.path] = sha256_file(t.path)
        digest = inputs_digest(tasks, hashes, fingerprint)
        folder = processed / target.date.isoformat()
        recorded = _recorded(folder)
        if recorded is not None and recorded.get("inputs_digest") == digest:
            out.fresh.append(target.date)
        else:
            out.stale.append((target, digest))
            now = {t.rel: hashes[t.path] for t in tasks}
            out.why[target.date] = stale_reason(folder, recorded, now, fingerprint)
    return out


def stale_reason(folder: Path, recorded: dict | None, now: dict[str, str], fingerprint: str) -> str:
    """Why a processed folder is stale, in Chinese for the log: it or its manifest is missing or
    unreadable, input files are new, changed or gone (counted, and their raw folders named: a
    file name may carry a sender's name), the ingest code, the key or the read limits changed.
    ``recorded``: the folder's manifest; ``now``: its inputs today, ``{path under raw/: sha256}``."""
    if recorded is None:
        if (folder / MANIFEST_NAME).exists():
            return "处理后数据的清单 manifest.json 无法读取"
        return "尚无处理后数据"
    files = {
        f["path"]: f.get("sha256")
        for f in recorded.get("files") or []
        if isinstance(f, dict) and isinstance(f.get("path"), str)
    }
    changes = {
        "新增": [p for p in now if p not in files],
        "修改": [p for p in now if p in files and files[p] != now[p]],
        "删除": [p for p in files if p not in now],
    }
    parts = []
    moved = sorted(p for paths in changes.values() for p in paths)
    if moved:
        counts = "、".join(f"{kind} {len(paths)} 个" for kind, paths in changes.items() if paths)
        parts.append(f"输入文件有变动（{counts}，在 {'、'.join(_folders_of(moved))}）")
    if recorded.get("code_hash") != code_hash():
        parts.append("入库程序或代码表已更新")
    if recorded.get("pseudonym_key_fingerprint") != fingerprint:
        parts.append("假名化密钥已更换")
    limits = json.loads(json.dumps(read_limits.current().describe()))
    if recorded.get("read_limits") != limits:
        parts.append("读取限制已更改")
    return "，".join(parts) or "输入摘要与记录不一致"


def _folders_of(paths: list[str]) -> list[str]:
    """The raw folders (or the shipped tables) the paths are in, in order, each once; only
    names of the raw layout are repeated (a manifest is read as untrusted input)."""
    return list(dict.fromkeys(_folder_label(p.split("/", 1)[0]) for p in paths))


def _folder_label(head: str) -> str:
    if head == "helpers":
        return "内置参照表"
    return head if head == "reference" or folder_date(head) else "其他位置"


@dataclass(frozen=True)
class IngestStatus:
    """Whether ``ingest(as_of)`` must run before the reports, and why (Chinese, for the log)."""

    needed: bool
    reason: str
    raw: bool = True  # raw snapshot folders exist (False: processed data used as it is)


def ingest_status(as_of: dt.date | str, data_dir: str | Path) -> IngestStatus:
    """The ingest's own rule (:func:`stale_targets`) over every processed folder ``ingest(as_of)``
    maintains, with the reason. Without any raw snapshot folder up to ``as_of`` there is nothing
    to ingest: processed data copied in (a department that receives processed data only) is used
    as it is; with neither, ingest is needed (and says what is missing)."""
    from helpers.ingest.pseudonym import key_fingerprint, load_key

    as_of = parse_as_of(as_of)
    raw, processed = data_paths(data_dir)
    inputs = discover(raw, as_of)
    if not inputs.folders:
        here = processed / as_of.isoformat() / MANIFEST_NAME
        if here.exists():
            return IngestStatus(
                False, f"没有 {as_of} 及以前的原始数据，使用已有的处理后数据", False
            )
        return IngestStatus(True, f"尚无 {as_of} 的原始数据和处理后数据", False)
    fp = key_fingerprint(load_key())
    state = stale_targets(inputs, plan_targets(inputs, as_of), processed, fp)
    if not state.stale:
        return IngestStatus(False, "处理后数据已是最新")
    by_reason: dict[str, list[str]] = {}
    for date, why in state.why.items():
        by_reason.setdefault(why, []).append(date.isoformat())
    return IngestStatus(True, "；".join(f"{'、'.join(d)}：{w}" for w, d in by_reason.items()))


def needs_ingest(as_of: dt.date | str, data_dir: str | Path) -> bool:
    """True when some processed folder that ``ingest(as_of)`` maintains is missing or stale
    (:func:`ingest_status` without the reason)."""
    return ingest_status(as_of, data_dir).needed
