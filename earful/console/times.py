"""Times on the console's pages. The store keeps UTC ISO 8601 text; a page shows
each as a <time> element whose text is a readable UTC form, which console.js
rewrites to the viewer's own time zone (and, for a queue row, to the post's age).
The readable UTC text is what a page shows without its script."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup

from listener.mention import shown_utc
from storage.db import iso

UNKNOWN = "time unknown"


def utc_moment(value: object) -> datetime | None:
    """`value` (ISO 8601 text or a datetime) as an aware UTC datetime; None when
    it is missing or not a time. A time without a zone is UTC, as the store
    writes it (storage.db.iso)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value.strip()) > len("2026-12-01"):
        # a bare date is a day, not a moment: no time to show in another zone
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 with an offset east of UTC, say
        return None


def readable_utc(value: object) -> str:
    """ "2026-12-01 05:32 UTC", or "time unknown"."""
    moment = utc_moment(value)
    return UNKNOWN if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def exact_utc(moment: datetime) -> str:
    # console.js writes the same text into the title of a time it shows
    return shown_utc(moment)


def time_element(value: object, *, age: bool = False) -> Markup:
    """The Jinja filter `when`: a <time> element for a stored time, or a plain
    "time unknown". With `age`, console.js shows how long ago it was ("5 min
    ago") instead of the local time."""
    moment = utc_moment(value)
    if moment is None:
        return Markup('<span class="when unknown">{}</span>').format(UNKNOWN)
    return Markup('<time class="{}" datetime="{}" title="{}">{}</time>').format(
        "when age" if age else "when", iso(moment), exact_utc(moment), readable_utc(moment)
    )
