"""What a reader sees of an HTML report: its text outside scripts and styles."""

from __future__ import annotations

import html
import re

#: What a page for people must not show: exponents, Python/JSON literals, empty lists and
#: "unknown" (a thread-type legend without a name).
RAW_VALUES = re.compile(r"\d[eE][+-]?\d|\b(True|False|None|null|nan|NaN)\b|\[\]|\bunknown\b")


def visible_text(page: str) -> str:
    """The page's text outside scripts and styles, tags removed, entities decoded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))
