"""Readers and writers of web files, behind one registry keyed by file suffix.

>>> from araneus.io import read_web, write_web
>>> web = read_web("scan.json")            # format from the suffix
>>> write_web(web, "scan.ply")             # binary PLY
>>> web, report = read_web_report("traced.mat")
>>> report.duplicates, report.self_loops, report.isolated_nodes

Every reader canonicalises the quirks of real files (duplicate edges, both directions
listed, self-loops) through :meth:`WebGraph.from_raw` and reports the counts in a
:class:`ReadReport`; every malformed file raises :class:`~araneus.errors.FormatError`
naming the file and, where there is one, the line / element / variable. Writers go
through a temporary file and a rename. Format modules are imported only when used.
See ``docs/formats.md`` for the formats themselves.
"""

from __future__ import annotations

import importlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import AraneusError, FormatError, InputError
from ..web import WebGraph
from ._common import ReadReport, thread_names


@dataclass(frozen=True)
class FileFormat:
    """One registered format: name, suffixes, and ``module:function`` of reader/writer."""

    name: str
    suffixes: tuple[str, ...]
    description: str
    reader: str | None
    writer: str | None

    def _load(self, spec: str) -> Callable:
        mod, fn = spec.split(":")
        return getattr(importlib.import_module(f"{__name__}.{mod}"), fn)


_FORMATS: dict[str, FileFormat] = {}


def _register(name, suffixes, description, reader, writer) -> None:
    _FORMATS[name] = FileFormat(name, tuple(suffixes), description, reader, writer)


_register(
    "json",
    [".json"],
    "araneus JSON (lossless); reads skeleton JSON too",
    "json_fmt:read_json",
    "json_fmt:write_json",
)
_register(
    "skeleton-json",
    [],
    'plain {"nodes": [[x,y,z]], "edges": [[i,j]]} (0-based)',
    "json_fmt:read_json",
    "json_fmt:write_skeleton_json",
)
_register(
    "csv",
    [".csv"],
    "node table STEM.nodes.csv + edge table STEM.edges.csv",
    "csv_fmt:read_csv",
    "csv_fmt:write_csv",
)
_register(
    "graphml",
    [".graphml"],
    "GraphML, node attributes x, y, z",
    "graphml:read_graphml",
    "graphml:write_graphml",
)
_register(
    "mat",
    [".mat"],
    "MATLAB nodes (N x 2|3) + edges (E x 2, 1-based)",
    "matlab:read_mat",
    "matlab:write_mat",
)
_register(
    "ply",
    [".ply"],
    "PLY vertex + edge elements (writes binary little-endian)",
    "ply:read_ply",
    "ply:write_ply_binary",
)
_register(
    "ply-ascii", [], "PLY vertex + edge elements, ASCII", "ply:read_ply", "ply:write_ply_ascii"
)
_register("obj", [".obj"], "Wavefront OBJ v + l lines (1-based)", "obj:read_obj", "obj:write_obj")
_register(
    "lammps",
    [".data", ".lmp"],
    "LAMMPS data file, atoms + bonds (write-only)",
    None,
    "text:write_lammps",
)
_register(
    "xyz",
    [".xyz", ".txt"],
    "plain '#ID x y z' node list (nodes only)",
    "text:read_xyz",
    "text:write_xyz",
)


def available_formats() -> dict[str, FileFormat]:
    """The registered formats by name (copy)."""
    return dict(_FORMATS)


def format_for(
    path: str | os.PathLike, format: str | None = None, mode: str = "read"
) -> FileFormat:
    """The format to use for ``path``: ``format`` if given, else from the suffix.

    Parameters
    ----------
    path
        The file to read or write.
    format
        A format name from :func:`available_formats` overriding the suffix.
    mode
        ``"read"`` or ``"write"``: the format must be able to do this.

    Returns
    -------
    FileFormat

    Raises
    ------
    FormatError
        Unknown suffix, or a format that cannot ``mode``.
    InputError
        Unknown format name.
    """
    p = Path(path)
    if format is not None:
        key = format.lower().lstrip(".")
        if key not in _FORMATS:
            by_suffix = [f for f in _FORMATS.values() if f".{key}" in f.suffixes]
            if not by_suffix:
                raise InputError(f"unknown format {format!r}; known: {', '.join(_FORMATS)}")
            key = by_suffix[0].name
        fmt = _FORMATS[key]
    else:
        suffix = p.suffix.lower()
        match = [f for f in _FORMATS.values() if suffix in f.suffixes]
        if not match:
            known = sorted(s for f in _FORMATS.values() for s in f.suffixes)
            shown = f"suffix {suffix!r}" if suffix else "no suffix"
            raise FormatError(
                p,
                f"cannot tell the format from {shown}; "
                f"name the format (--format / --to), known suffixes: {', '.join(known)}",
            )
        fmt = match[0]
    if (fmt.reader if mode == "read" else fmt.writer) is None:
        raise FormatError(
            p, f"format {fmt.name!r} cannot be {'read' if mode == 'read' else 'written'}"
        )
    return fmt


def read_web_report(
    path: str | os.PathLike, format: str | None = None, *, drop_isolated: bool = False
) -> tuple[WebGraph, ReadReport]:
    """Read a web file and report what was canonicalised.

    Parameters
    ----------
    path
        File to read (for CSV: either table or the stem ``NAME.csv``).
    format
        Format name (see :func:`available_formats`) overriding the suffix.
    drop_isolated
        Remove nodes used by no edge (counted in ``report.isolated_dropped``).

    Returns
    -------
    web, report
    """
    p = Path(path)
    _refuse_special(p)
    fmt = format_for(p, format, "read")
    reader = fmt._load(fmt.reader)
    try:
        web, report = reader(p, fmt.name)
    except AraneusError:
        raise
    except FileNotFoundError:
        raise FormatError(p, "no such file") from None
    except IsADirectoryError:
        raise FormatError(p, "is a directory, not a file") from None
    except PermissionError:
        raise FormatError(p, "permission denied") from None
    except OSError as exc:
        raise FormatError(p, f"cannot read file: {exc.strerror or exc}") from None
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, MemoryError) as exc:
        raise FormatError(p, f"malformed {fmt.name} file ({type(exc).__name__}: {exc})") from None
    if drop_isolated and report.isolated_nodes:
        from dataclasses import replace

        web = web.drop_isolated()
        report = replace(report, n_nodes=web.n_nodes, isolated_dropped=report.isolated_nodes)
    return web, report


def _refuse_special(p: Path) -> None:
    """Refuse a directory or a device/FIFO before guessing its format or reading from it."""
    try:
        mode = p.stat().st_mode
    except OSError:
        return  # missing or unreadable: the reader names the file it could not open
    if stat.S_ISDIR(mode):
        raise FormatError(p, "is a directory, not a web file")
    if not stat.S_ISREG(mode):
        raise FormatError(p, "is not a regular file (a device, pipe or socket); give a web file")


def read_web(path: str | os.PathLike, format: str | None = None) -> WebGraph:
    """Read a web file (format from the suffix unless ``format`` is given)."""
    return read_web_report(path, format)[0]


def write_web(web: WebGraph, path: str | os.PathLike, format: str | None = None) -> None:
    """Write ``web`` to ``path`` (format from the suffix unless ``format`` is given).

    Output goes through a temporary file renamed into place, so a failed write never
    leaves a partial file. Attributes a format cannot carry are left out (see
    ``docs/formats.md``).
    """
    if not isinstance(web, WebGraph):
        raise InputError(f"write_web expects a WebGraph, got {type(web).__name__}")
    p = Path(path)
    fmt = format_for(p, format, "write")
    if "thread" in web.edge_attrs:
        thread_names(web.edge_attrs["thread"])  # invalid codes: InputError before any output
    writer = fmt._load(fmt.writer)
    try:
        writer(web, p)
    except OSError as exc:
        raise FormatError(p, f"cannot write file: {exc.strerror or exc}") from None


__all__ = [
    "ReadReport",
    "FileFormat",
    "available_formats",
    "format_for",
    "read_web",
    "read_web_report",
    "write_web",
]
