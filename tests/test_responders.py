"""Responders: from a judged mention to drafts. Pure functions, no setup."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import mention, verdict

from listener.mention import Brand
from responders.context import ResponderSettings, first_name
from responders.drafts import Contact, Draft, DraftKind, contact_weight
from responders.limits import reply_problem
from responders.respond import respond
from responders.templating import TemplateError, Templates
from rules.verdict import Disposition

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SETTINGS = ResponderSettings(brand=Brand("Acme"))


def kinds(drafts: tuple[Draft, ...]) -> list[str]:
    return [d.kind.value for d in drafts]


def test_complaint_gets_an_apology_and_a_callback_task() -> None:
    m = mention("charged twice", handle="ana")
    drafts = respond(m, verdict(topic="billing"), SETTINGS, last_contact=None, now=NOW)
    assert kinds(drafts) == ["reply", "callback"]
    reply, callback = drafts
    assert "charge" in reply.body and "call you back" in reply.body
    assert callback.body.startswith("Contact @ana on X about billing")
    assert m.url is not None
    assert m.url in callback.body
    assert all(d.target == m.key for d in drafts)


def test_complaint_on_a_read_only_platform_is_a_callback_only() -> None:
    m = mention("acme is down", platform="hackernews")
    drafts = respond(m, verdict(), SETTINGS, last_contact=None, now=NOW)
    assert kinds(drafts) == ["callback"]
    assert "Hacker News" in drafts[0].body


def test_no_reply_action_keeps_the_callback() -> None:
    v = replace(verdict(), actions=("no_reply",))
    assert kinds(respond(mention(), v, SETTINGS, last_contact=None, now=NOW)) == ["callback"]


def test_praise_gets_a_thank_you() -> None:
    v = verdict(Disposition.INTERESTING_GOOD, topic=None)
    (draft,) = respond(mention("love it"), v, SETTINGS, last_contact=None, now=NOW)
    assert draft.kind is DraftKind.THANKS and draft.body.startswith("Thank you, Ana!")


def test_question_gets_an_answer_offer_or_a_task_where_replies_are_impossible() -> None:
    v = verdict(Disposition.QUESTION, topic=None)
    assert kinds(respond(mention("how?"), v, SETTINGS, last_contact=None, now=NOW)) == ["reply"]
    rss = mention("how?", platform="rss")
    assert kinds(respond(rss, v, SETTINGS, last_contact=None, now=NOW)) == ["callback"]


def test_a_follow_up_in_private_messages_gets_a_task_not_a_public_reply() -> None:
    v = replace(verdict(Disposition.QUESTION, topic=None), labels=("follow_up",))
    drafts = respond(mention("DM sent, thanks"), v, SETTINGS, last_contact=None, now=NOW)
    assert kinds(drafts) == ["callback"]
    assert drafts[0].reason == "follow-up in private messages: answer it there"


def test_noise_gets_nothing() -> None:
    v = verdict(Disposition.IGNORE, topic=None)
    assert respond(mention("lunch"), v, SETTINGS, last_contact=None, now=NOW) == ()


def test_no_second_draft_to_the_same_author_within_the_cooldown() -> None:
    recent = Contact(NOW - timedelta(hours=1))
    # a complaint is still news for whoever has the author's case: a follow-up
    (news,) = respond(mention(), verdict(), SETTINGS, last_contact=recent, now=NOW)
    assert news.kind.value == "follow_up" and "no second reply" in news.reason
    assert "Contact @ana" in news.body
    praise = verdict(Disposition.INTERESTING_GOOD)
    assert respond(mention(), praise, SETTINGS, last_contact=recent, now=NOW) == ()
    old = Contact(NOW - timedelta(days=2))
    assert kinds(respond(mention(), verdict(), SETTINGS, last_contact=old, now=NOW)) == [
        "reply",
        "callback",
    ]


def test_urgent_complaint_escalates_even_within_the_cooldown() -> None:
    v = verdict(urgency=85)
    recent = Contact(NOW - timedelta(minutes=5))
    drafts = respond(mention(followers=250_000), v, SETTINGS, last_contact=recent, now=NOW)
    assert kinds(drafts) == ["follow_up", "escalation"]
    assert "Urgent (85/100)" in drafts[1].body and "250,000 followers" in drafts[1].body


def test_a_thank_you_does_not_cool_the_complaint_that_follows_it() -> None:
    thanked = Contact(NOW - timedelta(hours=1), contact_weight(Disposition.INTERESTING_GOOD))
    drafts = respond(mention(), verdict(), SETTINGS, last_contact=thanked, now=NOW)
    assert kinds(drafts) == ["reply", "callback"]
    # ...nor a question's answer; but an apology cools the praise and questions after it
    answered = Contact(NOW - timedelta(hours=1), contact_weight(Disposition.QUESTION))
    assert kinds(respond(mention(), verdict(), SETTINGS, last_contact=answered, now=NOW)) == [
        "reply",
        "callback",
    ]
    apologised = Contact(NOW - timedelta(hours=1), contact_weight(Disposition.INTERESTING_BAD))
    for later in (Disposition.INTERESTING_GOOD, Disposition.QUESTION):
        v = verdict(later, topic=None)
        assert respond(mention("ok"), v, SETTINGS, last_contact=apologised, now=NOW) == ()
    praise = verdict(Disposition.INTERESTING_GOOD, topic=None)
    assert respond(mention("love it"), praise, SETTINGS, last_contact=thanked, now=NOW) == ()


def test_a_complaint_in_another_language_gets_a_task_not_an_english_apology() -> None:
    v = replace(verdict(), labels=("outage", "non_english"), lang="es")
    m = mention("mi internet no funciona otra vez, es un desastre total 😡")
    (task,) = respond(m, v, SETTINGS, last_contact=None, now=NOW)
    assert task.kind is DraftKind.CALLBACK
    assert "written in es: read it and answer in its language" in task.reason


def test_escalate_action_escalates_noise_too() -> None:
    # a rule that escalates press enquiries need not also call them complaints
    v = replace(verdict(Disposition.IGNORE, topic=None), actions=("escalate",))
    drafts = respond(mention("reporter here"), v, SETTINGS, last_contact=None, now=NOW)
    assert kinds(drafts) == ["escalation"]
    assert drafts[0].reason == "rule asked to escalate"
    # and the alert does not call it an urgent complaint
    assert drafts[0].body.startswith("Escalated by a rule (40/100): a post from @ana on X")


def test_escalate_action_escalates_below_the_threshold() -> None:
    v = replace(verdict(urgency=30), actions=("escalate",))
    drafts = respond(mention(), v, SETTINGS, last_contact=None, now=NOW)
    assert kinds(drafts) == ["reply", "callback", "escalation"]
    assert drafts[-1].reason == "rule asked to escalate"


@pytest.mark.parametrize(
    ("display", "greeting"),
    [
        ("Ana Lima", "Ana"),
        ("🌸 | she/her", None),
        ("", None),
        (None, None),
        ("<b>x</b>", None),
        ("Dr Alex Khan", "Alex"),
        ("Prof. Mei Chen", "Mei"),
        ("Dr", None),
        ("Gadget Guy UK", None),
        ("The Broadband Shop", None),
        ("Newsdesk North", None),
        ("Northwind Logistics – Ops", None),
        ("Nightshift Nurse Jo", "Jo"),
        ("Coach Dee Harris", "Dee"),
        ("Nurse", None),
    ],
)
def test_replies_greet_by_a_first_name_only_when_there_is_one(
    display: str | None, greeting: str | None
) -> None:
    assert first_name(display) == greeting


def test_hostile_author_data_renders_as_plain_text() -> None:
    from listener.mention import Author, Mention

    m = Mention(
        platform="x",
        native_id="1",
        text="<script>alert(1)</script> down \ud800",
        author=Author(handle="{{7*7}}", name="{% raw %}"),
        url=None,
    )
    reply, callback = respond(m, verdict(), SETTINGS, last_contact=None, now=NOW)
    assert "49" not in callback.body and "@{{7*7}}" in callback.body
    assert "(no link)" in callback.body
    assert reply.body.startswith("Hi {{7*7}}")


def test_a_template_folder_overrides_by_file_name(tmp_path: Path) -> None:
    (tmp_path / "thanks.j2").write_text("Cheers {{ author }} from {{ brand }}!")
    settings = ResponderSettings(brand=Brand("Acme"), templates=Templates(tmp_path))
    v = verdict(Disposition.INTERESTING_GOOD, topic=None)
    (draft,) = respond(mention(handle="bo"), v, settings, last_contact=None, now=NOW)
    assert draft.body == "Cheers bo from Acme!"


def test_a_template_with_an_unknown_variable_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / "thanks.j2").write_text("Cheers {{ nmae }}")
    with pytest.raises(TemplateError, match=r"thanks\.j2.*nmae"):
        Templates(tmp_path)


def test_a_template_that_cannot_escape_the_sandbox(tmp_path: Path) -> None:
    (tmp_path / "thanks.j2").write_text("{{ author.__class__.__mro__ }}")
    with pytest.raises(TemplateError, match=r"thanks\.j2"):
        Templates(tmp_path)


def test_a_template_failing_on_odd_data_falls_back_to_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "thanks.j2").write_text("Thanks {{ '{:,}'.format(followers) }}")
    settings = ResponderSettings(brand=Brand("Acme"), templates=Templates(tmp_path))
    v = verdict(Disposition.INTERESTING_GOOD, topic=None)
    (draft,) = respond(mention(followers=None), v, settings, last_contact=None, now=NOW)
    assert draft.body.startswith("Thank you")


def test_a_mastodon_reply_is_checked_with_the_mention_it_will_be_posted_with() -> None:
    # passed at approval, refused by the publisher for the "@ana " it adds: a reply
    # that then could only fail
    body = "x" * 498
    assert reply_problem("mastodon", body) is None
    assert reply_problem("mastodon", body, "ana@fosstodon.org") == (
        "the reply is 503 characters with the @mention it is posted with; mastodon allows 500"
    )
    assert reply_problem("mastodon", "@ana@fosstodon.org " + "x" * 475, "ana@fosstodon.org") is None


def test_a_missing_name_prints_nothing_not_none(tmp_path: Path) -> None:
    (tmp_path / "thanks.j2").write_text("Thanks {{ name }}! Glad {{ topic }} went well.")
    settings = ResponderSettings(brand=Brand("Acme"), templates=Templates(tmp_path))
    v = verdict(Disposition.INTERESTING_GOOD, topic=None)
    (draft,) = respond(mention("love it"), v, settings, last_contact=None, now=NOW)
    assert "None" not in draft.body and "Glad  went well" in draft.body


def test_a_variable_earful_does_not_provide_is_an_error_on_any_branch(tmp_path: Path) -> None:
    # the sample post is about billing: rendering it never reaches the outage branch,
    # and the first outage would have fallen back to the shipped English text
    (tmp_path / "complaint_reply.j2").write_text(
        'Hallo {{ name }}.{% if topic == "outage" %} Störung in {{ region }}.{% endif %}'
    )
    with pytest.raises(TemplateError, match=r"complaint_reply\.j2 uses region, which Earful"):
        Templates(tmp_path)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["complaint-reply.j2"], r"complaint-reply\.j2 is not a template Earful reads \(did you"),
        (["callback.j2", "thank_you.jinja"], r"thank_you\.jinja .*did you mean thanks\.j2"),
    ],
)
def test_a_misnamed_template_file_is_an_error(
    tmp_path: Path, files: list[str], message: str
) -> None:
    for name in files:
        (tmp_path / name).write_text("Hi {{ author }}")
    with pytest.raises(TemplateError, match=message):
        Templates(tmp_path)


def test_a_piece_the_templates_include_and_an_empty_folder_are_fine(tmp_path: Path) -> None:
    (tmp_path / "signature.j2").write_text("-- The {{ brand }} team")
    (tmp_path / "thanks.j2").write_text('Thanks!\n{% include "signature.j2" %}')
    settings = ResponderSettings(brand=Brand("Acme"), templates=Templates(tmp_path))
    v = verdict(Disposition.INTERESTING_GOOD, topic=None)
    (draft,) = respond(mention("love it"), v, settings, last_contact=None, now=NOW)
    assert draft.body == "Thanks!\n-- The Acme team"
    (tmp_path / "empty").mkdir()
    Templates(tmp_path / "empty")  # nothing overridden yet: the shipped ones


def test_a_template_syntax_error_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "callback.j2").write_text("Call {{ author }}\nabout {{ topic }\n")
    with pytest.raises(TemplateError, match=r"template callback\.j2, line 2: "):
        Templates(tmp_path)


def test_a_missing_template_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        Templates(tmp_path / "nope")


@pytest.mark.parametrize(
    ("platform", "body", "problem"),
    [
        ("x", "a" * 280, None),
        ("x", "a" * 281, "the reply is 281 weighted characters; x allows 280"),
        ("reddit", "a" * 10_001, "the reply is 10001 characters; reddit allows 10000"),
        ("bluesky", "e\u0301" * 300, None),
        ("x", "   ", "the reply is empty"),
        ("x", "\u200b\u2800", "the reply shows nothing"),  # zero-width space, Braille blank
        ("mastodon", "\u00ad \u3164\ufe0f\u200d", "the reply shows nothing"),
        ("bluesky", "\u2060\u0301", "the reply shows nothing"),
        ("x", "\u2764\ufe0f", None),  # a heart shows
        ("x", "\u200bok", None),
        ("rss", "hi", "rss is read-only: Earful cannot post there; use the callback task"),
        # an override pasted from a post shows "evil" as "live" in the editor
        (
            "x",
            "so sorry \u202elive\u202c",
            "the reply holds a direction override, which shows text reversed (U+202E) at "
            "character 10; take it out",
        ),
        ("x", "\u05e9\u05dc\u05d5\u05dd \u200f\u2067ok\u2069", None),  # marks, isolates: RTL text
    ],
)
def test_reply_limits_per_platform(platform: str, body: str, problem: str | None) -> None:
    assert reply_problem(platform, body) == problem


@pytest.mark.parametrize(
    ("handle", "platform", "greeted"),
    [
        ("user104@other.test", "mastodon", "Hi user104,"),
        ("@ana@mastodon.social", "mastodon", "Hi ana,"),
        ("ana.bsky.social", "bluesky", "Hi ana,"),
        ("jane_doe", "x", "Hi jane_doe,"),
        # a direction override would make the draft one
        # that approval refuses; a zero-width space would be posted unseen
        ("evil\u202eeman", "x", "Hi there,"),
        ("ana\u200b", "mastodon", "Hi there,"),
    ],
)
def test_a_reply_greets_by_the_handle_as_people_say_it_when_there_is_no_name(
    handle: str, platform: str, greeted: str
) -> None:
    # "Hi user104@other.test," under a post that already @mentions the whole handle
    m = mention("down again", platform=platform, handle=handle)
    m = replace(m, author=replace(m.author, name="Newsdesk North"))  # no person's name
    reply = respond(m, verdict(), SETTINGS, last_contact=None, now=NOW)[0]
    assert reply.body.startswith(greeted), reply.body
    assert reply_problem("x", reply.body) is None
