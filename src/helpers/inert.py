"""Make untrusted values inert where they are shown: Markdown, HTML and CSV cells.

Every value that comes from an input (university names of the reference table, 院系, 专业名称,
单位名称, sheet and file names) may hold markup. Reports render Markdown with nbconvert (mistune),
which passes raw HTML through and turns ``[x](javascript:…)``, ``<javascript:…>`` and bare
``http://…`` into live links; Excel and WPS evaluate a CSV cell that begins with ``=``. So:

- :func:`md` escapes one value for Markdown (HTML characters as entities, Markdown punctuation
  with a backslash, line breaks folded): the value renders as exactly its text and forms no tag,
  link, image, emphasis, heading, list or table cell boundary;
- :func:`md_text` does the same for a plain-text paragraph (or paragraphs separated by blank
  lines) from a text builder: builders return plain text (a Word document uses it as it is), the
  notebook escapes it where it becomes Markdown;
- :func:`html` escapes a value for HTML text or a quoted attribute;
- :func:`csv_cell` neutralises a CSV cell per the OWASP CSV-injection rule (a text cell that
  begins with ``=``, ``+``, ``-``, ``@``, tab, carriage return or line feed, or their full-width
  forms, gets a leading apostrophe; numbers and number-like text such as ``-3.2%`` stay as they
  are); :func:`csv_plain` undoes it when a table is read back (the workbook stores the original
  text as a text cell).
"""

from __future__ import annotations

import html as _html
import math
import re
from decimal import Decimal
from numbers import Number

__all__ = ["csv_cell", "csv_plain", "html", "md", "md_text"]

# CommonMark: any ASCII punctuation may be backslash-escaped and then renders as itself. These can
# start or close syntax (emphasis, links, images, code, headings, lists, tables, strikethrough,
# math, autolinks via ":"); "&<>\"'" are HTML-escaped instead (entities render as the character).
_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$=])")
# Line breaks start new blocks; other control characters and bidi overrides have no business in
# a name and can disguise what is shown.
_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029\t]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_PARAGRAPHS = re.compile(r"\n[ \t]*\n\s*")


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return isinstance(value, float) and math.isnan(value)


def _text(value) -> str:
    return "" if _missing(value) else str(value)


def md(value) -> str:
    """``value`` as Markdown that renders as its own text and nothing else (missing -> "")."""
    s = _CONTROLS.sub("", _BREAKS.sub(" ", _text(value)))
    s = _html.escape(_MD_PUNCT.sub(r"\\\1", s), quote=True)
    # four leading spaces make a code block when the value starts a line
    return "&#32;" + s[1:] if s.startswith(" ") else s


def md_text(text) -> str:
    """A plain-text paragraph (blank lines separate paragraphs) as inert Markdown: every paragraph
    escaped with :func:`md`, paragraphs kept apart. For the output of text builders, which return
    plain text so that other outputs (a Word document) can use it unescaped."""
    parts = _PARAGRAPHS.split(_text(text).replace("\r\n", "\n").strip())
    return "\n\n".join(md(p.strip()) for p in parts if p.strip())


def html(value) -> str:
    """``value`` escaped for HTML text or a quoted attribute value (missing -> "")."""
    return _html.escape(_CONTROLS.sub("", _text(value)), quote=True)


# OWASP CSV injection: cells beginning with these are formulas (or DDE) to Excel, WPS, LibreOffice
# and Google Sheets; the full-width forms are converted by some of them.
CSV_TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
# Text that is a plain number ("-12", "+3.2%", "-1,234.5") is a number to a spreadsheet, not a
# formula: left as it is (as defusedcsv does), so signed display values keep their look.
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?%?")


def _needs_quote(s: str) -> bool:
    # a leading apostrophe is stripped again by csv_plain, so a value that already begins with
    # apostrophes before a trigger gets one more (the mapping stays reversible)
    body = s.lstrip("'")
    return bool(body) and body[0] in CSV_TRIGGERS and not _NUMBER_TEXT.fullmatch(body)


def csv_cell(value):
    """A CSV cell that no spreadsheet evaluates: text beginning with a formula trigger gets a
    leading apostrophe; numbers (and anything not text) are returned unchanged."""
    if not isinstance(value, str) or isinstance(value, (Number, Decimal)):
        return value
    return "'" + value if _needs_quote(value) else value


def csv_plain(value):
    """The value :func:`csv_cell` was given (for reading a neutralised table back)."""
    if isinstance(value, str) and value.startswith("'") and _needs_quote(value[1:]):
        return value[1:]
    return value
