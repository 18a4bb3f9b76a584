"""rules/default.toml: the shipped rule set judges the posts a support team knows."""

from __future__ import annotations

import pytest

from listener.mention import Author, Brand, Mention
from rules import Disposition, Ruleset, judge, load_ruleset

ACME = Brand("Acme", ("acme", "#acmefail"), {"x": "AcmeHelp"})
LUMENET = Brand("Lumenet", ("lumenet", "#lumenetdown"), {"x": "LumenetHelp"})

BAD = Disposition.INTERESTING_BAD
GOOD = Disposition.INTERESTING_GOOD
QUESTION = Disposition.QUESTION
IGNORE = Disposition.IGNORE


@pytest.fixture(scope="module")
def rules() -> Ruleset:
    return load_ruleset(
        brand=ACME, lists={"competitors": ["Globex", "Initech"], "white_glove": ["@bigcorp"]}
    )


def post(
    text: str,
    *,
    handle: str = "ana",
    followers: int = 150,
    likes: int = 0,
    reposts: int = 0,
    platform: str = "x",
) -> Mention:
    return Mention(
        platform=platform,
        native_id="1",
        text=text,
        author=Author(handle=handle, followers=followers),
        likes=likes,
        reposts=reposts,
    )


# -- the hard cases ---------------------------------------------------------------


def test_outage_phrased_as_a_question_is_a_complaint_about_the_outage(rules: Ruleset) -> None:
    verdict = judge(post("app down again? can't log in"), rules)
    assert (verdict.disposition, verdict.topic) == (BAD, "outage")


def test_sarcastic_thanks_is_a_complaint(rules: Ruleset) -> None:
    verdict = judge(post("thanks @acme for nothing :("), rules)
    assert verdict.disposition is BAD
    assert "sarcasm" in verdict.labels


def test_lol_ok_is_not_praise(rules: Ruleset) -> None:
    assert judge(post("lol ok"), rules).disposition is not GOOD


def test_double_charge_without_refund_is_a_billing_complaint(rules: Ruleset) -> None:
    verdict = judge(post("charged twice this month, still no refund"), rules)
    assert (verdict.disposition, verdict.topic) == (BAD, "billing")


def test_switching_to_a_competitor_is_an_urgent_churn_threat(rules: Ruleset) -> None:
    verdict = judge(post("switching to Globex next month, done with the outages"), rules)
    assert verdict.disposition is BAD
    assert {"churn_risk", "competitor"} <= set(verdict.labels)
    assert verdict.urgency >= 60


@pytest.mark.parametrize(
    "text",
    [
        "Acme down since 7, switched to 4G and it's crawling",
        "power failure at the exchange; the care home has switched to a backup line",
    ],
)
def test_a_workaround_during_an_outage_is_not_churn(rules: Ruleset, text: str) -> None:
    assert "churn_risk" not in judge(post(text), rules).labels


def test_naming_a_competitor_as_better_is_a_churn_threat(rules: Ruleset) -> None:
    verdict = judge(post("initech is so much cheaper, thinking about it"), rules)
    assert "churn_risk" in verdict.labels
    assert verdict.urgency >= 60


def test_praise_for_a_quick_fix_is_praise(rules: Ruleset) -> None:
    verdict = judge(post("love the new app, support fixed it in minutes!"), rules)
    assert verdict.disposition is GOOD


def test_how_to_question_is_a_question(rules: Ruleset) -> None:
    assert judge(post("how do I change my plan?"), rules).disposition is QUESTION


def test_giveaway_spam_is_ignored_and_labelled(rules: Ruleset) -> None:
    verdict = judge(post("GIVEAWAY! follow + RT to win a free router, DM for promo code"), rules)
    assert verdict.disposition is IGNORE
    assert "spam" in verdict.labels
    assert "no_reply" in verdict.actions


def test_brands_own_post_is_ignored(rules: Ruleset) -> None:
    verdict = judge(post("We're aware the app is down and working on it", handle="AcmeHelp"), rules)
    assert verdict.disposition is IGNORE


# -- complaint cues with no sentiment words ---------------------------------------


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("internet has been down since 6am", "outage"),
        ("no signal at all in the city centre today", "outage"),
        ("been on hold for 50 minutes", "support"),
        ("still waiting for someone to call me back", "support"),
        ("where is my order? it was due monday", "delivery"),
        ("the parcel never arrived", "delivery"),
        ("they lost my package", "lost_item"),
        ("locked out of my account since tuesday", "account"),
        ("I want to cancel my subscription", "cancellation"),
        ("tried to cancel three times, it won't let me cancel", "cancellation"),
        ("the price went up again", "price"),
        ("the app keeps crashing when I pay", "product"),
        ("overcharged again this month", "billing"),
    ],
)
def test_complaint_without_sentiment_words_is_found_with_its_root_cause(
    rules: Ruleset, text: str, topic: str
) -> None:
    verdict = judge(post(text), rules)
    assert (verdict.disposition, verdict.topic) == (BAD, topic)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        # the call is how they complain; the router is what is wrong
        (
            "on hold 2 hours because the router you sent keeps crashing since the firmware update",
            "product",
        ),
        (
            "on hold all morning: charged twice for one bill, a late fee on top, and no refund",
            "billing",
        ),
    ],
)
def test_the_cause_named_most_is_the_topic(rules: Ruleset, text: str, topic: str) -> None:
    verdict = judge(post(text), rules)
    assert (verdict.disposition, verdict.topic) == (BAD, topic)
    assert any(r.rule == "topic" for r in verdict.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "great, another outage",
        "love waiting on hold for an hour",
        "oh great, the router is broken again",
        "yeah right, 'fixed'",
    ],
)
def test_sarcasm_is_a_complaint(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is BAD


@pytest.mark.parametrize(
    "text",
    ["not happy with this", "never again", "wouldn't recommend them", "not impressed at all"],
)
def test_negated_praise_is_a_complaint(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is BAD


@pytest.mark.parametrize(
    "text",
    [
        "switched to Acme last month, no complaints",
        "never been happier with my internet",
        "I can't say enough good things about acme support",
        "can't complain, works fine",
    ],
)
def test_a_negated_complaint_is_praise(rules: Ruleset, text: str) -> None:
    # the "no", "never" and "can't" in these used to fire the failure-word rules
    assert judge(post(text), rules).disposition is Disposition.INTERESTING_GOOD


@pytest.mark.parametrize(
    "text",
    [
        "no complaints about the speed but the router keeps dropping",
        "@acme no complaints until the update, now nothing works",
        "@acme why is there no complaints page on your site",
    ],
)
def test_a_negated_complaint_beside_a_real_one_is_a_complaint(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is BAD


def test_exasperated_question_is_a_complaint(rules: Ruleset) -> None:
    assert judge(post("are you kidding me? how many times do I have to call"), rules).is_complaint


def test_outage_is_more_urgent_than_plain_grumbling(rules: Ruleset) -> None:
    outage = judge(post("internet is down again"), rules).urgency
    grumble = judge(post("meh, not great"), rules).urgency
    assert outage > grumble


# -- questions, praise, noise -----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "does the new plan include international calls",
        "anyone know if the routers support wifi 6?",
        "can you help me set up my new router?",
        "any update on the refund I was promised?",
    ],
)
def test_questions_are_questions(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is QUESTION


@pytest.mark.parametrize(
    "text",
    [
        "thank you for sorting the bill so quickly",
        "shoutout to the support team, they fixed my connection in 5 minutes",
        "highly recommend, fast and reliable",
        "the engineer got it working again, brilliant",
        # British thanks VADER scores as nothing much
        "engineers out in awful weather all day, fair play to them",
        "the lady on the phone was lovely",
    ],
)
def test_praise_is_praise(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is GOOD


@pytest.mark.parametrize(
    "text",
    [
        "everyone is angry at Acme this week but the agent I spoke to just now was lovely. "
        "Refund for the outage day applied while I was on the phone.",
        "not fun having a delay, but the crew at the desk have been AWESOME",
    ],
)
def test_trouble_then_but_and_praise_is_praise(rules: Ruleset, text: str) -> None:
    # what comes after the last "but" is the point: no apology to a thank-you
    verdict = judge(post(text), rules)
    assert verdict.disposition is GOOD
    assert "praised_after_but" in {r.rule.removeprefix("rule:") for r in verdict.reasons}


@pytest.mark.parametrize(
    "text",
    ["the agent was lovely, but she wasn't able to help", "lost my bag but the music was lovely"],
)
def test_praise_then_but_and_trouble_is_a_complaint(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is BAD


def test_praise_for_outage_handling_is_praise(rules: Ruleset) -> None:
    verdict = judge(post("really impressed with the outage updates today"), rules)
    assert verdict.disposition is GOOD


@pytest.mark.parametrize("text", ["earn $500 a day with crypto, click here", "follow back f4f"])
def test_promotions_are_spam(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.disposition is IGNORE
    assert "spam" in verdict.labels


def test_neutral_chatter_is_ignored(rules: Ruleset) -> None:
    assert judge(post("watching the game tonight"), rules).disposition is IGNORE


# -- segments, urgency, escalation ------------------------------------------------


def test_large_audience_is_vip_and_more_urgent(rules: Ruleset) -> None:
    small = judge(post("internet is down again", followers=200), rules)
    large = judge(post("internet is down again", followers=80_000), rules)
    assert large.segment == "vip"
    assert large.urgency > small.urgency


def test_white_glove_author_gets_its_segment(rules: Ruleset) -> None:
    verdict = judge(post("internet is down again", handle="BigCorp", followers=50_000), rules)
    assert verdict.segment == "white_glove"
    assert "vip" in verdict.labels


def test_vip_churn_threat_is_escalated(rules: Ruleset) -> None:
    verdict = judge(post("cancelling my account today", followers=120_000), rules)
    assert "escalate" in verdict.actions


def test_white_glove_churn_threat_is_escalated(rules: Ruleset) -> None:
    verdict = judge(post("we are switching to Globex", handle="bigcorp"), rules)
    assert "escalate" in verdict.actions


def test_ordinary_churn_threat_is_not_escalated_by_rule(rules: Ruleset) -> None:
    assert judge(post("cancelling my account today"), rules).actions == ()


def test_furious_viral_post_is_escalated(rules: Ruleset) -> None:
    text = "worst company ever, absolutely disgusting, the outage ruined my week, furious"
    verdict = judge(post(text, likes=400, reposts=120), rules)
    assert "escalate" in verdict.actions


def test_spam_from_a_big_account_stays_calm(rules: Ruleset) -> None:
    verdict = judge(post("crypto giveaway, click here", followers=900_000), rules)
    assert verdict.urgency == 0
    assert verdict.segment is None


# -- the rule set as a whole ------------------------------------------------------


def test_shipped_rules_name_no_brand(rules: Ruleset) -> None:
    phrases = [p for r in rules.rules for p in (*r.when.any, *r.when.all, *r.when.none)]
    assert not [p for p in phrases if "acme" in p.lower() or "lumenet" in p.lower()]


def test_rules_judge_another_brand_the_same_way() -> None:
    acme = load_ruleset(brand=ACME)
    lumenet = load_ruleset(brand=LUMENET)
    for text in ("thanks @{h} for nothing", "cancel my {b} account", "{b} is down again"):
        a = judge(post(text.format(h="AcmeHelp", b="Acme")), acme)
        b = judge(post(text.format(h="LumenetHelp", b="Lumenet")), lumenet)
        assert (a.disposition, a.topic, a.labels) == (b.disposition, b.topic, b.labels)


def test_shipped_rules_carry_plenty_of_examples(rules: Ruleset) -> None:
    assert len(rules.examples) >= 40


def test_every_root_cause_topic_has_rules(rules: Ruleset) -> None:
    topics = {r.then.topic for r in rules.rules}
    expected = {"billing", "outage", "delivery", "cancellation", "lost_item", "account"}
    assert expected | {"product", "support", "price"} <= topics


def test_no_shipped_regex_scans_to_the_end_of_the_post_from_every_match() -> None:
    # ".*" (or "[^.!?]*") after an alternation rescans the rest of the post from every
    # place the alternation matches: a post of 4,000 characters of "but " took 0.8 s.
    # Bounded repeats ({0,300}) keep the cost in proportion to the post's length.
    import re
    import tomllib
    from importlib.resources import files

    shipped = tomllib.loads(files("rules").joinpath("default.toml").read_text(encoding="utf-8"))
    unbounded = re.compile(r"(?<!\\)(?:\.|\])[*+]")
    offenders = [
        r["id"] for r in shipped["rules"] if unbounded.search(r.get("when", {}).get("regex", ""))
    ]
    assert offenders == []
