"""Showing stored text to a person or a script without letting it misbehave: post
text may hold terminal escape sequences, bidi overrides, NUL bytes and lone
surrogates, and must neither drive the terminal nor break JSON output."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Control characters (but newline and tab), the bidi controls (Unicode's Bidi_Control:
# the Arabic letter mark, LRM/RLM, embeddings, overrides, isolates), and lone
# surrogates: shown as visible \u escapes so the terminal shows them literally.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def safe(text: str | None) -> str:
    """Text for a terminal: the same characters, but the unsafe ones made visible."""
    return _UNSAFE.sub(_escape, text or "")


# What a person calls each disposition, in the order reports list them: "ignore" holds
# the brand's own posts and spam as well as chatter.
DISPOSITION_NAMES = {
    "interesting_bad": "complaint",
    "interesting_good": "praise",
    "question": "question",
    "ignore": "other (chatter, spam, own posts)",
}


def named_dispositions(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts by disposition under the names a person reads (DISPOSITION_NAMES), in
    its order, as the console's stats page lists them; a name it lacks is kept as is."""
    named = {name: counts[d] for d, name in DISPOSITION_NAMES.items() if d in counts}
    return named | {d: n for d, n in counts.items() if d not in DISPOSITION_NAMES}


# Spreadsheets run a cell that starts like a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """A CSV cell that stays text when opened in a spreadsheet: a post saying
    `=HYPERLINK(...)` gets a leading "'" instead of being run. Flags are 1 and 0,
    which a spreadsheet can sum; a list (labels) is its JSON text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# A lone surrogate (a truncated emoji, which platforms do send) has no UTF-8: a file
# holding one as raw bytes fails strict readers (Python's csv, pandas, iconv) as a
# whole, so exports write it as six characters (\ud83d for a cut emoji), as pages
# show it.
EXPORT_ERRORS = "backslashreplace"


def write_csv(stream: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """A CSV export, header first, each cell guarded (spreadsheet_cell): the same
    bytes from `earful export` and the console's download. Returns the rows written."""
    writer = csv.writer(stream)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([spreadsheet_cell(v) for v in row])
        count += 1
    return count


# The start of an escape `safe` wrote, cut short at the end of a preview
_CUT_ESCAPE = re.compile(r"\\u[0-9a-f]{0,3}$")


def oneline(text: str | None, width: int) -> str:
    """A one-line preview at most `width` characters wide; an escape `safe` wrote is
    kept whole or left out, never cut to "\\u20…"."""
    flat = " ".join(safe(text).split())
    if len(flat) <= width:
        return flat
    head = flat[: max(width - 1, 0)]
    cut = _CUT_ESCAPE.search(head)
    if cut and re.fullmatch(r"\\u[0-9a-f]{4}", flat[cut.start() : cut.start() + 6]):
        head = head[: cut.start()]
    return head + "…"


# The invisible format characters (zero-width space, joiners, word joiner, BOM, soft
# hyphen, invisible operators, tags): no platform's handle holds one, and in a handle
# they hide ("acme\u200bhelp" reads as the brand's "acmehelp") and shift the columns
# after it. Post text keeps them (emoji and several scripts need joiners).
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff\U000e0000-\U000e007f]")


def shown_handle(handle: str | None, width: int, missing: str = "-") -> str:
    """ "@handle" for a terminal, at most `width` wide, with what `safe` escapes and
    every invisible character escaped too; `missing` when there is none."""
    if not handle:
        return missing
    return oneline("@" + _INVISIBLE.sub(_escape, handle), width)


def plain(value: Any) -> Any:
    """Dataclasses, tuples and the like as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def to_json(value: Any, *, indent: int | None = 2) -> str:
    """Readable UTF-8 JSON; where the text holds lone surrogates (which no UTF-8 can
    carry) it falls back to \\u escapes, which JSON readers turn back into the same
    string."""
    data = plain(value)
    out = json.dumps(data, ensure_ascii=False, indent=indent, default=str)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        out = json.dumps(data, ensure_ascii=True, indent=indent, default=str)
    return out


def audit_detail(detail: str | None, key: str) -> str | None:
    """One text of an audit entry's detail (the note given with a case change, whom
    a case was assigned to), or None."""
    try:
        said = json.loads(detail or "{}")
    except ValueError:
        return None
    value = said.get(key) if isinstance(said, dict) else None
    return value if isinstance(value, str) else None


def audit_note(detail: str | None) -> str:
    """What was said with a change, or "": the note a person gave with a case change
    (escalate, resolve), else its reason (a rejection's; an escalation's own,
    "urgency 70 >= 70")."""
    return audit_detail(detail, "note") or audit_detail(detail, "reason") or ""


def counted(n: int, one: str, many: str | None = None) -> str:
    """ "1 case", "2 cases", "1,204 replies" (`many` where "s" is not the plural)."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def tallied(counts: Mapping[str, int]) -> str:
    """{"sent": 2, "failed": 1} as a line says it: "sent 2, failed 1" ("" for none)."""
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 0:
        return "-" + duration(-seconds)
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    # the larger unit and the next, that one left out when 0: "every 2m", not "2m 0s"
    for big, unit, small, small_unit in (
        (days, "d", hours, "h"),
        (hours, "h", minutes, "m"),
        (minutes, "m", secs, "s"),
    ):
        if big:
            return f"{big}{unit} {small}{small_unit}" if small else f"{big}{unit}"
    return f"{secs}s"
