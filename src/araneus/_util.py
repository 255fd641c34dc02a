"""Small shared helpers: atomic file output and ``key=value`` config overrides."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError, InputError

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
