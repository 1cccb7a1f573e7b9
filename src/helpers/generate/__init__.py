"""Seeded, deterministic synthetic data: a province (demo / province size) or a national export.

    from helpers.generate import generate
    summary = generate(size="demo", out=Path("data"), seed=2023)

writes ``out/raw/`` (files in the data contract's input shapes, including its mess) and
``out/ground_truth/`` (true rates per 专业点, injected mess, warning signals). See
docs/synthetic-data.md.
"""

from __future__ import annotations

from pathlib import Path

from helpers.generate.province import SIZES, generate_province

__all__ = ["SIZES", "generate"]


def generate(
    size: str, out: Path, seed: int, mess_rate: float | None = None, workers: int | None = None
) -> str:
    """Write a synthetic data set; returns a short bilingual summary.

    ``size``: ``demo`` (10 universities, a few thousand graduates per cohort, every snapshot),
    ``province`` (the 89 institutions, about 300k graduates per cohort, one file per university
    and dataset) or ``national`` (about 11.6 million graduates of one cohort, Parquet).
    ``mess_rate``: per-row probability of each row-level mess form (default per size; 0 = clean).
    """
    out = Path(out)
    _check_target(out)
    if size == "national":
        from helpers.generate.national import generate_national

        return generate_national(out=out, seed=seed, workers=workers)
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: expected demo, province or national")
    return generate_province(SIZES[size], out=out, seed=seed, mess_rate=mess_rate, workers=workers)


def _check_target(out: Path) -> None:
    """Refuse to replace a raw/ folder that the generator did not write (real exports).

    A generated data dir always has ``ground_truth/`` next to ``raw/``; ``raw/`` holding only
    ``.gitkeep`` (a fresh clone's ``data/``) counts as empty.
    """
    raw = out / "raw"
    if not raw.is_dir() or (out / "ground_truth").is_dir():
        return
    if any(p.name != ".gitkeep" for p in raw.iterdir()):
        raise ValueError(
            f"{raw} holds files that were not generated (no {out / 'ground_truth'}): "
            "refusing to overwrite them; choose another --out"
        )
