"""Small shared helpers: atomic file output, output-path checks, bounded input reading and
``key=value`` overrides.

Every file araneus writes goes through :func:`atomic_output` (one file) or
:func:`atomic_outputs` (a group of files read together, such as a CSV node/edge pair): the
data is written to a temporary file next to the destination and renamed into place, so a
killed or failing writer never leaves a half-written file under the final name.
:func:`check_output_path` tells, before any work is done, whether an output can be written
at all (name length, existing folder/file in the way, permissions, the input itself).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import stat
import tempfile
import time
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError, FormatError, InputError

T = TypeVar("T")

#: Longest file name (bytes) and path most Linux/macOS file systems accept.
NAME_MAX = 255
PATH_MAX = 4095
TMP_SUFFIX = ".tmp"


def _name_problem(p: Path) -> str | None:
    """Why ``p`` cannot be a file name on this system (None if it can)."""
    if len(os.fsencode(str(p))) > PATH_MAX:
        return f"the path is longer than {PATH_MAX} bytes"
    for part in p.parts:
        n = len(os.fsencode(part))
        if n > NAME_MAX:
            return f"the name {part[:24]}... is {n} bytes long, over the {NAME_MAX} allowed"
    return None


def _existing_ancestor(p: Path) -> Path:
    q = p
    while not (q.exists() or q.is_symlink()) and q != q.parent:
        q = q.parent
    return q


def check_output_path(
    path: str | os.PathLike,
    what: str = "output",
    *,
    folder: bool = False,
    inputs: Sequence[str | os.PathLike] = (),
) -> Path:
    """Check, before any work is done, that ``path`` can be written; return it as a Path.

    Raises :class:`InputError` naming ``what`` (e.g. ``"--out"``) and the problem: a name
    longer than the file system allows, a folder where a file is wanted (or a file where
    a folder is wanted, ``folder=True``), a file in the way of a folder to be created, a
    folder that cannot be written (checked by creating and removing a probe file, which
    also catches read-only file systems and the super-user case), or an output that is one
    of ``inputs``. Nothing is left on disk.
    """
    p = Path(path)
    problem = _name_problem(p)
    if problem:
        raise InputError(f"{what} {p}: {problem}")
    if folder and p.exists() and not p.is_dir():
        raise InputError(f"{what} {p} exists and is not a directory")
    if not folder and p.is_dir():
        raise InputError(f"{what} {p} is a directory; give a file name")
    for inp in inputs:
        q = Path(inp)
        same = p.exists() and q.exists() and os.path.samefile(p, q)
        if same or p.resolve() == q.resolve():
            raise InputError(f"{what} {p} is the input {q}; write to another name")
    anc = _existing_ancestor(p if folder else p.parent)
    if not anc.is_dir():
        raise InputError(f"{what} {p}: {anc} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".araneus-probe.", suffix=TMP_SUFFIX, dir=anc)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{what} {p}: cannot write in {anc} ({exc.strerror or exc})") from None
    return p


def ensure_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Create folder ``path`` (and its parents); an :class:`InputError` says why it cannot."""
    p = check_output_path(path, what, folder=True)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{what} {p}: cannot create the folder ({exc.strerror or exc})") from None
    return p


def _os_error(dest: Path, exc: OSError) -> InputError:
    return InputError(f"cannot write {dest}: {exc.strerror or exc}")


def _temp_for(dest: Path) -> Path:
    """A new empty temporary file next to ``dest`` (usual permissions), for a later rename."""
    if dest.is_dir():
        raise InputError(f"{dest} is a directory; give a file name to write")
    problem = _name_problem(dest)
    if problem:
        raise InputError(f"cannot write {dest}: {problem}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder for {dest}: {exc.strerror or exc}") from None
    # the temporary name must fit too: shorten the prefix taken from a long name
    prefix = f".{dest.name[: max(NAME_MAX - 40, 1)]}."
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=TMP_SUFFIX, dir=dest.parent)
    except OSError as exc:
        raise _os_error(dest, exc) from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
    return Path(tmp)


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed, so a half-written output never
    appears under the final name. Parent directories are created. Operating-system
    failures (no permission, disk full, name too long) become one :class:`InputError`
    naming ``path``. ``durable=True`` also flushes the data to disk before the rename
    (for checkpoints that must survive a power cut, not only a killed process).
    """
    dest = Path(path)
    tmp_path = _temp_for(dest)
    try:
        try:
            yield tmp_path
            if durable:
                _fsync(tmp_path)
            os.replace(tmp_path, dest)
        except OSError as exc:
            raise _os_error(dest, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_outputs(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """:func:`atomic_output` for a group of files that are only read together.

    Yields one temporary path per destination. After all are written, the old versions
    of every destination but the first are removed, then the temporary files are renamed
    in order. A process killed at any point thus leaves either the complete old group,
    the complete new group, or a group with a member missing (which readers refuse),
    never a mix of old and new files.
    """
    dests = [Path(p) for p in paths]
    tmps: list[Path] = []
    try:
        for d in dests:
            tmps.append(_temp_for(d))
        try:
            yield list(tmps)
            for d in dests[1:]:
                with contextlib.suppress(FileNotFoundError):
                    d.unlink()
            for t, d in zip(tmps, dests):
                os.replace(t, d)
        except OSError as exc:
            raise _os_error(dests[0], exc) from None
    except BaseException:
        for t in tmps:
            with contextlib.suppress(OSError):
                t.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_output(path, durable=durable) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str, *, durable: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    write_bytes_atomic(path, text.encode("utf-8"), durable=durable)


def remove_stale_temps(folder: str | os.PathLike, older_than_s: float = 0.0) -> list[Path]:
    """Remove the temporary files (``.NAME.XXXX.tmp``) that killed writers left in
    ``folder`` (not below it), if older than ``older_than_s`` seconds; returns them."""
    gone: list[Path] = []
    d = Path(folder)
    if not d.is_dir():
        return gone
    now = time.time()
    for p in d.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if p.is_file() and now - p.stat().st_mtime >= older_than_s:
                p.unlink()
                gone.append(p)
    return gone


#: Default ceiling on the bytes one input file may hold or inflate to (2 GiB); the
#: environment variable ``ARANEUS_MAX_INPUT_BYTES`` overrides it (a plain integer).
DEFAULT_MAX_INPUT_BYTES = 2 << 30


def max_input_bytes() -> int:
    """The ceiling on the bytes an input file may hold or decompress to.

    ``ARANEUS_MAX_INPUT_BYTES`` (an integer number of bytes) overrides the default
    :data:`DEFAULT_MAX_INPUT_BYTES`; an unparsable value raises :class:`ConfigError`.
    """
    raw = os.environ.get("ARANEUS_MAX_INPUT_BYTES")
    if raw is None or not raw.strip():
        return DEFAULT_MAX_INPUT_BYTES
    try:
        val = int(raw)
    except ValueError:
        val = 0
    if val < 1:
        raise ConfigError(f"ARANEUS_MAX_INPUT_BYTES must be a positive integer, got {raw!r}")
    return val


def check_input_file(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` as a :class:`Path` after checking it is a regular file of bounded size.

    Directories, devices (``/dev/zero``), FIFOs and sockets are refused before anything is
    read, and so is a file larger than :func:`max_input_bytes`.

    Raises
    ------
    FormatError
        Missing, a directory, not a regular file, unreadable, or too large.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise FormatError(p, "no such file") from None
    except OSError as exc:
        raise FormatError(p, f"cannot read {what}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise FormatError(p, f"is a directory, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise FormatError(p, f"is not a regular file (a device, pipe or socket); give a {what}")
    limit = max_input_bytes()
    if st.st_size > limit:
        raise FormatError(
            p,
            f"{what} holds {st.st_size:,} bytes, more than the {limit:,}-byte input limit "
            "(raise it with ARANEUS_MAX_INPUT_BYTES)",
        )
    return p


def read_input_bytes(path: str | os.PathLike, what: str = "file") -> bytes:
    """The bytes of a regular input file, after :func:`check_input_file`.

    The read itself is bounded as well, so a file that grows while being read cannot
    exceed :func:`max_input_bytes` either.
    """
    p = check_input_file(path, what)
    limit = max_input_bytes()
    size = p.stat().st_size
    try:
        with open(p, "rb") as fh:
            parts = [fh.read(size + 1)]  # not read(limit): Python would allocate `limit`
            total = len(parts[0])
            while total > size and total <= limit:  # the file grew while being read
                chunk = fh.read(min(1 << 24, limit + 1 - total))
                if not chunk:
                    break
                parts.append(chunk)
                total += len(chunk)
    except IsADirectoryError:
        raise FormatError(p, f"is a directory, not a {what}") from None
    except OSError as exc:
        raise FormatError(p, f"cannot read {what}: {exc.strerror or exc}") from None
    if total > limit:
        raise FormatError(p, f"{what} is larger than the {limit:,}-byte input limit")
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _parse_value(raw: str, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin is typing.Union or origin is types.UnionType:
        non_none = [a for a in args if a is not type(None)]
        if raw.lower() in ("none", "null", "") and len(non_none) < len(args):
            return None
        return _parse_value(raw, non_none[0], key)
    if origin in (tuple, list):
        parts = [p for p in raw.replace(";", ",").split(",") if p.strip()]
        inner = args[0] if args else float
        vals = [_parse_value(p.strip(), inner, key) for p in parts]
        return tuple(vals) if origin is tuple else vals
    try:
        if typ is bool:
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            try:
                return int(raw)
            except ValueError:
                f = float(raw)
            if not math.isfinite(f) or f != int(f) or abs(f) > 2**53:
                raise ValueError
            return int(f)
        if typ is float:
            f = float(raw)
            if not math.isfinite(f):
                raise ValueError
            return f
    except ValueError:
        what = "a finite number" if typ is float else "an integer" if typ is int else typ.__name__
        raise ConfigError(f"--set {key}={raw}: expected {what}") from None
    return raw


def apply_overrides(cfg: T, settings: Sequence[str] | dict[str, Any], what: str = "config") -> T:
    """Return a copy of dataclass ``cfg`` with ``key=value`` strings (or a dict) applied.

    Values are parsed to each field's annotated type (int, float, bool, str, tuples as
    comma-separated lists). An unknown key raises :class:`ConfigError` listing the valid
    keys. Validation of the values themselves is left to the dataclass's ``__post_init__``.
    """
    if not dataclasses.is_dataclass(cfg):
        raise InputError(f"{what} must be a dataclass instance")
    hints = typing.get_type_hints(type(cfg))
    fields = {f.name for f in dataclasses.fields(cfg)}
    items: list[tuple[str, Any]] = []
    if isinstance(settings, dict):
        items = list(settings.items())
    else:
        for s in settings:
            if "=" not in s:
                raise ConfigError(f"--set expects key=value, got {s!r}")
            k, v = s.split("=", 1)
            items.append((k.strip(), v.strip()))
    changes: dict[str, Any] = {}
    for k, v in items:
        if k not in fields:
            raise ConfigError(f"unknown {what} parameter {k!r}; valid: {', '.join(sorted(fields))}")
        changes[k] = _parse_value(v, hints[k], k) if isinstance(v, str) else v
    return dataclasses.replace(cfg, **changes)
