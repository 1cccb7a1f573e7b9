"""The run manifest (``reports/<as_of>/manifest.json``) and the input fingerprints behind it.

The manifest records what a run was given (parameters, raw input hashes, the processed data
version), what it ran with (git revision, package versions) and what came out (every report with
its status and durations). Schedulers use it: a run with ``only_if_new`` compares today's raw
inputs with those of the last successful run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

from helpers.config import PROJECT_ROOT, data_paths, parse_as_of, processed_dir
from helpers.ingest import sources

MANIFEST_NAME = sources.MANIFEST_NAME
SCHEMA_VERSION = 1
PACKAGES = (
    "helpers",
    "pandas",
    "numpy",
    "pyarrow",
    "matplotlib",
    "papermill",
    "nbconvert",
    "nbclient",
    "nbformat",
    "jupyter_client",
    "ipykernel",
    "jinja2",
    "pydantic",
)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (helpers.ingest.sources: one implementation, each raw file hashed
    once per process, so the ingest a run starts does not hash the raw files again)."""
    return sources.sha256_file(path)


def raw_inputs(data_dir: Path, as_of: dt.date | str) -> dict[str, str]:
    """``{path relative to data/raw (posix): sha256}`` of every raw file behind ``as_of``."""
    raw_dir, _ = data_paths(data_dir)
    return {
        p.relative_to(raw_dir).as_posix(): file_sha256(p)
        for p in sources.raw_files(raw_dir, parse_as_of(as_of))
    }


def _is_raw_path(rel: str) -> bool:
    head = rel.split("/", 1)[0]
    return head == "reference" or sources.folder_date(head) is not None


def recorded_inputs(doc: dict) -> dict[str, str | None]:
    """Raw files a processed manifest says it read: ``{path relative to raw/: sha256}``.

    Ingest lists ``files`` (path, sha256, ...) and ``ignored_files`` (paths it does not recognise,
    recorded with hash None: known, not new). Paths outside raw/ (the shipped reference tables)
    are left out: they change with the code, and ingest tracks the code itself.
    """
    out: dict[str, str | None] = {}
    for f in doc.get("files") or []:
        if isinstance(f, dict) and isinstance(f.get("path"), str) and _is_raw_path(f["path"]):
            out[f["path"]] = f.get("sha256")
    for f in doc.get("ignored_files") or []:
        path = f.get("path") if isinstance(f, dict) else f
        if isinstance(path, str) and _is_raw_path(path):
            out.setdefault(path, None)
    return out


def _read_json(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def processed_manifest_path(data_dir: Path, as_of: dt.date | str) -> Path:
    return processed_dir(data_dir, as_of) / MANIFEST_NAME


def ingest_needed(data_dir: Path, as_of: dt.date | str, raw: dict[str, str]) -> tuple[bool, str]:
    """Whether ``placement ingest`` must run before the reports, and why (Chinese, for the log).

    Needed when ``processed/<as_of>/manifest.json`` is missing or unreadable, when a raw file it
    read is gone or changed, or when a raw file is recorded by no processed manifest up to
    ``as_of`` (a new file; earlier snapshot folders have their own processed manifests).
    """
    as_of = parse_as_of(as_of)
    path = processed_manifest_path(data_dir, as_of)
    if not path.exists():
        return True, f"尚无 {as_of} 的处理后数据（{path} 不存在）"
    doc = _read_json(path)
    if doc is None:
        return True, f"{path} 无法读取"
    own = recorded_inputs(doc)
    changed = [p for p, h in own.items() if h is not None and raw.get(p) != h]
    if changed:
        return True, f"原始数据文件有变动（{len(changed)} 个已有文件被修改或删除）"
    known: dict[str, set[str | None]] = {}
    _, processed = data_paths(data_dir)
    for folder in sorted(processed.iterdir()) if processed.is_dir() else ():
        day = sources.folder_date(folder.name)
        if day is None or day > as_of:
            continue
        other = (
            own
            if folder.name == as_of.isoformat()
            else recorded_inputs(_read_json(folder / MANIFEST_NAME) or {})
        )
        for p, h in other.items():
            known.setdefault(p, set()).add(h)
    new = [p for p, h in raw.items() if p not in known or not ({h, None} & known[p])]
    if new:
        return True, f"有 {len(new)} 个新的或已更新的原始数据文件"
    return False, "处理后数据已是最新"


def data_version(data_dir: Path, as_of: dt.date | str) -> str:
    """Short hash of the processed manifest: names the exact data a report was made from."""
    path = processed_manifest_path(data_dir, as_of)
    return file_sha256(path)[:12] if path.exists() else "—"


def git_revision(root: Path = PROJECT_ROOT) -> dict:
    """Commit and whether the work tree differs from it (read-only git; empty outside a repo)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=20,
            env=env,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def versions() -> dict[str, str]:
    return sources.package_versions(PACKAGES, "not installed")


def read_manifest(run_dir: Path) -> dict | None:
    path = Path(run_dir) / MANIFEST_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(run_dir: Path, manifest: dict) -> Path:
    path = Path(run_dir) / MANIFEST_NAME
    tmp = path.with_name(f".{MANIFEST_NAME}.tmp")
    tmp.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    tmp.replace(path)
    return path


def last_successful_run(reports_dir: Path) -> dict | None:
    """The manifest of the most recently finished successful run in any period folder."""
    best = None
    base = Path(reports_dir)
    for folder in base.iterdir() if base.is_dir() else ():
        try:
            dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        m = read_manifest(folder)
        if not m or m.get("run", {}).get("status") != "ok":
            continue
        if best is None or m["run"].get("finished", "") > best["run"].get("finished", ""):
            best = m
    return best


def published_inputs(inputs: dict[str, str], redact=None) -> dict[str, str]:
    """The raw inputs as the published run manifest lists them: personal data in a file name (a
    sender's slip) shows 已隐去 in its place, as the reports show it (``redact``:
    :func:`helpers.runner.quality.name_redactor`; default ID and mobile numbers), so the manifest
    never withholds a run; two names that become equal stay apart by a counter."""
    from helpers import pii

    redact = redact or pii.redact
    out: dict[str, str] = {}
    for path, digest in inputs.items():
        shown = redact(path)
        key, n = shown, 1
        while key in out:
            n += 1
            key = f"{shown} ({n})"
        out[key] = digest
    return out


def new_inputs(current: dict[str, str], previous: dict[str, str]) -> list[str]:
    """Raw files that are new or changed since ``previous`` (path -> sha256 maps)."""
    return sorted(p for p, h in current.items() if previous.get(p) != h)
