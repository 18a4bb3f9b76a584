"""rules.engine: the TOML rule language (load, validate, compose, judge, explain)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from listener.mention import Author, Brand, Mention
from rules import (
    Disposition,
    RuleError,
    RuleExampleFailed,
    RuleFileUnreadable,
    Ruleset,
    explain,
    judge,
    load_ruleset,
)

BRAND = Brand(
    "Acme",
    keywords=("acme", "#acmefail"),
    handles={"x": "AcmeHelp", "mastodon": "@acme@mastodon.social"},
)
REPO = Path(__file__).resolve().parents[1]


def post(
    text: str,
    *,
    platform: str = "x",
    handle: str | None = "ana",
    followers: int | None = 100,
    verified: bool | None = None,
    url: str | None = None,
    likes: int | None = None,
    reposts: int | None = None,
    replies: int | None = None,
    in_reply_to: str | None = None,
) -> Mention:
    return Mention(
        platform=platform,
        native_id="1",
        text=text,
        author=Author(handle=handle, followers=followers, verified=verified, url=url),
        likes=likes,
        reposts=reposts,
        replies=replies,
        in_reply_to=in_reply_to,
    )


def load(tmp_path: Path, *files: str, lists: Mapping[str, Sequence[str]] | None = None) -> Ruleset:
    """A rule set from TOML texts, written to tmp_path as r0.toml, r1.toml, ..."""
    names = []
    for i, text in enumerate(files):
        (tmp_path / f"r{i}.toml").write_text(textwrap.dedent(text), encoding="utf-8")
        names.append(f"r{i}.toml")
    return load_ruleset(names, brand=BRAND, lists=lists or {}, base_dir=tmp_path)


def rule(when: str, then: str = 'labels = ["hit"]', rule_id: str = "r", priority: int = 0) -> str:
    return (
        f'[[rules]]\nid = "{rule_id}"\npriority = {priority}\n'
        f"[rules.when]\n{textwrap.dedent(when)}\n[rules.then]\n{textwrap.dedent(then)}\n"
    )


def fires(ruleset: Ruleset, text: str, **kwargs: object) -> bool:
    return "hit" in judge(post(text, **kwargs), ruleset).labels  # type: ignore[arg-type]


def error(tmp_path: Path, *files: str, lists: Mapping[str, Sequence[str]] | None = None) -> str:
    with pytest.raises(RuleError) as caught:
        load(tmp_path, *files, lists=lists)
    return str(caught.value)


# -- phrases ----------------------------------------------------------------------


def test_phrase_matches_whatever_the_case(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["is down"]'))
    assert fires(rs, "The App IS DOWN")


def test_phrase_matches_whole_words_only(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["down"]'))
    assert not fires(rs, "downloading the update")
    assert fires(rs, "down, again")


def test_apostrophes_straight_curly_and_missing_are_the_same(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["can\'t log in"]'))
    assert fires(rs, "can't log in")
    assert fires(rs, "can’t log in")
    assert fires(rs, "cant log in")


def test_whitespace_between_phrase_words_is_flexible(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["on hold"]'))
    assert fires(rs, "been on\n   hold forever")


def test_punctuation_separates_words(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["outage"]'))
    assert fires(rs, "#outage again...")


def test_multi_word_phrase_skips_handles_and_the_brand_name(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["thanks for nothing", "cancel my account"]'))
    assert fires(rs, "thanks @AcmeHelp for nothing")
    assert fires(rs, "I want to cancel my Acme account")


def test_phrase_of_three_words_needs_them_in_order(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["where is my order"]'))
    assert fires(rs, "so where is my order??")
    assert not fires(rs, "where is it? my order")


def test_phrases_sharing_words_all_match(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('any = ["is down"]', 'labels = ["a"]', "a"),
        rule('any = ["down"]', 'labels = ["b"]', "b"),
        rule('any = ["down again"]', 'labels = ["c"]', "c"),
    )
    assert judge(post("it is down again"), rs).labels == ("a", "b", "c")


def test_symbol_phrase_matches_anywhere(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = [":(", "😡"]'))
    assert fires(rs, "nothing works:(")
    assert fires(rs, "again😡")
    assert not fires(rs, "all good :)")


def test_one_word_phrase_can_name_a_handle(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["@globex"]'))
    assert fires(rs, "cc @Globex")
    assert not fires(rs, "globex")


def test_all_needs_every_phrase(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('all = ["refund", "still"]'))
    assert fires(rs, "still no refund")
    assert not fires(rs, "refund arrived")


def test_none_vetoes_the_rule(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["down"]\nnone = ["not down"]'))
    assert not fires(rs, "it's not down for me")


def test_regex_is_case_insensitive_and_sees_straight_apostrophes(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('regex = "can\'t\\\\s+pay"'))
    assert fires(rs, "I CAN’T PAY the bill")
    assert not fires(rs, "I can pay")


def test_a_reason_shows_the_gist_of_a_long_regex(tmp_path: Path) -> None:
    long = "(?:app|broadband|internet|wifi|mobile|network|service) (?:is|are) down"
    rs = load(tmp_path, rule(f"regex = '{long}'") + rule("regex = 'can.t pay'", rule_id="s"))
    (found,) = [r.detail for r in judge(post("wifi is down"), rs).reasons if r.rule == "rule:r"]
    assert 'regex "(?:app|broadband|internet|wifi|mobile|n…"' in found and long not in found
    (short,) = [r.detail for r in judge(post("can't pay"), rs).reasons if r.rule == "rule:s"]
    assert 'regex "can.t pay"' in short  # a short one is shown whole


@pytest.mark.parametrize(
    ("stretched", "plain"),
    [
        ("this is sooo goooood", "this is so good"),
        ("loooove it", "love it"),
        ("Awwweesssooomee!", "Awesome!"),
        ("HORRIBLEEEE service", "HORRIBLE service"),
    ],
)
def test_a_stretched_word_is_read_as_the_word(tmp_path: Path, stretched: str, plain: str) -> None:
    rs = load(tmp_path, rule('any = ["love", "awesome", "horrible"]'))
    got, want = judge(post(stretched), rs), judge(post(plain), rs)
    assert got.compound == want.compound != 0
    assert got.labels == want.labels
    assert any(r.rule == "intensity" for r in got.reasons)  # the stretch still counts


def test_handles_hashtags_and_unknown_stretches_are_left_alone(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["good"]'))
    assert not fires(rs, "@gooood_company hello")
    assert not fires(rs, "#sooogood")
    assert judge(post("brrrr cold today"), rs).compound == judge(post("brrrr cold"), rs).compound


def test_brand_in_a_regex_stands_for_its_name_keywords_and_handles(tmp_path: Path) -> None:
    rs = load(tmp_path, rule("regex = 'moved to {brand}'"))
    handle = next(iter(BRAND.handles.values())).lstrip("@")
    assert fires(rs, f"moved to {BRAND.name.upper()} today")
    assert fires(rs, f"moved to @{handle} today")
    assert not fires(rs, "moved to Globex today")
    assert not fires(rs, "moved to {brand} today")
    assert fires(
        rs, f"moved to {BRAND.name}flix today"
    )  # as written; "\b" after it for whole words


def test_a_one_letter_brand_is_not_found_inside_other_words(tmp_path: Path) -> None:
    rs = load_ruleset(brand=Brand("A"))
    got = judge(post("switching to another provider after this, done"), rs)
    assert "new_customer" not in got.labels and "churn_risk" in got.labels


# -- the other conditions ---------------------------------------------------------


def test_sentiment_bounds_look_at_vader_compound(tmp_path: Path) -> None:
    rs = load(tmp_path, rule("sentiment_below = -0.3"), rule("sentiment_above = 0.3", rule_id="p"))
    assert judge(post("this is horrible"), rs).labels == ("hit",)
    assert judge(post("this is wonderful"), rs).labels == ("hit",)
    assert judge(post("this is a chair"), rs).labels == ()


def test_platform_condition(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('platform = ["reddit", "mastodon"]'))
    assert fires(rs, "hello", platform="reddit")
    assert not fires(rs, "hello", platform="x")


def test_followers_condition_treats_unknown_as_zero(tmp_path: Path) -> None:
    rs = load(tmp_path, rule("followers_at_least = 50000"))
    assert fires(rs, "hello", followers=50000)
    assert not fires(rs, "hello", followers=None)


def test_verified_condition(tmp_path: Path) -> None:
    rs = load(tmp_path, rule("verified = true"))
    assert fires(rs, "hello", verified=True)
    assert not fires(rs, "hello", verified=None)


def test_engagement_counts_likes_reposts_and_replies(tmp_path: Path) -> None:
    rs = load(tmp_path, rule("engagement_at_least = 50"))
    assert fires(rs, "hello", likes=30, reposts=15, replies=5)
    assert not fires(rs, "hello", likes=49)


def test_is_reply_condition(tmp_path: Path) -> None:
    rs = load(tmp_path, rule("is_reply = true"))
    assert fires(rs, "hello", in_reply_to="99")
    assert not fires(rs, "hello")


@pytest.mark.parametrize(
    "text",
    ["how do I change my plan", "is it down for anyone?", "any update on my order", "why?"],
)
def test_question_condition_sees_question_phrasing(tmp_path: Path, text: str) -> None:
    rs = load(tmp_path, rule("question = true"))
    assert fires(rs, text)


@pytest.mark.parametrize(
    "text", ["when I called they hung up", "see https://acme.example/status?id=4", "do not buy"]
)
def test_question_condition_ignores_look_alikes(tmp_path: Path, text: str) -> None:
    rs = load(tmp_path, rule("question = true"))
    assert not fires(rs, text)


def test_words_at_most_counts_words_without_handles(tmp_path: Path) -> None:
    rs = load(tmp_path, rule("words_at_most = 2"))
    assert fires(rs, "@AcmeHelp @bob lol ok!!")
    assert not fires(rs, "lol ok then")


def test_author_in_matches_handle_without_at_and_in_any_case(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('author_in = "key"'), lists={"key": ["@BigCorp"]})
    assert fires(rs, "hi", handle="bigcorp")
    assert fires(rs, "hi", handle="@BIGCORP")
    assert not fires(rs, "hi", handle="bigcorpfan")


def test_author_in_matches_a_domain_of_url_or_handle(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('author_in = "key"'), lists={"key": ["bigcorp.com"]})
    assert fires(rs, "hi", handle="ana", url="https://www.bigcorp.com/team/ana")
    assert fires(rs, "hi", handle="ana@social.bigcorp.com", platform="mastodon")
    assert fires(rs, "hi", handle="ana.bigcorp.com", platform="bluesky")
    assert not fires(rs, "hi", handle="ana", url="https://notbigcorp.com/")


def test_mentions_matches_list_items_as_phrases(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('mentions = "rivals"'), lists={"rivals": ["Globex", "Initech Fiber"]})
    assert fires(rs, "moving to initech fiber")
    assert not fires(rs, "initech is fine")


def test_mentions_brand_is_built_in(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('mentions = "brand"'))
    assert fires(rs, "ugh acme")
    assert fires(rs, "@AcmeHelp hello")
    assert fires(rs, "#acmefail")
    assert not fires(rs, "ugh globex")


def test_a_brand_keyword_of_several_words_is_not_its_last_word(tmp_path: Path) -> None:
    # phrases skip the brand's own words: "acme internet" was "internet", and every
    # post about anyone's internet named the brand
    (tmp_path / "r0.toml").write_text(rule('mentions = "brand"'), encoding="utf-8")
    brand = Brand("Acme", keywords=("acme", "acme internet", "#acmefail"))
    rs = load_ruleset(["r0.toml"], brand=brand, base_dir=tmp_path)
    assert not fires(rs, "my internet is slow tonight")
    assert fires(rs, "my acme internet is slow tonight")


def test_a_trademark_sign_does_not_hide_the_brand(tmp_path: Path) -> None:
    # full NFKC, used to read fancy letters, would make "Acme™" the word "acmetm"
    rs = load(tmp_path, rule('mentions = "brand"'))
    assert fires(rs, "Acme™ router died")
    assert fires(rs, "𝐚𝐜𝐦𝐞 router died")  # mathematical bold letters are read


def test_brand_handles_with_a_server_match_only_the_handle(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('mentions = "brand"'))
    assert fires(rs, "hey @acme@mastodon.social", platform="mastodon")
    assert not fires(rs, "social media is noisy")


def test_a_reddit_user_mention_names_the_brand_as_an_at_handle_does(tmp_path: Path) -> None:
    (tmp_path / "r0.toml").write_text(
        rule('mentions = "brand"') + rule('any = ["thanks a lot"]', 'labels = ["thanks"]', "t"),
        encoding="utf-8",
    )
    brand = Brand("Acme", handles={"reddit": "acme_support"})
    rs = load_ruleset(["r0.toml"], brand=brand, base_dir=tmp_path)
    assert fires(rs, "u/acme_support my router died", platform="reddit")
    assert fires(rs, "/u/acme_support hi", platform="reddit")
    assert not fires(rs, "a fridge of 20 cu/ft", platform="reddit")
    # as a handle, it is skipped inside a phrase of several words
    assert "thanks" in judge(post("thanks u/acme_support a lot", platform="reddit"), rs).labels


def test_rule_with_an_empty_list_never_fires(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('author_in = "key"') + rule('mentions = "rivals"', rule_id="m"),
        lists={"key": [], "rivals": []},
    )
    assert not fires(rs, "hi", handle="anyone")


def test_has_label_sees_labels_of_earlier_rules_only(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('has_label = "outage"', 'labels = ["early"]', "early"),
        rule('any = ["down"]', 'labels = ["outage"]', "outage"),
        rule('has_label = ["outage"]', 'labels = ["late"]', "late"),
    )
    assert judge(post("down"), rs).labels == ("outage", "late")


def test_lacks_label_stops_a_rule(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('any = ["giveaway"]', 'labels = ["spam"]', "spam"),
        rule('any = ["coupon"]', 'labels = ["promo"]', "promo"),
        rule('any = ["free"]\nlacks_label = ["spam", "promo"]', 'labels = ["hit"]', "free"),
    )
    assert not fires(rs, "free giveaway")
    assert not fires(rs, "free coupon")
    assert fires(rs, "free router")


def test_every_condition_must_hold(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["down"]\nfollowers_at_least = 10\nplatform = "x"'))
    assert fires(rs, "down", followers=10)
    assert not fires(rs, "down", followers=9)
    assert not fires(rs, "down", followers=10, platform="reddit")


def test_rule_without_conditions_always_fires(tmp_path: Path) -> None:
    rs = load(tmp_path, '[[rules]]\nid = "always"\n[rules.then]\nlabels = ["hit"]\n')
    assert fires(rs, "")


# -- the verdict ------------------------------------------------------------------


def test_score_is_compound_plus_adjustments_clamped(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["down"]', "score = -2.0"))
    verdict = judge(post("down, great"), rs)
    assert verdict.compound > 0
    assert verdict.score == -1.0


def test_highest_priority_disposition_wins(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('any = ["love"]', 'disposition = "interesting_good"', "praise", priority=20),
        rule('any = ["waiting"]', 'disposition = "interesting_bad"', "wait", priority=40),
        rule('any = ["love"]', 'disposition = "question"', "low", priority=5),
    )
    assert judge(post("love waiting"), rs).disposition is Disposition.INTERESTING_BAD


def test_equal_priority_goes_to_the_later_rule(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('any = ["x"]', 'disposition = "interesting_bad"\ntopic = "billing"', "a"),
        rule('any = ["x"]', 'disposition = "question"\ntopic = "account"', "b"),
    )
    verdict = judge(post("x"), rs)
    assert (verdict.disposition, verdict.topic) == (Disposition.QUESTION, "account")


def test_topic_and_segment_come_from_the_highest_priority(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('any = ["x"]', 'topic = "outage"\nsegment = "vip"', "a", priority=50),
        rule('any = ["x"]', 'topic = "product"\nsegment = "white_glove"', "b", priority=1),
    )
    verdict = judge(post("x"), rs)
    assert (verdict.topic, verdict.segment) == ("outage", "vip")


# -- topic_by = "votes" ------------------------------------------------------------

VOTES = '[settings]\ntopic_by = "votes"\n'
BILLING_CUES = rule(
    'any = ["charged", "refund", "fee"]', 'topic = "billing"', "billing", priority=1
)
WAITING = rule(
    'any = ["on hold", "still waiting", "waiting"]', 'topic = "support"', "wait", priority=40
)


def test_by_priority_the_highest_rule_names_the_topic(tmp_path: Path) -> None:
    rs = load(tmp_path, WAITING, BILLING_CUES)
    assert judge(post("on hold again: charged a fee, no refund"), rs).topic == "support"


def test_by_votes_the_topic_named_most_wins(tmp_path: Path) -> None:
    rs = load(tmp_path, VOTES + WAITING, BILLING_CUES)
    verdict = judge(post("on hold again: charged a fee, no refund"), rs)
    assert verdict.topic == "billing"
    topic_reasons = [r for r in verdict.reasons if r.rule == "topic"]
    assert [r.detail for r in topic_reasons] == [
        "billing: most votes among the topics named (billing 3, support 1)"
    ]


def test_by_votes_a_tie_goes_to_the_higher_priority(tmp_path: Path) -> None:
    rs = load(tmp_path, VOTES + WAITING, BILLING_CUES)
    assert judge(post("on hold, and charged for it"), rs).topic == "support"


def test_by_votes_equal_priority_ties_go_to_the_later_rule(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        VOTES + rule('any = ["x"]', 'topic = "billing"', "a"),
        rule('any = ["y"]', 'topic = "account"', "b"),
    )
    assert judge(post("x y"), rs).topic == "account"
    assert judge(post("y x"), rs).topic == "account"


def test_by_votes_a_phrase_inside_a_longer_match_counts_once(tmp_path: Path) -> None:
    # "still waiting" and "waiting" are one vote: counted twice, they would tie
    # billing's two and win on priority.
    rs = load(tmp_path, VOTES + WAITING, BILLING_CUES)
    verdict = judge(post("still waiting for the refund I was charged"), rs)
    assert verdict.topic == "billing"
    assert [r.detail for r in verdict.reasons if r.rule == "topic"] == [
        "billing: most votes among the topics named (billing 2, support 1)"
    ]


def test_by_votes_the_same_phrase_in_two_rules_counts_for_each(tmp_path: Path) -> None:
    # Two rules naming one topic agree: each says so.
    rs = load(
        tmp_path,
        VOTES + rule('any = ["refund"]', 'topic = "billing"', "a", priority=1),
        rule('any = ["refund"]', 'topic = "billing"', "b", priority=1),
        rule('any = ["cancel", "cancelled"]', 'topic = "cancellation"', "c", priority=9),
    )
    assert judge(post("cancelled, and no refund"), rs).topic == "billing"


def test_by_votes_a_rule_without_phrases_votes_once(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        VOTES + rule("followers_at_least = 10", 'topic = "account"', "reach", priority=9),
        rule('any = ["refund"]', 'topic = "billing"', "billing", priority=1),
    )
    assert judge(post("refund"), rs).topic == "account"
    assert judge(post("refund, refund, no refund"), rs).topic == "account"


def test_by_votes_one_topic_named_needs_no_vote(tmp_path: Path) -> None:
    rs = load(tmp_path, VOTES + BILLING_CUES)
    verdict = judge(post("charged a fee"), rs)
    assert verdict.topic == "billing"
    assert all(r.rule != "topic" for r in verdict.reasons)


def test_topic_by_must_be_a_known_way(tmp_path: Path) -> None:
    message = error(tmp_path, '[settings]\ntopic_by = "loudest"\n')
    assert 'settings.topic_by: expected one of priority, votes, got "loudest"' in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("this is horrible", Disposition.INTERESTING_BAD),
        ("this is wonderful", Disposition.INTERESTING_GOOD),
        ("this is a chair", Disposition.IGNORE),
        ("how do I change my plan?", Disposition.QUESTION),
        ("why is this so horrible and awful?", Disposition.INTERESTING_BAD),
    ],
)
def test_without_a_deciding_rule_the_score_decides(
    tmp_path: Path, text: str, expected: Disposition
) -> None:
    rs = load_ruleset([], brand=BRAND)
    assert judge(post(text), rs).disposition is expected


def test_cut_offs_come_from_settings(tmp_path: Path) -> None:
    rs = load(tmp_path, "[settings]\nbad_at_most = -0.9\ngood_at_least = 0.9\n")
    assert judge(post("this is horrible"), rs).disposition is Disposition.IGNORE


def test_glowing_question_is_praise_when_clearly_positive_is_set(tmp_path: Path) -> None:
    rs = load(tmp_path, "[settings]\nclearly_positive = 0.5\n")
    text = "do you know how amazing and wonderful you are?"
    assert judge(post(text), rs).disposition is Disposition.INTERESTING_GOOD
    assert judge(post(text), load_ruleset([], brand=BRAND)).disposition is Disposition.QUESTION


def test_brands_own_post_is_ignored_with_a_reason(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["down"]', 'disposition = "interesting_bad"'))
    verdict = judge(post("our app is down, we're on it", handle="@acmehelp"), rs)
    assert verdict.disposition is Disposition.IGNORE
    assert any(r.rule == "own_post" for r in verdict.reasons)


def test_own_handle_is_per_platform(tmp_path: Path) -> None:
    rs = load(tmp_path, "")
    verdict = judge(post("hello", handle="AcmeHelp", platform="reddit"), rs)
    assert not any(r.rule == "own_post" for r in verdict.reasons)


def test_labels_and_actions_are_unions_in_firing_order(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('any = ["x"]', 'labels = ["b", "a"]\nactions = ["escalate"]', "one"),
        rule('any = ["x"]', 'labels = ["a", "c"]\nactions = ["no_reply", "escalate"]', "two"),
    )
    verdict = judge(post("x"), rs)
    assert verdict.labels == ("b", "a", "c")
    assert verdict.actions == ("escalate", "no_reply")


def test_urgency_is_base_plus_points_clamped(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        "[settings.urgency]\ninteresting_bad = 40\n"
        + rule('any = ["down"]', 'disposition = "interesting_bad"\nurgency = 25', "a")
        + rule('any = ["again"]', "urgency = 50", "b"),
    )
    assert judge(post("down"), rs).urgency == 65
    assert judge(post("down again"), rs).urgency == 100


def test_negative_urgency_points_stop_at_zero(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["fyi"]', "urgency = -50"))
    assert judge(post("fyi"), rs).urgency == 0


def test_interest_grows_with_intensity_reach_and_engagement(tmp_path: Path) -> None:
    rs = load_ruleset([], brand=BRAND)
    calm = judge(post("it is a chair", followers=0), rs).interest
    angry = judge(post("this is horrible and awful", followers=0), rs).interest
    famous = judge(post("this is horrible and awful", followers=1_000_000), rs).interest
    viral = judge(post("this is horrible and awful", followers=1_000_000, likes=10_000), rs)
    assert calm < angry < famous < viral.interest <= 100


def test_every_fired_rule_is_a_reason_with_what_matched(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('any = ["outage", "is down"]', "score = -0.5", "outage"),
        rule("followers_at_least = 10", "urgency = 15", "big"),
    )
    reasons = judge(post("the app is down", followers=10), rs).reasons
    assert reasons[0].rule == "vader"
    by_rule = {r.rule: r for r in reasons}
    assert 'matched "is down"' in by_rule["rule:outage"].detail
    assert by_rule["rule:outage"].weight == -0.5
    assert by_rule["rule:big"].weight == 15
    assert "followers >= 10" in by_rule["rule:big"].detail


def test_score_cut_off_is_a_reason_when_no_rule_decides(tmp_path: Path) -> None:
    verdict = judge(post("this is horrible"), load_ruleset([], brand=BRAND))
    assert [r.rule for r in verdict.reasons] == ["vader", "cutoff"]


def test_explain_lists_outcome_then_reasons_with_weights(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["down"]', 'disposition = "interesting_bad"\nscore = -0.5'))
    lines = explain(judge(post("down"), rs))
    assert lines[0] == "disposition: interesting_bad"
    for field in ("score:", "topic:", "urgency:", "interest:", "segment:"):
        assert any(line.startswith(field) for line in lines)
    assert any("rule:r" in line and "-0.50" in line for line in lines)


def test_lang_is_passed_through(tmp_path: Path) -> None:
    mention = dataclasses.replace(post("hola"), lang="es")
    assert judge(mention, load_ruleset([], brand=BRAND)).lang == "es"


# -- composing files --------------------------------------------------------------


def test_default_names_the_shipped_rule_set() -> None:
    rs = load_ruleset(brand=BRAND)
    assert rs.files == ("default.toml",)
    assert any(r.id == "outage" for r in rs.rules)


def test_relative_paths_resolve_against_base_dir(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(rule('any = ["x"]'), encoding="utf-8")
    rs = load_ruleset(["mine.toml"], brand=BRAND, base_dir=tmp_path)
    assert fires(rs, "x")


def test_later_rule_with_same_id_replaces_in_place(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('any = ["down"]', 'labels = ["outage"]', "outage")
        + rule('has_label = "outage"', 'labels = ["after"]', "after"),
        rule('any = ["offline"]', 'labels = ["outage"]', "outage"),
    )
    assert [r.id for r in rs.rules] == ["outage", "after"]
    assert judge(post("offline"), rs).labels == ("outage", "after")
    assert judge(post("down"), rs).labels == ()


def test_disabled_rule_is_switched_off(tmp_path: Path) -> None:
    rs = load(tmp_path, rule('any = ["x"]'), '[[rules]]\nid = "r"\nenabled = false\n')
    assert not fires(rs, "x")


def test_switching_off_a_rule_that_is_not_there_is_an_error(tmp_path: Path) -> None:
    # "outtage" for "outage": the rule meant stayed on, and nothing said so
    message = error(
        tmp_path,
        rule('any = ["x"]', rule_id="outage"),
        '[[rules]]\nid = "outtage"\nenabled = false\n',
    )
    assert message == (
        "r1.toml: rules[0].id: `enabled = false` switches off a rule by id, and no earlier "
        'rule file has a rule "outtage" (did you mean "outage"?)'
    )
    # a whole rule kept switched off for later is fine
    kept = '[[rules]]\nid = "later"\nenabled = false\n[rules.when]\nany = ["x"]\n'
    assert not fires(load(tmp_path, kept + '[rules.then]\nlabels = ["hit"]\n'), "x")


def test_every_switch_off_of_nothing_in_a_file_is_named_at_once(tmp_path: Path) -> None:
    # only the first was said; fixing it showed the next
    message = error(
        tmp_path,
        rule('any = ["x"]', rule_id="outage") + rule('any = ["y"]', rule_id="billing"),
        '[[rules]]\nid = "outtage"\nenabled = false\n\n[[rules]]\nid = "biling"\nenabled = false\n',
    )
    assert [line.split(": ", 2)[1] for line in message.splitlines()] == [
        "rules[0].id",
        "rules[1].id",
    ]


def test_a_whole_rule_switched_off_under_a_near_miss_of_an_id_is_an_error(
    tmp_path: Path,
) -> None:
    # a shipped rule copied, its id mistyped, `enabled = false` added: the rule meant
    # would stay on
    copied = rule('any = ["x"]', 'labels = ["hit"]', "competitor_name")
    message = error(
        tmp_path,
        rule('any = ["x"]', rule_id="competitor_named"),
        copied.replace("priority = 0\n", "priority = 0\nenabled = false\n"),
    )
    assert (
        '"competitor_name" is switched off, and no earlier rule has that id; did you mean '
        'to switch off "competitor_named"?'
    ) in message
    # a variant of an id, kept switched off for later, is a draft: it loads
    draft = rule('any = ["x"]', 'labels = ["hit"]', "competitor_named_v2")
    load(
        tmp_path,
        rule('any = ["x"]', rule_id="competitor_named"),
        draft.replace("priority = 0\n", "priority = 0\nenabled = false\n"),
    )


@pytest.mark.parametrize("key", ["has_label", "lacks_label"])
def test_a_label_no_rule_sets_is_an_error(tmp_path: Path, key: str) -> None:
    # has_label = "churn_rsk" would never fire; lacks_label = "spamm" would always
    message = error(
        tmp_path,
        rule('any = ["leaving"]', 'labels = ["churn_risk"]', "churn"),
        rule(f'{key} = ["churn_rsk"]', rule_id="escalate"),
    )
    assert message == (
        f'r1.toml: rules[0].when.{key}: no rule sets the label "churn_rsk" '
        '(did you mean "churn_risk"?) (rule "escalate")'
    )


def test_a_misspelt_label_is_named_before_the_example_it_makes_fail(tmp_path: Path) -> None:
    # only "1 of 1 examples failed ... got ignore" was said: the typo that made the
    # rule never fire was not, until the example was deleted
    typo = (
        rule('any = ["leaving"]', 'labels = ["churn_risk"]', "churn")
        + rule('has_label = "churn_rsk"', 'disposition = "interesting_bad"', "escalate")
        + '[[examples]]\ntext = "leaving"\nexpect = "interesting_bad"\n'
    )
    with pytest.raises(RuleError) as caught:
        load(tmp_path, typo)
    first, failure = caught.value.problems
    assert first == (
        'r0.toml: rules[1].when.has_label: no rule sets the label "churn_rsk" '
        '(did you mean "churn_risk"?) (rule "escalate")'
    )
    assert failure.startswith("r0.toml: 1 of 1 examples failed:")


def test_an_example_failing_on_its_own_is_still_reported_alone(tmp_path: Path) -> None:
    text = rule('any = ["leaving"]', 'disposition = "question"', "churn")
    text += '[[examples]]\ntext = "leaving"\nexpect = "interesting_bad"\n'
    with pytest.raises(RuleExampleFailed) as caught:
        load(tmp_path, text)
    assert len(caught.value.problems) == 1


def test_switching_off_the_rule_that_sets_a_label_leaves_its_readers_loading(
    tmp_path: Path,
) -> None:
    rs = load(
        tmp_path,
        rule('any = ["leaving"]', 'labels = ["churn_risk"]', "churn")
        + rule('has_label = "churn_risk"', rule_id="escalate"),
        '[[rules]]\nid = "churn"\nenabled = false\n',
    )
    assert not fires(rs, "leaving")


def test_a_topic_a_letter_off_another_is_an_error_and_a_new_one_is_not(
    tmp_path: Path,
) -> None:
    shipped = rule('any = ["router"]', 'topic = "equipment"', "hardware")
    message = error(tmp_path, shipped, rule('any = ["hub"]', 'topic = "equipmnet"', "hub"))
    assert message == (
        'r1.toml: rules[0].then.topic: no earlier rule has the topic "equipmnet" (did you '
        'mean "equipment"?); a new topic is fine, but a misspelt one counts complaints apart '
        '(rule "hub")'
    )
    rs = load(tmp_path, shipped, rule('any = ["engineer"]', 'topic = "installation"', "install"))
    assert judge(post("engineer"), rs).topic == "installation"
    # a topic made from another with a part added is a new one, not a typo
    rs = load(tmp_path, shipped, rule('any = ["hub"]', 'topic = "equipment_uk"', "uk"))
    assert judge(post("hub"), rs).topic == "equipment_uk"


def test_later_lexicon_entry_overrides(tmp_path: Path) -> None:
    rs = load(tmp_path, "[lexicon]\noutage = -3.0\n", "[lexicon]\noutage = 3.0\n")
    assert judge(post("another outage"), rs).compound > 0


def test_later_list_replaces_the_whole_list(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        '[lists]\nrivals = ["globex", "initech"]\n' + rule('mentions = "rivals"'),
        '[lists]\nrivals = ["hooli"]\n',
    )
    assert fires(rs, "hooli")
    assert not fires(rs, "globex")


def test_config_lists_replace_file_lists(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        '[lists]\nkey = ["@someone"]\n' + rule('author_in = "key"'),
        lists={"key": ["@bigcorp"]},
    )
    assert fires(rs, "hi", handle="bigcorp")
    assert not fires(rs, "hi", handle="someone")


def test_later_settings_override_key_by_key(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        "[settings]\nbad_at_most = -0.5\n[settings.urgency]\nquestion = 40\nignore = 3\n",
        "[settings]\ngood_at_least = 0.6\n[settings.urgency]\nignore = 7\n",
    )
    assert (rs.settings.bad_at_most, rs.settings.good_at_least) == (-0.5, 0.6)
    assert rs.settings.urgency[Disposition.QUESTION] == 40
    assert rs.settings.urgency[Disposition.IGNORE] == 7


def test_ruleset_is_immutable(tmp_path: Path) -> None:
    rs = load_ruleset(brand=BRAND)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rs.rules = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        rs.lists["white_glove"] = ("x",)  # type: ignore[index]


# -- mistakes ---------------------------------------------------------------------


def test_wrong_type_names_file_key_path_and_value(tmp_path: Path) -> None:
    broken = rule('followers_at_least = "many"', rule_id="b")
    message = error(tmp_path, rule('any = ["x"]') + broken)
    assert message == (
        'r0.toml: rules[1].when.followers_at_least: expected an integer, got "many" (rule "b")'
    )


def test_out_of_range_integer_says_the_range(tmp_path: Path) -> None:
    message = error(tmp_path, rule("followers_at_least = -5"))
    assert message.endswith(
        'followers_at_least: expected an integer of at least 0, got -5 (rule "r")'
    )


def test_boolean_is_not_an_integer(tmp_path: Path) -> None:
    assert "expected an integer, got true" in error(tmp_path, rule("engagement_at_least = true"))


def test_unknown_key_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    message = error(tmp_path, rule("folowers_at_least = 10"))
    assert message.startswith(
        'r0.toml: rules[0].when.folowers_at_least: unknown key (did you mean "followers_at_least"?)'
    )


def test_unknown_top_level_table_is_an_error(tmp_path: Path) -> None:
    assert "r0.toml: rule: unknown key" in error(tmp_path, '[[rule]]\nid = "x"\n')


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    message = error(tmp_path, "[[rules]\nid = ")
    assert message.startswith("r0.toml: invalid TOML:")


def test_bad_regex_is_an_error(tmp_path: Path) -> None:
    assert "r0.toml: rules[0].when.regex: bad regex:" in error(tmp_path, rule('regex = "(["'))


def test_a_regex_broken_by_the_brand_filled_in_is_an_error(tmp_path: Path) -> None:
    # fine as written; with {brand} as the names of different lengths, the
    # look-behind is no longer fixed-width: a message, not a traceback
    message = error(tmp_path, rule("regex = '(?<!{brand} )down'"))
    assert "r0.toml: rules[0].when.regex: bad regex once {brand} stands for the brand" in message
    assert "look-behind requires fixed-width pattern" in message


def test_a_toml_backspace_in_a_regex_is_an_error(tmp_path: Path) -> None:
    # In a TOML basic string \b is a backspace, not a word boundary: the rule
    # would load and never fire.
    message = error(tmp_path, rule('regex = "\\bfree\\b"'))
    assert "r0.toml: rules[0].when.regex: holds a backspace" in message
    assert "write \\\\b for a word boundary" in message
    # A literal string keeps the backslash: fine.
    assert load(tmp_path, rule("regex = '\\bfree\\b'"))


def test_a_regex_in_double_quotes_that_toml_refuses_says_to_use_single_quotes(
    tmp_path: Path,
) -> None:
    # "invalid TOML: Unescaped '\\' in a string (at line 4, column 10)" and no more
    message = error(tmp_path, rule('regex = "\\d+ days"'))
    assert message.startswith("r0.toml: invalid TOML: Unescaped '\\' in a string")
    assert message.endswith(
        "; in double quotes a backslash starts an escape: write a regex in single quotes, "
        "like regex = '\\d+ days'"
    )


def test_unknown_list_is_an_error(tmp_path: Path) -> None:
    message = error(tmp_path, rule('author_in = "vips"'))
    assert 'r0.toml: rules[0].when.author_in: unknown list "vips"' in message


def test_a_misspelt_list_gets_the_list_it_was_meant_to_be(tmp_path: Path) -> None:
    # "competitor" for "competitors": the lists were listed, the near one not pointed at
    message = error(tmp_path, rule('mentions = "competitor"'), lists={"competitors": ["globex"]})
    assert message == (
        'r0.toml: rules[0].when.mentions: unknown list "competitor" (did you mean '
        '"competitors"?) (lists: brand, competitors) (rule "r")'
    )


def test_what_people_call_a_disposition_or_platform_gets_earfuls_name(tmp_path: Path) -> None:
    # `earful eval` counts complaint/praise, and people say twitter: each was refused
    # with only the list of names
    text = rule('platform = "twitter"', 'disposition = "praise"')
    text += '[[examples]]\ntext = "x"\nexpect = "complaint"\nplatform = "bsky"\n'
    problems = error(tmp_path, text).splitlines()
    assert [p.rsplit("got ", 1)[1] for p in problems] == [
        '"twitter" (did you mean "x"?) (rule "r")',
        '"praise" (did you mean "interesting_good"?) (rule "r")',
        '"complaint" (did you mean "interesting_bad"?)',
        '"bsky" (did you mean "bluesky"?)',
    ]


def test_unknown_disposition_is_an_error(tmp_path: Path) -> None:
    message = error(tmp_path, rule('any = ["x"]', 'disposition = "bad"'))
    assert "r0.toml: rules[0].then.disposition: expected one of interesting_bad, " in message
    assert 'got "bad"' in message


def test_unknown_action_is_an_error(tmp_path: Path) -> None:
    assert "rules[0].then.actions[0]" in error(tmp_path, rule("", 'actions = ["esclate"]'))


def test_unknown_platform_is_an_error(tmp_path: Path) -> None:
    assert "rules[0].when.platform" in error(tmp_path, rule('platform = ["twitter"]'))


def test_rule_without_id_is_an_error(tmp_path: Path) -> None:
    message = error(tmp_path, '[[rules]]\n[rules.then]\nlabels = ["x"]\n')
    assert "r0.toml: rules[0].id: missing" in message


def test_duplicate_id_in_one_file_is_an_error(tmp_path: Path) -> None:
    message = error(tmp_path, rule('any = ["x"]') + rule('any = ["y"]'))
    assert 'r0.toml: rules[1].id: "r" is already the id of rules[0]' in message


def test_rule_that_does_nothing_is_an_error(tmp_path: Path) -> None:
    assert "rules[0].then: missing" in error(tmp_path, '[[rules]]\nid = "x"\n')


def test_lexicon_valence_out_of_range_is_an_error(tmp_path: Path) -> None:
    message = error(tmp_path, "[lexicon]\noutage = -9\n")
    assert message == "r0.toml: lexicon.outage: expected a number from -4 to 4, got -9"


def test_lexicon_entry_must_be_one_word(tmp_path: Path) -> None:
    assert 'lexicon."no service"' in error(tmp_path, '[lexicon]\n"no service" = -2\n')


def test_brand_list_cannot_be_redefined(tmp_path: Path) -> None:
    assert "lists.brand" in error(tmp_path, '[lists]\nbrand = ["x"]\n')


def test_all_mistakes_of_a_file_are_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(RuleError) as caught:
        load(tmp_path, rule("verified = 1\nquestion = 2"))
    assert len(caught.value.problems) == 2


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match=r"missing\.toml: cannot read"):
        load_ruleset(["missing.toml"], brand=BRAND, base_dir=tmp_path)


def test_unknown_shipped_name_lists_the_shipped_ones() -> None:
    with pytest.raises(RuleError, match=r"no shipped rule set of that name \(shipped: default\)"):
        load_ruleset(["defualt"], brand=BRAND)


def test_an_unreadable_entry_says_which_and_where_it_was_looked_for(tmp_path: Path) -> None:
    # "missing.toml: cannot read /abs/missing.toml": the name twice, and not which entry
    with pytest.raises(RuleFileUnreadable) as caught:
        load_ruleset(["default", "missing.toml"], brand=BRAND, base_dir=tmp_path)
    assert caught.value.index == 1
    assert caught.value.problems == [
        f"{tmp_path / 'missing.toml'}: cannot read: No such file or directory"
    ]
    with pytest.raises(RuleFileUnreadable) as caught:
        load_ruleset(["defaults"], brand=BRAND)
    assert caught.value.index == 0
    assert caught.value.problems == [
        '"defaults": no shipped rule set of that name (shipped: default) '
        '(did you mean "default"?); a file of your own must end in ".toml"'
    ]


# -- examples ---------------------------------------------------------------------


def test_examples_that_hold_load_quietly(tmp_path: Path) -> None:
    rs = load(
        tmp_path,
        rule('any = ["down"]', 'disposition = "interesting_bad"\ntopic = "outage"')
        + '[[examples]]\ntext = "app down"\nexpect = "interesting_bad"\ntopic = "outage"\n',
    )
    assert len(rs.examples) == 1


def test_failing_examples_are_all_listed_with_what_came_out(tmp_path: Path) -> None:
    with pytest.raises(RuleExampleFailed) as caught:
        load(
            tmp_path,
            rule('any = ["down"]', 'disposition = "interesting_bad"', "outage")
            + '[[examples]]\ntext = "app down"\nexpect = "interesting_bad"\n'
            + '[[examples]]\ntext = "app down"\nexpect = "interesting_good"\n'
            + '[[examples]]\ntext = "app down"\nexpect = "interesting_bad"\ntopic = "outage"\n',
        )
    failure = caught.value
    assert [f.where for f in failure.failures] == ["examples[1]", "examples[2]"]
    message = str(failure)
    assert message.startswith("r0.toml: 2 of 3 examples failed:")
    # an example that names no topic asks for none: "expected" does not say "(no topic)"
    assert "expected interesting_good, got interesting_bad (no topic)" in message
    assert (
        'expected interesting_bad (topic outage) (no rule gives the topic "outage"), '
        "got interesting_bad (no topic)"
    ) in message
    assert 'rule:outage matched "down"' in message


def test_an_example_can_be_a_reply_with_engagement(tmp_path: Path) -> None:
    viral_reply = rule("is_reply = true\nengagement_at_least = 500", rule_id="viral_reply")
    ok = '[[examples]]\ntext = "hi"\nexpect = "ignore"\nlabels = ["hit"]\n'
    assert load(tmp_path, viral_reply + ok + "reply = true\nengagement = 500\n").examples
    with pytest.raises(RuleExampleFailed):
        load(tmp_path, viral_reply + ok + "reply = true\nengagement = 499\n")
    with pytest.raises(RuleExampleFailed):
        load(tmp_path, viral_reply + ok + "engagement = 500\n")


def test_an_example_naming_a_topic_no_rule_gives_says_so(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        rule('any = ["router"]', 'disposition = "interesting_bad"\ntopic = "equipment"')
        + '[[examples]]\ntext = "router broke"\nexpect = "interesting_bad"\n'
        + 'topic = "equipmnet"\n',
    )
    assert (
        'expected interesting_bad (topic equipmnet) (no rule gives the topic "equipmnet" '
        '(did you mean "equipment"?)), got interesting_bad (topic equipment)'
    ) in message


def test_an_empty_example_is_missing_its_text(tmp_path: Path) -> None:
    message = error(tmp_path, rule('any = ["x"]') + "[[examples]]\n")
    assert "r0.toml: examples[0].text: missing" in message


def test_examples_run_against_the_rules_composed_so_far(tmp_path: Path) -> None:
    first = rule('any = ["down"]', 'disposition = "interesting_bad"', "outage")
    second = '[[examples]]\ntext = "app down"\nexpect = "interesting_bad"\n'
    assert load(tmp_path, first, second).examples[0].source == "r1.toml"
    with pytest.raises(RuleExampleFailed):
        load(tmp_path, second, first)


def test_example_failure_is_a_rule_error(tmp_path: Path) -> None:
    assert issubclass(RuleExampleFailed, RuleError)


# -- robustness and determinism -----------------------------------------------------

HOSTILE = [
    "",
    "   \n\t  ",
    "<script>alert('pwned')</script><img src=x onerror=alert(1)>",
    "<b>down</b> &amp; &lt;out&gt;",
    "\x00\x00down\x00",
    "lone \ud800 surrogate \udfff",
    "\u202eevil reversed\u202c \u200f\u200e",
    "😡🔥💩" * 50,
    "👨‍👩‍👧‍👦 family 🏳️‍🌈",
    "x" * 100_000,
    "down horrible but great!!! ??? " * 4000,
    "@@@@ #### ''' ’’’ ```",
    "ᴄᴀɴ'ᴛ ʟᴏɢ ɪɴ ｆｕｌｌｗｉｄｔｈ",
    "İstanbul ΣΊΣΥΦΟΣ ß",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_judge_never_raises_on_hostile_text(text: str) -> None:
    verdict = judge(post(text), load_ruleset(brand=BRAND))
    assert isinstance(verdict.disposition, Disposition)
    assert -1.0 <= verdict.score <= 1.0
    assert 0 <= verdict.urgency <= 100
    assert 0 <= verdict.interest <= 100
    assert explain(verdict)


def test_judge_never_raises_on_missing_author_details() -> None:
    mention = post("down again", handle=None, followers=None)
    assert judge(mention, load_ruleset(brand=BRAND)).disposition is Disposition.INTERESTING_BAD


def test_long_post_is_judged_on_its_first_max_chars(tmp_path: Path) -> None:
    rs = load(tmp_path, "[settings]\nmax_chars = 20\n" + rule('any = ["down"]'))
    assert fires(rs, "it is down")
    assert not fires(rs, "a" * 30 + " down")
    assert any(r.rule == "truncated" for r in judge(post("a" * 30), rs).reasons)


def test_same_post_gets_the_same_verdict() -> None:
    rs = load_ruleset(brand=BRAND)
    mention = post("thanks @AcmeHelp for nothing, app down again and charged twice :(")
    assert judge(mention, rs) == judge(mention, rs) == judge(mention, load_ruleset(brand=BRAND))


def test_verdicts_do_not_depend_on_hash_seed() -> None:
    script = textwrap.dedent(
        """
        import json
        from listener.mention import Author, Brand, Mention
        from rules import judge, load_ruleset
        rs = load_ruleset(brand=Brand("Acme", ("acme",), {"x": "AcmeHelp"}))
        texts = [
            "app down again? can't log in",
            "charged twice, still no refund, cancel my account",
            "love the new app, support fixed it in minutes!",
            "lol ok",
        ]
        out = [repr(judge(Mention("x", "1", t, Author("ana", followers=60000)), rs)) for t in texts]
        print(json.dumps(out))
        """
    )
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert len(json.loads(outputs.pop())) == 4
