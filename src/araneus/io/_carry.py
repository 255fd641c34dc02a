"""The write-side validation layer: refuse, before any output, what a format would garble.

Every writer calls :func:`check_carry` with its format's rules before it formats a byte.
An attribute the format carries must come back from the file as it went in; one that
cannot (a name that collides with a coordinate column, a long double, text with control
characters that CSV or XML cannot hold, ...) raises :class:`~araneus.errors.InputError`
naming the attribute and the reason, and nothing is written. Attributes a format does not
carry at all (text in PLY, 2-D attributes in PLY, ...) are left out as documented in
``docs/formats.md``; that is decided by each writer, not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..web import WebGraph
from ._common import _COMPONENT

#: Characters XML 1.0 cannot hold at all, plus CR, which XML parsers turn into LF.
_XML_BAD = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: ASCII control characters (a CSV cell or header holding one does not read back).
_CONTROL = re.compile("[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CarryRules:
    """What one format can carry.

    Attributes
    ----------
    fmt
        Format name, for messages.
    node_reserved, edge_reserved
        Column / property names the format itself uses on nodes / edges.
    fold_case
        Reserved names are matched case-insensitively (CSV headers).
    text
        How the format stores text (attribute names and string values): ``None`` (names
        are free, strings never written), ``"csv"`` (no control characters, no leading or
        trailing blanks) or ``"xml"`` (only XML 1.0 characters, no CR; names no TAB/LF).
    components
        2-D attributes are written as ``name[k]`` columns, so a name of that shape is
        ambiguous.
    max_exact_int
        Integers beyond this magnitude cannot be stored exactly (PLY keeps 64-bit
        integers as doubles: 2**53); ``None`` if every integer is exact.
    """

    fmt: str
    node_reserved: frozenset[str] = frozenset()
    edge_reserved: frozenset[str] = frozenset()
    fold_case: bool = False
    text: str | None = None
    components: bool = False
    max_exact_int: int | None = None


Carried = Callable[[str, np.ndarray], bool]


def check_carry(web: WebGraph, rules: CarryRules, carried: Carried | None = None) -> None:
    """Raise :class:`InputError` if ``web`` holds an attribute ``rules.fmt`` would garble.

    Parameters
    ----------
    web
        The web about to be written.
    rules
        The format's :class:`CarryRules`.
    carried
        ``carried(name, array)`` is True for the attributes the writer will write (default:
        all); attributes it leaves out are not checked.
    """
    for what, attrs, reserved in (
        ("node", web.node_attrs, rules.node_reserved),
        ("edge", web.edge_attrs, rules.edge_reserved),
    ):
        for name, arr in attrs.items():
            if carried is None or carried(name, arr):
                _check_one(rules, what, name, arr, reserved)


def _check_one(
    rules: CarryRules, what: str, name: str, arr: np.ndarray, reserved: Iterable[str]
) -> None:
    label = f"{what} attribute {name!r}"
    key = name.lower() if rules.fold_case else name
    if key in reserved:
        raise InputError(
            f"{label} has the name of a {rules.fmt} {what} column ({name}); rename it "
            "(araneus JSON keeps any name)"
        )
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        raise InputError(
            f"{label} has dtype {arr.dtype} (long double), which {rules.fmt} cannot store "
            "exactly; cast it to float64 first"
        )
    if rules.max_exact_int is not None and arr.dtype.kind in "iu" and arr.size:
        big = max(abs(int(arr.min())), abs(int(arr.max())))
        if big > rules.max_exact_int:
            raise InputError(
                f"{label} holds the integer {big}, which {rules.fmt} can only store as a "
                "double and would round; store it in araneus JSON or MAT"
            )
    if rules.components and _COMPONENT.match(name):
        raise InputError(
            f"{label}: a name of the form name[k] is how {rules.fmt} stores a column of a "
            "2-D attribute, so it would not read back; rename it"
        )
    if rules.text is not None:
        if not name:
            raise InputError(f"{what} attribute with an empty name: {rules.fmt} needs a name")
        _check_text(rules, f"{label}: its name", name, is_name=True)
        if arr.dtype.kind == "U":
            for v in np.unique(arr).tolist():
                _check_text(rules, f"{label}: the value {v!r}", v, is_name=False)


def _check_text(rules: CarryRules, label: str, text: str, is_name: bool) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{label} is not valid Unicode (a lone surrogate)") from None
    if rules.text == "xml":
        bad = _XML_BAD.search(text) or (is_name and re.search("[\t\n]", text))
        if bad:
            raise InputError(
                f"{label} holds the character {bad.group()!r}, which {rules.fmt} (XML) cannot carry"
            )
    elif rules.text == "csv":
        bad = _CONTROL.search(text)
        if bad:
            raise InputError(
                f"{label} holds the control character {bad.group()!r}, which a {rules.fmt} "
                "cell cannot carry"
            )
        if text != text.strip():
            raise InputError(f"{label} starts or ends with blanks, which {rules.fmt} readers strip")


__all__ = ["CarryRules", "check_carry"]
