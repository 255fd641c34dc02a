"""Error types raised by araneus.

Every problem that a user can cause (bad files, bad arguments, bad configs) is raised as a
subclass of :class:`AraneusError`, with a message that names the offending file, argument
or parameter. The CLI prints such errors as one line and exits non-zero; anything else is
a bug in araneus.
"""

from __future__ import annotations

from pathlib import Path


class AraneusError(Exception):
    """Base class of every error araneus raises on purpose."""


class InputError(AraneusError, ValueError):
    """An argument or in-memory input is invalid (shape, range, NaN, empty, ...)."""


class ConfigError(InputError):
    """A configuration parameter is invalid or unknown."""


class FormatError(AraneusError, ValueError):
    """A file is malformed, truncated or of the wrong kind.

    Parameters
    ----------
    path
        The file being read or written.
    problem
        What is wrong, in words.
    where
        Optional location inside the file (``"line 12"``, ``"element 'edge' row 3"``,
        ``"variable 'nodes'"``).
    """

    def __init__(self, path: str | Path | None, problem: str, where: str | None = None):
        self.path = None if path is None else Path(path)
        self.problem = problem
        self.where = where
        loc = f"{self.path}" if self.path is not None else "<input>"
        if where:
            loc += f", {where}"
        super().__init__(f"{loc}: {problem}")


class ModelError(AraneusError):
    """A model, checkpoint or generation request is invalid."""


class SolverError(AraneusError):
    """A numerical analysis cannot be carried out (mechanism, singular system, divergence)."""


__all__ = [
    "AraneusError",
    "InputError",
    "ConfigError",
    "FormatError",
    "ModelError",
    "SolverError",
]
