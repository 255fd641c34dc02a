"""Small shared helpers: atomic file output, bounded input reading and ``key=value`` overrides."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import tempfile
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError, FormatError, InputError

T = TypeVar("T")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed, so a half-written output never
    appears under the final name. Parent directories are created.
    """
    dest = Path(path)
    if dest.is_dir():
        raise InputError(f"{dest} is a directory; give a file name to write")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder for {dest}: {exc.strerror or exc}") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    write_bytes_atomic(path, text.encode("utf-8"))


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
            f = float(raw)
            if f != int(f):
                raise ValueError
            return int(f)
        if typ is float:
            return float(raw)
    except ValueError:
        raise ConfigError(f"--set {key}={raw}: expected {typ.__name__}") from None
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
