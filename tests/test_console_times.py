"""The `when` filter: every time a console page shows is a <time> element holding
a readable UTC text (console.js shows it in the viewer's zone), or "time unknown"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import jinja2
import pytest

from earful.console.pages import install_filters


def render(source: str, **context: object) -> str:
    # the console's own settings: autoescaped, the console's filters
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    install_filters(env)
    return env.from_string(source).render(**context)


WHEN = (
    '<time class="when" datetime="2026-12-01T05:32:10.123Z" title="2026-12-01 05:32:10 UTC">'
    "2026-12-01 05:32 UTC</time>"
)
UNKNOWN = '<span class="when unknown">time unknown</span>'


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-01T05:32:10.123Z",  # as the store writes it
        "2026-12-01T05:32:10.123+00:00",
        "2026-12-01T14:32:10.123+09:00",  # another zone: the same moment
        datetime(2026, 12, 1, 5, 32, 10, 123000, tzinfo=UTC),
        datetime(2026, 12, 1, 0, 32, 10, 123000, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_an_aware_time_is_shown_in_utc(value: object) -> None:
    assert render("{{ t|when }}", t=value) == WHEN


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-01T05:32:10.123",
        "2026-12-01 05:32:10.123",
        datetime(2026, 12, 1, 5, 32, 10, 123000),
    ],
)
def test_a_time_without_a_zone_is_utc_as_the_store_writes_it(value: object) -> None:
    assert render("{{ t|when }}", t=value) == WHEN


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "yesterday",
        "2026-13-45T99:99:99Z",
        "2026-12-01",  # a day, not a moment
        "<script>alert(1)</script>",
        12345,
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),  # before year 1 in UTC
    ],
)
def test_a_missing_or_garbled_time_says_time_unknown(value: object) -> None:
    assert render("{{ t|when }}", t=value) == UNKNOWN


def test_a_queue_rows_time_is_marked_for_its_age() -> None:
    html = render("{{ t|when(age=True) }}", t="2026-12-01T05:32:10.123Z")
    assert html == WHEN.replace('class="when"', 'class="when age"')
    assert render("{{ t|when(age=True) }}", t=None) == UNKNOWN


def test_the_element_is_not_escaped_twice_and_text_around_it_still_is() -> None:
    html = render("{{ who }} at {{ t|when }}", who="<b>bob</b>", t="2026-12-01T05:32:10.123Z")
    assert html == "&lt;b&gt;bob&lt;/b&gt; at " + WHEN
