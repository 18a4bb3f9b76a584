"""Hostile text goes all the way through -- replay file, judge, ingest, the queue
commands, export -- without a crash, and comes out intact. What is shown on a
terminal is made safe (earful/display.py); what is stored and exported is exact."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from replayfiles import write_config, x_post

from earful.cli import cli
from earful.config import load_config
from earful.display import oneline, safe
from storage.store import Store

CUE = "lumenet down again? can't log in"
HOSTILE: dict[str, str] = {
    "html": f"<script>alert('x')</script><img src=x onerror=alert(1)> {CUE} &amp; <b>",
    "huge": f"{CUE} " + "é🙂 " * 14_300,  # ~100 kB of UTF-8
    "nul": "lumenet\x00 down again?\x00 can't log in\x00",
    "surrogates": f"\ud800{CUE}\udfff and \udc00\udbff reversed",
    "bidi": f"{CUE} \u202egnp.exe\u202c \u2066isolated\u2069 \u200f \u061c\u202bembedded",
    "zero-width": f"lu\u200dmenet \u200b{CUE}\u200c\ufeff",
    "emoji": f"{CUE} 👩\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 🇬🇧 👍🏽",
    "terminal": f"\x1b[2J\x1b]0;pwned\x07{CUE}\r\x1b[31mred\x9b\x7f",
    "lines": f"{CUE}\n\n\t-- sent from my phone\r\n\u2028\u2029",
}
HANDLES = {kind: f"hostile_{n}" for n, kind in enumerate(HOSTILE)}
NAME = "Eve \u202eetile\x1b[5m \ud83d"  # display name: bidi, an escape, a lone surrogate

# What a terminal must never receive raw: C0/C1 controls (but newline and tab), DEL,
# every bidi control (the Arabic letter mark, marks, embeddings, overrides and
# isolates), lone surrogates.
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def run(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, [*args, "-c", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def terminal_text(result: Result) -> str:
    """What the terminal got: strict UTF-8 (a raw lone surrogate could not be encoded)."""
    out = result.stdout_bytes.decode("utf-8")
    assert not UNSAFE.search(out), repr(UNSAFE.search(out))
    return out


def polled(tmp_path: Path) -> Path:
    """A config whose database holds the hostile posts, polled and judged."""
    posts = [
        x_post(n, text, HANDLES[kind], name=NAME) for n, (kind, text) in enumerate(HOSTILE.items())
    ]
    path = write_config(tmp_path, posts)
    result = run(path, "poll")
    assert f"fetched {len(HOSTILE)}, new {len(HOSTILE)}" in result.output
    return path


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the tests that only read; a test that decides polls its own."""
    return polled(tmp_path_factory.mktemp("hostile"))


def stored(config: Path) -> dict[str, Any]:
    """Each hostile kind's mention id, text, verdict and reply, from the store."""
    out: dict[str, Any] = {}
    with Store.open(load_config(config).db_path) as store:
        replies = {r.author_handle: r for r in store.replies(None, limit=100)}
        for kind, handle in HANDLES.items():
            reply = replies[handle]
            out[kind] = (store.mention(reply.mention_id), store.verdict(reply.mention_id), reply)
    return out


def test_hostile_posts_are_stored_intact_and_judged(config: Path) -> None:
    for kind, (mention, verdict, reply) in stored(config).items():
        assert mention.text == HOSTILE[kind], kind
        assert mention.author_name == NAME, kind
        assert verdict.disposition == "interesting_bad", kind  # the cue survives the noise
        assert reply.kind == "reply" and reply.body, kind
        # the draft greets "Eve" and passes none of the post's controls on to the platform
        assert reply.drafted_body.startswith("Hi Eve,") and not UNSAFE.search(reply.drafted_body)


def test_queue_list_shows_every_hostile_post_safely(config: Path) -> None:
    out = terminal_text(run(config, "queue", "list", "--limit", "100"))
    assert all(f"@{handle}" in out for handle in HANDLES.values())
    assert len(out.splitlines()) == 1 + len(HOSTILE)  # one line each, whatever they hold


@pytest.mark.parametrize("kind", HOSTILE)
def test_queue_show_neutralises_control_characters_and_keeps_the_rest(
    config: Path, kind: str
) -> None:
    _, _, reply = stored(config)[kind]
    out = terminal_text(run(config, "queue", "show", str(reply.id)))
    # the post is there, its unsafe characters as visible \u escapes
    for line in safe(HOSTILE[kind]).splitlines():
        assert f"  > {line}" in out
    if kind == "emoji":
        assert "👩\u200d👩\u200d👧\u200d👦" in out  # joined sequences stay joined
    if kind == "bidi":
        assert "\\u202egnp.exe\\u202c" in out


def test_queue_show_json_round_trips_the_exact_text(config: Path) -> None:
    for kind, (_, _, reply) in stored(config).items():
        result = run(config, "queue", "show", str(reply.id), "--json")
        detail = json.loads(result.stdout_bytes.decode("utf-8"))
        assert detail["mention"]["text"] == HOSTILE[kind], kind


def test_export_json_gives_back_exactly_what_was_posted(config: Path) -> None:
    raw = run(config, "export", "mentions", "--format", "json").stdout_bytes
    records = json.loads(raw.decode("utf-8", "surrogatepass"))
    assert {r["author_handle"]: r["text"] for r in records} == {
        HANDLES[kind]: text for kind, text in HOSTILE.items()
    }
    # byte for byte: each text is in the file as JSON writes it, or (with lone
    # surrogates, which UTF-8 cannot carry) as \u escapes
    for text in HOSTILE.values():
        plain_json = json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")
        assert plain_json in raw or json.dumps(text).encode("ascii") in raw


def test_export_csv_gives_back_what_was_posted_in_valid_utf_8(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "mentions.csv"
    run(config, "export", "mentions", "--format", "csv", "-o", str(out))
    text = out.read_bytes().decode("utf-8")  # strictly: one bad byte fails a whole file
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    # every character as posted, but a lone surrogate (no UTF-8 has one) as its
    # escape, such as \udc9f; --format json has the exact text
    assert {r["author_handle"]: r["text"] for r in rows} == {
        HANDLES[kind]: text.encode("utf-8", "backslashreplace").decode("utf-8")
        for kind, text in HOSTILE.items()
    }


def test_search_and_callbacks_show_hostile_text_safely(config: Path) -> None:
    terminal_text(run(config, "search", "script"))
    terminal_text(run(config, "search", "\x1b[2J \u202e"))
    terminal_text(run(config, "callbacks", "list"))
    terminal_text(run(config, "classify", "--explain", HOSTILE["terminal"]))


def test_a_handle_shows_its_invisible_characters_and_keeps_the_columns_straight(
    tmp_path: Path,
) -> None:
    # "ac\u200bme" reads as "acme" and is one column narrower than padding counts it
    path = write_config(tmp_path, [x_post(1, CUE, "ac\u200bme\u2060")])
    run(path, "poll")
    shown = "@ac\\u200bme\\u2060"
    listing = terminal_text(run(path, "queue", "list")).splitlines()
    assert not re.search("[\u200b\u2060]", "\n".join(listing))
    post_at = listing[0].index("POST")
    assert listing[1].index(shown) + len(shown) < post_at
    assert listing[1][post_at:].startswith("[account]")  # where the header says
    # the author as queue show, case show and search name them (a task's text and a
    # link, which hold the handle too, are shown as they are)
    for args in (("queue", "show", "1"), ("case", "show", "1"), ("search", "lumenet")):
        assert shown in terminal_text(run(path, *args)), args


def test_an_edit_with_characters_no_platform_should_get_is_refused(config: Path) -> None:
    _, _, reply = stored(config)["html"]
    for char in ("\x00", "\x1b", "\x9b", "\ud800", "\u202e"):
        edit = f"Sorry!{char}[31m we will call"
        result = CliRunner().invoke(
            cli, ["queue", "approve", str(reply.id), "--edit", edit, "-c", str(config)]
        )
        assert result.exit_code == 1
        assert f"(U+{ord(char):04X}) at character 7; take it out" in result.output
    with Store.open(load_config(config).db_path) as store:
        assert store.reply(reply.id).status == "pending"


def test_approving_a_hostile_edit_keeps_it_exact(tmp_path: Path) -> None:
    # its own database: the shared one's "html" draft must stay pending for the others
    config = polled(tmp_path)
    _, _, reply = stored(config)["html"]
    # bidi marks and isolates pass (right-to-left writing uses them); overrides do not
    edit = "Sorry! <script>x</script> \u200f\u2066 👍🏽\u2069\nline two\ttab"
    run(config, "queue", "approve", str(reply.id), "--edit", edit, "--as", "alice")
    with Store.open(load_config(config).db_path) as store:
        assert store.reply(reply.id).body == edit
    terminal_text(run(config, "queue", "show", str(reply.id)))
    run(config, "publish")
    with Store.open(load_config(config).db_path) as store:
        sent = store.reply(reply.id)
        assert (sent.status, sent.body) == ("sent", edit)


# -- display.py ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    list("\x00\x07\x08\x1b\r\x7f\x85\x9b\u202e\u2066\u061c\ud800"),
)
def test_safe_shows_unsafe_characters_as_visible_escapes(char: str) -> None:
    shown = safe(f"a{char}b")
    assert shown == f"a\\u{ord(char):04x}b"
    assert not UNSAFE.search(shown)


def test_safe_keeps_newlines_tabs_joiners_and_emoji() -> None:
    text = "line one\n\tline two 👩\u200d👩\u200d👧 lu\u200dmenet 🇬🇧 <b>&amp;</b>"
    assert safe(text) == text


def test_oneline_flattens_and_cuts_to_the_width() -> None:
    assert oneline("a\nb\r\nc", 80) == "a b\\u000d c"
    assert oneline("x" * 100, 10) == "x" * 9 + "…"
    assert oneline(None, 5) == ""
    # an escape is kept whole or left out: "\u20…" reads as neither text nor escape
    assert oneline("abc\u202edef ghi", 6) == "abc…"
    assert oneline("abc\u202edef ghi", 11) == "abc\\u202ed…"
