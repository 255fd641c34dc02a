"""A bounded reader of MATLAB v5/v7 ``.mat`` files, for the numeric and text matrices araneus
uses.

scipy's v5 reader is not hardened for untrusted input (its docs say so, and mutated files
crash it with a segmentation fault: an unchecked data-type code indexes a C table), and
it inflates every compressed variable whatever its declared size. This reader parses
the format's tags in Python and numpy only and checks every length against the bytes
that hold it:

* a variable is inflated only if araneus uses it (``wanted(name)``), and only up to the
  size its own tag declares; the sum of inflated bytes stays under the input limit;
* array flags, dimensions, name and data are each checked (types, lengths, counts
  against the dimensions) before any array is built; numeric classes and ``char`` are
  read, other classes (cell, struct, sparse, object) are reported by name.

Format: the MAT-File Format reference (MathWorks, "MAT-File Format", version 7), Ch. 1:
a 128-byte header, then data elements ``(type, nbytes, data)`` padded to 8 bytes, with
the "small data element" form for up to 4 bytes; a variable is an ``miMATRIX`` element,
optionally wrapped in an ``miCOMPRESSED`` (zlib) element.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._util import max_input_bytes
from ..errors import FormatError

MI_MATRIX, MI_COMPRESSED = 14, 15
#: Storage types of data elements (miINT8 ... miUINT64) as numpy type codes.
MI_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8",
            12: "i8", 13: "u8"}  # fmt: skip
#: Array classes with a numpy dtype (mxDOUBLE_CLASS ... mxUINT64_CLASS).
CLASS_DTYPES = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4",
                14: "i8", 15: "u8"}  # fmt: skip
CHAR_CLASS = 4
CLASS_NAMES = {1: "a cell array", 2: "a struct", 3: "an object", 5: "a sparse matrix",
               16: "a function handle", 17: "an opaque object"}  # fmt: skip
_COMPLEX = 0x800


class _Unsupported(Exception):
    """A variable of a class araneus does not read (carries the class description)."""


def is_v5(data: bytes) -> bool:
    """True if ``data`` starts like a MAT v5/v7 file (not v4, not v7.3/HDF5)."""
    return len(data) >= 128 and 0 not in data[:4] and data[124:126] in (b"\x00\x01", b"\x01\x00")


def read_v5(path: Path, data: bytes, wanted: Callable[[str], bool]) -> dict[str, object]:
    """The variables of a MAT v5 file for which ``wanted(name)`` is true.

    Returns
    -------
    dict
        name -> ndarray (numeric matrices in their class dtype, logical ones as uint8 like
        ``scipy.io.loadmat``; char matrices as an array of row strings), or -> str describing an unsupported
        class ("a cell array", ...), so the caller can say what it found.

    Raises
    ------
    FormatError
        Truncated or inconsistent elements, corrupt compressed data, a variable listed
        twice, or more inflated data than the input limit.
    """
    e = "<" if data[126:128] == b"IM" else ">"
    budget = max_input_bytes()
    out: dict[str, object] = {}
    off = 128
    while off + 8 <= len(data):
        start = off
        mdtype, nbytes = struct.unpack_from(e + "II", data, off)
        body = data[off + 8 : off + 8 + nbytes]
        if len(body) < nbytes:
            raise FormatError(path, f"file ends inside a variable (element at byte {start})")
        off += 8 + nbytes
        if mdtype == MI_COMPRESSED:
            dec = zlib.decompressobj()
            try:
                head = dec.decompress(body, 4096)
            except zlib.error:
                raise FormatError(path, f"compressed variable at byte {start} is corrupt") from None
        elif mdtype == MI_MATRIX:
            head = data[start : start + 8 + min(nbytes, 4096)]
        else:
            raise FormatError(path, f"unexpected MAT element type {mdtype} at byte {start}")
        if len(head) < 8:
            raise FormatError(path, f"variable at byte {start} is truncated")
        inner, inner_bytes = struct.unpack_from(e + "II", head)
        if inner != MI_MATRIX:
            raise FormatError(path, f"element at byte {start} is not a MATLAB array ({inner})")
        name = _peek_name(head[8:], e)
        if name is None or not wanted(name):
            continue  # never inflated
        where = f"variable {name!r}"
        if name in out:
            raise FormatError(path, "appears twice in the file", where)
        budget -= inner_bytes
        if budget < 0:
            raise FormatError(
                path,
                f"variables inflate past the {max_input_bytes():,}-byte input limit "
                "(raise it with ARANEUS_MAX_INPUT_BYTES)",
                where,
            )
        if mdtype == MI_COMPRESSED:
            try:
                full = zlib.decompressobj().decompress(body, 8 + inner_bytes)
            except zlib.error:
                raise FormatError(path, "compressed data is corrupt", where) from None
            if len(full) < 8 + inner_bytes:
                raise FormatError(path, "compressed data is truncated", where)
            matrix = full[8:]
        else:
            matrix = body
        try:
            out[name] = _matrix(matrix, e)
        except _Unsupported as exc:
            out[name] = str(exc)
        except (ValueError, struct.error, UnicodeDecodeError) as exc:
            raise FormatError(path, f"malformed array ({exc})", where) from None
    return out


def _element(buf: bytes, off: int, e: str) -> tuple[int, bytes, int]:
    """(type, data, offset of the next element) of the data element at ``off``."""
    if off + 8 > len(buf):
        raise ValueError("array ends before one of its parts")
    mdtype, nbytes = struct.unpack_from(e + "II", buf, off)
    if mdtype >> 16:  # small data element: size in the upper half, data in 4 bytes
        n, t = mdtype >> 16, mdtype & 0xFFFF
        if n > 4:
            raise ValueError(f"small data element claims {n} bytes")
        return t, buf[off + 4 : off + 4 + n], off + 8
    end = off + 8 + nbytes
    if end > len(buf):
        raise ValueError(f"a part claims {nbytes} bytes, {len(buf) - off - 8} left")
    return mdtype, buf[off + 8 : end], off + 8 + (nbytes + 7) // 8 * 8


def _peek_name(head: bytes, e: str) -> str | None:
    """The variable name from the first bytes of a miMATRIX body (None if unparsable)."""
    try:
        off = _element(head, 0, e)[2]
        off = _element(head, off, e)[2]
        t, name, _ = _element(head, off, e)
    except (ValueError, struct.error):
        return None
    if t not in (1, 2, 16) or not name or len(name) > 63:
        return None
    return name.decode("latin1")


def _matrix(buf: bytes, e: str):
    t, flags, off = _element(buf, 0, e)
    if t != 6 or len(flags) < 4:
        raise ValueError("array flags missing")
    word = struct.unpack_from(e + "I", flags)[0]
    cls = word & 0xFF
    t, dims_raw, off = _element(buf, off, e)
    if t != 5 or len(dims_raw) < 8 or len(dims_raw) % 4:
        raise ValueError("dimensions missing")
    dims = struct.unpack(e + f"{len(dims_raw) // 4}i", dims_raw)
    if min(dims) < 0:
        raise ValueError(f"negative dimension in {dims}")
    off = _element(buf, off, e)[2]  # the name (already known)
    if cls not in CLASS_DTYPES and cls != CHAR_CLASS:
        raise _Unsupported(CLASS_NAMES.get(cls, f"array class {cls}"))
    if word & _COMPLEX:
        raise _Unsupported("a complex matrix")
    t, payload, _ = _element(buf, off, e)
    count = int(np.prod(dims, dtype=object))
    if cls == CHAR_CLASS:
        return _chars(t, payload, dims, count, e)
    if t not in MI_TYPES:
        raise ValueError(f"unknown data type {t}")
    dt = np.dtype(e + MI_TYPES[t])
    if len(payload) != count * dt.itemsize:
        raise ValueError(f"dimensions {dims} need {count} values, data holds "
                         f"{len(payload) / dt.itemsize:g}")  # fmt: skip
    vals = np.frombuffer(payload, dt).reshape(dims, order="F")
    return vals.astype(CLASS_DTYPES[cls])  # logical arrays stay uint8, as scipy returns them


def _chars(t: int, payload: bytes, dims: tuple[int, ...], count: int, e: str) -> np.ndarray:
    """A char matrix as one string per row (what ``scipy.io.loadmat`` calls
    ``chars_as_strings``); characters are stored as code units of the element type."""
    if t in (4, 17):  # miUINT16 / miUTF16: UTF-16 code units
        units = np.frombuffer(payload[: len(payload) // 2 * 2], e + "u2").tolist()
    elif t == 18:  # miUTF32
        units = np.frombuffer(payload[: len(payload) // 4 * 4], e + "u4").tolist()
    elif t in (1, 2):  # miINT8 / miUINT8: one byte per character
        units = list(payload)
    elif t == 16:  # miUTF8
        units = [ord(c) for c in payload.decode("utf-8")]
    else:
        raise ValueError(f"unknown text type {t}")
    if len(units) != count or len(dims) != 2:
        raise ValueError(f"char dimensions {dims} do not fit its {len(units)} characters")
    text = "".join(map(chr, units))
    rows, cols = dims
    if not count:
        return np.zeros(rows, dtype="U1")
    grid = np.array(list(text), dtype="U1").reshape((rows, cols), order="F")
    return np.array(["".join(r) for r in grid.tolist()])
