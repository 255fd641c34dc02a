"""Reading what ``araneus generate`` writes, for evaluation.

``araneus generate ... --out gen/`` writes one web file per sample, ``features.csv`` (one
row per web: ``file``, ``requested_<feature>`` (empty = free) and ``achieved_<feature>``)
and ``generation.json`` (model, sampling settings and the decoder's repair counts).
:func:`load_generated` reads the webs named in ``features.csv`` (so the table itself, or
the two halves of a CSV web pair, are never taken for webs), their requested features and
the repair counts; any other folder or dataset file is read by
:func:`araneus.dataset.files.load_webs`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._util import write_text_atomic
from ..errors import FormatError, InputError
from ..features import FEATURE_NAMES
from ..web import WebGraph

#: File names written by ``araneus generate`` next to the webs.
FEATURES_CSV = "features.csv"
GENERATION_JSON = "generation.json"


@dataclass
class GeneratedSet:
    """Webs read for evaluation, with what is known about how they were made.

    Attributes
    ----------
    webs : the webs, in file order.
    requested : (S, 7) requested features (NaN = free; FEATURE_NAMES order) or None.
    decode_stats : the generating run's repair counts (``DecodeStats.as_dict()``) or None.
    info : the rest of ``generation.json`` (model, settings), empty if there is none.
    """

    webs: list[WebGraph]
    requested: np.ndarray | None = None
    decode_stats: dict | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _is_generation_table(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        head = fh.readline().strip().split(",")
    return bool(head) and head[0] == "file" and any(h.startswith("requested_") for h in head)


def _number(text: str, table: Path, where: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise FormatError(table, f"{where} {text[:40]!r} is not a number") from None
    if not np.isfinite(v):
        raise FormatError(table, f"{where} is not finite")
    return v


def _read_table(folder: Path, limit: int | None) -> tuple[list[WebGraph], np.ndarray]:
    from ..io import read_web

    table = folder / FEATURES_CSV
    with open(table, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise FormatError(table, "lists no webs")
    rows = rows[:limit] if limit is not None else rows
    req = np.full((len(rows), len(FEATURE_NAMES)), np.nan)
    webs = []
    for i, row in enumerate(rows):
        name = (row.get("file") or "").strip()
        if not name or Path(name).name != name:
            raise FormatError(table, f"row {i + 2}: 'file' must name a file in the folder")
        webs.append(read_web(folder / name))
        for j, f in enumerate(FEATURE_NAMES):
            v = (row.get(f"requested_{f}") or "").strip()
            if v:
                req[i, j] = _number(v, table, f"row {i + 2}: requested_{f}")
    return webs, req


def _read_info(folder: Path) -> dict:
    p = folder / GENERATION_JSON
    if not p.is_file():
        return {}
    try:
        info = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise FormatError(p, f"not valid JSON ({type(e).__name__})") from None
    if not isinstance(info, dict):
        raise FormatError(p, "must hold a JSON object")
    stats = info.get("decode_stats")
    if stats is not None and not (
        isinstance(stats, dict) and isinstance(stats.get("repair_rate"), (int, float))
    ):
        raise FormatError(p, "decode_stats must be an object with a numeric repair_rate")
    return info


def load_generated(path, split: str | None = None, limit: int | None = None) -> GeneratedSet:
    """Generated webs from a ``generate`` folder, any folder of web files or a dataset.

    Parameters
    ----------
    path
        A folder written by ``araneus generate`` (its ``features.csv`` lists the webs and
        their requested features), another folder of web files, or a dataset ``.npz``.
    split
        For a dataset file: only that split.
    limit
        At most this many webs (the first ones).
    """
    from ..dataset.files import load_webs
    from .evaluate import requested_from_meta

    if limit is not None and (isinstance(limit, bool) or int(limit) != limit or limit < 1):
        raise InputError(f"limit must be an integer >= 1, got {limit!r}")
    p = Path(path)
    if p.is_dir() and _is_generation_table(p / FEATURES_CSV):
        webs, req = _read_table(p, limit)
        info = _read_info(p)
        return GeneratedSet(webs, req, info.pop("decode_stats", None), info)
    webs = load_webs(p, split=split, limit=limit)
    return GeneratedSet(webs, requested_from_meta(webs))


def write_generation_info(out, model, n: int, **settings: Any) -> Path:
    """Write ``generation.json`` into ``out``: the model's name, its sampling config,
    ``settings`` (e.g. guidance, seed) and its ``last_decode_stats`` (repair counts)."""
    import dataclasses

    stats = getattr(model, "last_decode_stats", None)
    cfg = getattr(model, "config", None)
    info = {
        "model": getattr(model, "name", None),
        "n": int(n),
        **settings,
        "config": dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else None,
        "decode_stats": None if stats is None else stats.as_dict(),
    }
    p = Path(out) / GENERATION_JSON
    write_text_atomic(p, json.dumps(info, indent=2, default=str) + "\n")
    return p
