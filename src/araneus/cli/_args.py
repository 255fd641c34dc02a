"""The one validation layer of the CLI: numbers, seeds and output paths.

Every command checks its arguments here before it reads a big input or starts any work.
Size-like numbers are bounded by what they cost (memory, time, disk), so that a typo such
as ``--n 100000000`` is one clear line instead of an out-of-memory crash; outputs are
checked for writability, name length, a folder or file in the way, and not being an input
(:func:`araneus._util.check_output_path`). Every problem is an :class:`InputError` naming
the option.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from .._util import check_output_path
from ..errors import InputError

#: Seeds are non-negative 63-bit integers (numpy and torch accept them all).
MAX_SEED = 2**63 - 1


def count(value: int, flag: str, lo: int, hi: int, why: str = "") -> int:
    """An integer option in ``[lo, hi]``; ``why`` says what the upper bound protects."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{flag} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        tail = f" ({why})" if why and value > hi else ""
        raise InputError(f"{flag} must be in [{lo:,}, {hi:,}]{tail}, got {value:,}")
    return value


def number(
    value: float,
    flag: str,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    why: str = "",
) -> float:
    """A finite number option in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{flag} must be a number, got {value!r}") from None
    low_bad = lo is not None and (v <= lo if lo_open else v < lo)
    if not math.isfinite(v) or low_bad or (hi is not None and v > hi):
        left = "(" if lo_open else "["
        rng = f"{left}{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"
        tail = f" ({why})" if why and hi is not None and math.isfinite(v) and v > hi else ""
        raise InputError(f"{flag} must be a finite number in {rng}{tail}, got {value!r}")
    return v


def optional_number(value: float | None, flag: str, *args, **kw) -> float | None:
    """:func:`number` for an option that may be left out (``None``)."""
    return None if value is None else number(value, flag, *args, **kw)


def seed(value: int, flag: str = "--seed") -> int:
    """A seed: an integer in ``[0, 2**63 - 1]``."""
    return count(value, flag, 0, MAX_SEED)


def out_file(path: Path, flag: str = "--out", inputs: Sequence[Path | None] = ()) -> Path:
    """An output file that can be written and is none of ``inputs``."""
    return check_output_path(path, flag, inputs=[p for p in inputs if p is not None])


def out_dir(path: Path, flag: str = "--out") -> Path:
    """An output folder that exists or can be created (nothing is created here)."""
    return check_output_path(path, flag, folder=True)


def in_path(path: Path, flag: str) -> Path:
    """An input that exists (a clear message instead of a failure deep in a reader)."""
    if not os.path.lexists(path):
        raise InputError(f"{flag} {path}: no such file or folder")
    return path
