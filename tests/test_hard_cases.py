"""The posts VADER alone gets wrong, pinned: the shipped rules must keep getting them
right. Each is a pattern a support team knows, phrased generically."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from listener.mention import Author, Brand, Mention
from responders.context import ResponderSettings
from responders.drafts import DraftKind
from responders.respond import respond
from rules import Disposition, RuleError, Ruleset, judge, load_ruleset
from rules.language import detect, language_of

ACME = Brand("Acme", ("acme",), {"x": "AcmeHelp"})
BAD = Disposition.INTERESTING_BAD
GOOD = Disposition.INTERESTING_GOOD
QUESTION = Disposition.QUESTION


@pytest.fixture(scope="module")
def rules() -> Ruleset:
    return load_ruleset(
        brand=ACME, lists={"competitors": ["Globex"], "white_glove": ["@bigcorp", "bigcorp.com"]}
    )


def post(
    text: str,
    *,
    handle: str = "ana",
    followers: int = 150,
    likes: int = 0,
    lang: str | None = None,
    verified: bool | None = None,
) -> Mention:
    return Mention(
        platform="x",
        native_id="1",
        text=text,
        author=Author(handle=handle, followers=followers, verified=verified),
        likes=likes,
        lang=lang,
    )


# -- complaints without sentiment words ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("app down again? can't log in", "outage"),
        ("charged twice and still no refund", "billing"),
        ("on hold for 40 minutes, nobody picks up", "support"),
        ("my order is delayed again, tracking hasn't moved in days", "delivery"),
        ("they cancelled my appointment without telling me", "cancellation"),
        ("lost my bag and nobody can tell me where it is", "lost_item"),
        ("wifi keeps dropping every evening", "outage"),
    ],
)
def test_complaints_with_no_sentiment_words(rules: Ruleset, text: str, topic: str) -> None:
    verdict = judge(post(text), rules)
    assert (verdict.disposition, verdict.topic) == (BAD, topic)


def test_a_question_about_something_that_went_wrong_is_a_complaint(rules: Ruleset) -> None:
    verdict = judge(post("@AcmeHelp why was my order delayed again? still no update"), rules)
    assert verdict.disposition is BAD


def test_a_plain_question_about_the_service_stays_a_question(rules: Ruleset) -> None:
    assert judge(post("can I change my booking online?"), rules).disposition is QUESTION


def test_a_question_signed_off_with_thanks_is_not_praise(rules: Ruleset) -> None:
    verdict = judge(post("does the family plan include roaming? thanks!"), rules)
    assert verdict.disposition is QUESTION


# -- sarcasm and negated praise ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "thanks @acme for nothing :(",
        "great, another outage",
        "love waiting on hold for an hour",
        "thanks for leaving my bag at the airport, really appreciate it",
        "well done, my order is late again",
    ],
)
def test_sarcasm_is_a_complaint(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.compound > 0  # VADER reads it as warm
    assert verdict.disposition is BAD


@pytest.mark.parametrize(
    "text", ["not happy with the service", "wouldn't recommend them", "staff less than friendly"]
)
def test_negated_praise_is_a_complaint(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is BAD


@pytest.mark.parametrize(
    "text",
    [
        "support fixed my connection in 5 minutes, thank you!",
        "been a customer 10 years and never had a problem",
        "impressed with how fast the outage was fixed",
    ],
)
def test_a_problem_put_right_is_praise(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is GOOD


# -- round 2: warmth is not praise, failures said flatly are complaints ---------------


@pytest.mark.parametrize(
    "text",
    [
        "please add more flights from our little airport",  # a request
        "shares rise on strong quarterly results",  # news
        "hope the weather holds for the trip",  # chatter
        "a refund would be great, please confirm when",  # a request, politely
    ],
)
def test_mild_warmth_without_a_praise_cue_is_not_praise(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.compound > 0.05  # VADER alone would call it praise
    assert verdict.disposition is not GOOD
    assert verdict.score > 0.05  # plain sentiment is left as it was


def test_a_glowing_post_is_still_praise_without_a_cue(rules: Ruleset) -> None:
    verdict = judge(post("the crew made the whole trip a joy, truly wonderful people"), rules)
    assert verdict.disposition is GOOD


ROUND_2 = [
    # a failure said flatly, no feeling words
    ("the technician never showed up and nobody told us", BAD),
    ("I don't understand why this takes two weeks", BAD),
    ("3 hours and the app still says pending", BAD),
    # what comes after "but" is the point
    ("thanks for the update, but my order still hasn't moved", BAD),
    ("appreciate the reply but nobody has called me back", BAD),
    # a lone cheer after a failure is sarcasm
    ("the app says my payment failed but the bank took it. twice. brilliant", BAD),
    ("tracking number doesn't exist on the courier's site. Cool cool cool", BAD),
    ("on hold for 2 hours again. great job", BAD),
    ("raising prices after the week we've had is certainly a choice", BAD),
    # praise for how a problem was handled
    ("delayed two hours but the gate crew were amazing, thank you", GOOD),
    ("my flight was cancelled and your agent rebooked us in minutes. kudos!", GOOD),
    ("Took one call to sort the contract. Credit where it's due.", GOOD),
    # asking what to do, even about trouble
    ("my flight tomorrow might be cancelled, will I get a refund?", QUESTION),
    ("if my bag is delayed can I pick it up later?", QUESTION),
]


@pytest.mark.parametrize(
    "text",
    [
        "Want FREE Acme credit?? Click 👉 acme-rewards.example.net limited time only!!!",
        "Best broadband deals this month compared 👉 deals.example.com #ad",
    ],
)
def test_free_stuff_behind_a_click_and_ads_are_spam(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.disposition is Disposition.IGNORE
    assert "spam" in verdict.labels


def test_a_protest_hashtag_is_a_complaint(rules: Ruleset) -> None:
    verdict = judge(post("third time this month #acmefail"), rules)
    assert verdict.disposition is BAD
    assert "hashtag" in verdict.labels


@pytest.mark.parametrize("text", ["Acme 😡😡😡", "@AcmeHelp 🤬", "acme customer service 👎"])
def test_anger_said_with_emoji_alone_is_a_complaint(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.disposition is BAD and "angry_emoji" in verdict.labels


def test_an_angry_emoji_in_warm_thanks_leaves_it_praise(rules: Ruleset) -> None:
    text = "the rain today 😤 but acme fixed my wifi in 10 minutes, legends"
    assert judge(post(text), rules).disposition is GOOD


@pytest.mark.parametrize(
    "text",
    ["@AcmeHelp the new automations feature is lowkey fire 🔥", "@AcmeHelp 💯🔥", "acme 🎧🔥🔥🔥"],
)
def test_fire_and_hundred_emoji_are_hype_not_anger(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is GOOD


def test_an_at_handle_is_a_name_not_a_word(rules: Ruleset) -> None:
    # VADER alone scores "@united" and "@happyhomes" as the words "united", "happyhomes".
    verdict = judge(post("@united flight 280"), rules)
    assert verdict.compound == 0.0
    assert verdict.disposition is not GOOD


@pytest.mark.parametrize(
    "text",
    [
        "acme down in leeds or just me",
        "Acme's app and broadband seem to be down across the north this morning",
        "still nothing in LS6. #acmedown 14 hours now",
        "Stockport SK4, no broadband, 4G fine.",
        "Bradford, out since 07:05. Mobile data dead too.",
    ],
)
def test_an_outage_report_naming_the_brand_is_an_outage(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.disposition is BAD and verdict.topic == "outage"


# Each pair: a post, and the disposition a support team would give it. The comment
# names the rule (or the rule's limit) the case pins.
DISPOSITIONS = [
    # brand_down stops at "down", "dead", "offline": "out" is too often praise
    ("acme is out of this world, best ISP", GOOD),
    # follow_up: the customer is already in private messages...
    ("@AcmeHelp DM sent. Thanks.", QUESTION),
    ("check your DMs please", QUESTION),
    # ...unless the follow-up names trouble
    ("DM sent, been on hold for 2 hours and nobody answers", BAD),
    # wish, and "best" that ranks options: asking, not praising
    ("I would love a window seat on my flight tomorrow", QUESTION),
    ("we'd love to see more routes out of San Diego", QUESTION),
    ("when is the best time to book for the summer?", QUESTION),
    ("would love an explanation for the third outage", BAD),
    # thanks_over_trouble, and the "so much for" sneer that real thanks is not
    ("Thanks so much for the update! Delayed a bit but made my connection :) great crew", GOOD),
    ("thanks for the update, still stuck at the gate", BAD),
    # marked sarcasm, canned answers, "X, not so much"
    ("thanks a lot for the 'special deal'. getting overcharged is the best #sarcasm", BAD),
    ("Thanks for the vague canned response that doesn't address the issue!", BAD),
    ("great at answering public messages. Direct messages, not so much.", BAD),
    # praise_over_no: failure words alone do not make praise a complaint...
    ("best flight ever, not a single bump. love the new seats", GOOD),
    ("no delays at all, thanks for a great flight!", GOOD),
    # ...real trouble next to it does
    ("love the crew but we have been stuck on the tarmac for 3 hours, not ok", BAD),
    # "why" the interjection, not a question
    ("why thank you!! yayayay!!", GOOD),
]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Acme suffers major outage across northern England", "news"),
        ("Acme confirms the outage was caused by a power failure at its Leeds site", "news"),
        ("Acme customers could be owed compensation after outage", "news"),
        ("Acme to raise broadband prices by £4.50 a month from January", "news"),
        ("Update: Acme has now acknowledged a power failure at the Leeds site", "news"),
        ("Acme Incident Report: 18 November Service Disruption", "news"),
        (
            "Ask them for a 4G backup dongle. They gave me one free when my router was delayed.",
            "advice",
        ),
        (
            'You have to ring them and ask for "modem mode". Took me two calls but it works now.',
            "advice",
        ),
        ("Yes, ring support and ask for modem mode. Annoying, but it works.", "advice"),
        (
            "Check your contract summary: price rises have to be written in pounds at signup.",
            "advice",
        ),
        (
            "PSA: if your Acme router is stuck on flashing blue after the outage, pull the power",
            "advice",
        ),
        ("Don't just cancel the direct debit, they'll pass it to collections.", "advice"),
    ],
)
def test_coverage_and_advice_to_other_customers_are_no_complaint(
    rules: Ruleset, text: str, label: str
) -> None:
    verdict = judge(post(text), rules)
    assert verdict.disposition is Disposition.IGNORE
    assert label in verdict.labels


@pytest.mark.parametrize(
    "text",
    [
        "Acme admits it overcharged me for 3 months",
        "acme raises prices AGAIN. unbelievable",
        "acme apologises but my internet is still down",
        "Acme confirms outage, we've had nothing since 6pm",
        "Call them? I've called them 5 times and nobody answers",
        "Ask them why they charged me twice",
        "@AcmeHelp call me back, I've been waiting 3 days",
        "tell them to fix the app, it's been broken for weeks",
        "PSA Acme cancelled our flights with no notice. Avoid.",
        # from a review of round 10: customers telling it, or telling the brand
        "Acme confirmed an engineer would come today. Nobody showed up. Third time.",
        "@AcmeHelp acknowledged the fault two weeks ago and still no fix. Useless.",
        "Acme launched a new app and now nobody can log in",
        "Acme customers face 3 hour waits on the phone, absolutely shocking service",
        "Acme restored service for ten minutes then the whole street lost internet",
        "Call them and they just hang up on you, worst company ever",
        "@AcmeHelp don't just cancel orders without telling people. Where is the refund?",
        "@AcmeHelp tip: answer the phone. 2 hours on hold.",
        "@AcmeHelp check your bill system, you charged twice for the same month!",
        "Thousands still without internet as Acme restores service",  # a headline, missed
    ],
)
def test_look_alikes_of_news_and_advice_stay_complaints(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.disposition is BAD
    assert not {"news", "advice"} & set(verdict.labels)


@pytest.mark.parametrize(
    "text",
    [
        "@AcmeHelp DM me and I'll find you the order number",
        "@AcmeHelp I know where your store is but it's always closed when I go",
        "Acme customers watch your back, they'll add fees you never agreed to",
    ],
)
def test_everyday_phrases_are_no_threat(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert "threat" not in verdict.labels and "no_reply" not in verdict.actions


@pytest.mark.parametrize(
    "text",
    [
        "Acme phone battery exploded and set my sofa on fire 🔥",
        "My Acme charger caught fire 🔥 last night, thanks a lot",
    ],
)
def test_a_fire_is_a_safety_incident_not_hype(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.disposition is BAD and "safety" in verdict.labels
    assert "escalate" in verdict.actions


@pytest.mark.parametrize(
    "text", ["@AcmeHelp your customer service is a dumpster fire 🔥", "acme is not 🔥 anymore"]
)
def test_contempt_around_a_fire_emoji_is_no_praise(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is BAD


def test_a_threat_goes_to_a_person_and_is_never_answered_by_a_draft(rules: Ruleset) -> None:
    mention = post("I will find whoever runs Acme and make them pay, I know where your office is")
    verdict = judge(mention, rules)
    assert verdict.disposition is BAD and "threat" in verdict.labels
    assert {"escalate", "no_reply"} <= set(verdict.actions)
    drafts = respond(
        mention, verdict, ResponderSettings(brand=ACME), last_contact=None, now=datetime.now(UTC)
    )
    assert DraftKind.REPLY not in {d.kind for d in drafts}
    assert DraftKind.ESCALATION in {d.kind for d in drafts}


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        (
            "Great, Acme charged me an exit fee for moving house. Fantastic customer care.",
            "billing",
        ),
        (
            "trying to cancel my acme contract and they want a £200 exit fee. absolute joke",
            "cancellation",
        ),
        ("acme line down at our Leeds branch since 9", "outage"),
        ("acme landline dead all morning", "outage"),
        (
            "Great, Acme charged me an exit fee for moving house. No notice at all. "
            "Fantastic customer care.",
            "billing",
        ),
    ],
)
def test_a_fee_for_leaving_and_a_line_down_are_complaints(
    rules: Ruleset, text: str, topic: str
) -> None:
    verdict = judge(post(text), rules)
    assert (verdict.disposition, verdict.topic) == (BAD, topic)


def test_a_fee_not_charged_is_no_fee_complaint(rules: Ruleset) -> None:
    verdict = judge(post("left acme last month, they waived the exit fee, fair play"), rules)
    assert "fee" not in verdict.labels


def test_a_follow_up_is_labeled_for_its_callback(rules: Ruleset) -> None:
    assert "follow_up" in judge(post("@AcmeHelp DM sent. Thanks."), rules).labels


def test_thanks_said_in_full_is_praise_on_a_stressful_day(rules: Ruleset) -> None:
    verdict = judge(post("@AcmeHelp thank you so much, it's been a very stressful day"), rules)
    assert verdict.compound < 0 and verdict.disposition is GOOD


def test_working_from_home_without_internet_is_a_complaint_not_spam(rules: Ruleset) -> None:
    verdict = judge(post("Bury, since 7am. Work from home day, of course. Useless company"), rules)
    assert verdict.disposition is BAD and "spam" not in verdict.labels


def test_an_account_recovery_scam_is_spam(rules: Ruleset) -> None:
    text = "@AcmeHelp Lost access to your account? Our team recovers ANY account in 24h DM now"
    verdict = judge(post(text), rules)
    assert "spam" in verdict.labels and "no_reply" in verdict.actions


# -- churn, urgency, interest --------------------------------------------------------


def test_a_churn_threat_is_urgent(rules: Ruleset) -> None:
    verdict = judge(post("that's it, cancelling my subscription and switching to Globex"), rules)
    assert verdict.disposition is BAD
    assert {"churn_risk", "competitor"} <= set(verdict.labels)
    assert verdict.urgency >= 60


@pytest.mark.parametrize(
    "text",
    [
        "switched to Acme last month and honestly the speeds are great",
        "finally moved over to @AcmeHelp from Globex, best decision this year",
        "went with acme for the new flat, install was painless",
        "switched back to Acme after a year with Globex, the speeds are great",
    ],
)
def test_switching_to_the_brand_is_a_new_customer_not_churn(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert "churn_risk" not in verdict.labels and "new_customer" in verdict.labels
    assert verdict.disposition is GOOD


def test_switching_away_from_the_brand_is_still_churn(rules: Ruleset) -> None:
    verdict = judge(post("switched to Globex, acme was down every evening"), rules)
    assert verdict.disposition is BAD and "churn_risk" in verdict.labels
    assert "new_customer" not in verdict.labels


@pytest.mark.parametrize(
    "text",
    ["switching back to Globex after this week", "I'll be switching back to my old provider"],
)
def test_going_back_to_another_provider_is_churn(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.disposition is BAD and "churn_risk" in verdict.labels


@pytest.mark.parametrize(
    "text",
    [
        "your customer service is atrocious.",
        "abysmal, again",
        "what a debacle",
        "so patronizing",
        "the support chat is inept",
    ],
)
def test_contempt_vader_does_not_know_is_a_complaint(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.disposition is BAD
    assert verdict.compound < 0


def test_a_churn_threat_from_a_large_account_is_escalated(rules: Ruleset) -> None:
    verdict = judge(post("never again, I'm switching providers", followers=250_000), rules)
    assert verdict.segment == "vip"
    assert "escalate" in verdict.actions
    assert verdict.urgency >= 80


def test_a_white_glove_domain_raises_urgency(rules: Ruleset) -> None:
    verdict = judge(post("service down at our office", handle="it@bigcorp.com"), rules)
    assert verdict.segment == "white_glove"
    assert verdict.urgency > judge(post("service down at our office"), rules).urgency


def test_capitals_stretched_words_and_bangs_raise_urgency_and_interest(rules: Ruleset) -> None:
    calm = judge(post("where is my order"), rules)
    loud = judge(post("WHERE IS MY ORDER?! whyyyy"), rules)
    assert calm.disposition is loud.disposition is BAD
    assert loud.urgency > calm.urgency
    assert loud.interest > calm.interest
    assert any(r.rule == "intensity" for r in loud.reasons)


def test_reach_and_engagement_rank_the_queue(rules: Ruleset) -> None:
    quiet = judge(post("still no refund", followers=10), rules)
    loud = judge(post("still no refund", followers=500_000, likes=900, verified=True), rules)
    assert loud.interest > quiet.interest


# -- posts not in English ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Le service client ne répond jamais, c'est vraiment nul", "fr"),
        ("Mein Router ist seit einer Woche in Zustellung und keiner hilft", "de"),
        ("アプリにログインできない。パスワードの再設定メールも届かない", "ja"),
        ("Роутер не работает уже третий день", "ru"),
        ("Znowu nie działa internet od samego rana, dzwoniłem trzy razy do obsługi", "pl"),
    ],
)
def test_a_post_the_lexicon_cannot_read_goes_to_a_person(
    rules: Ruleset, text: str, lang: str
) -> None:
    verdict = judge(post(text), rules)
    assert verdict.lang == lang
    assert verdict.disposition is QUESTION
    assert {"non_english", "needs_person"} <= set(verdict.labels)
    reason = next(r for r in verdict.reasons if r.rule == "language")
    assert f"written in {lang}" in reason.detail


@pytest.mark.parametrize(
    "text",
    [
        "no internet since monday, no engineer, no callback",
        "acme engineer didn't show up, no call, no text",
        "no wifi, no tv, no landline. no thanks",
        "Still no broadband. No update. Nothing.",
    ],
)
def test_an_english_complaint_of_noes_is_not_read_as_spanish(rules: Ruleset, text: str) -> None:
    # "no" is English as much as Spanish: counted for Spanish, these lost their reply
    verdict = judge(post(text), rules)
    assert verdict.lang in (None, "en")
    assert verdict.disposition is BAD
    assert "non_english" not in verdict.labels


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("no tengo internet desde ayer y no hay nadie en el chat", "es"),
        ("no me llega la factura, no entiendo nada", "es"),  # short: "no" counts here
        ("no funciona el router, no tengo internet", "es"),
        ("per favore, internet non va da ieri", "it"),
    ],
)
def test_no_and_per_count_beside_other_words_of_their_language(text: str, lang: str) -> None:
    assert detect(text) == lang


def test_a_stray_english_word_does_not_decide_a_foreign_post(rules: Ruleset) -> None:
    # "Super" is sarcastic here; the English lexicon would read it as praise.
    text = "Roaming funktioniert seit gestern nicht mehr. Kein Netz, keine Daten. Super."
    verdict = judge(post(text), rules)
    assert verdict.disposition is QUESTION
    assert "needs_person" in verdict.labels


def test_a_rule_that_matches_still_judges_a_foreign_post(rules: Ruleset) -> None:
    verdict = judge(post("#acmefail encore une panne, la troisième cette semaine"), rules)
    assert verdict.disposition is BAD
    assert "non_english" in verdict.labels
    assert "needs_person" not in verdict.labels


def test_the_platform_language_tag_wins_over_the_guess(rules: Ruleset) -> None:
    verdict = judge(post("ok ok ok", lang="pt-BR"), rules)
    assert verdict.lang == "pt"


def test_english_is_judged_as_before(rules: Ruleset) -> None:
    verdict = judge(post("the app is great, thanks for the update"), rules)
    assert verdict.lang == "en"
    assert "non_english" not in verdict.labels


def test_a_post_for_a_person_gets_a_callback_not_an_english_reply(rules: Ruleset) -> None:
    mention = post("Le service client ne répond jamais, c'est vraiment nul")
    verdict = judge(mention, rules)
    drafts = respond(
        mention, verdict, ResponderSettings(brand=ACME), last_contact=None, now=datetime.now(UTC)
    )
    assert [d.kind for d in drafts] == [DraftKind.CALLBACK]
    assert "written in fr" in drafts[0].reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the flight was delayed and nobody told us why", "en"),
        ("el vuelo está retrasado y nadie nos dice por qué", "es"),
        ("o voo está atrasado e ninguém diz nada, que vergonha", "pt"),
        ("il volo è in ritardo e nessuno ci dice perché, che vergogna", "it"),
        ("de vlucht is vertraagd en niemand zegt waarom", "nl"),
        # English's "do" and "to" are Polish and Czech words too: no longer enough
        # to call these English and judge them as neutral English
        ("Znowu nie działa internet od samego rana, dzwoniłem trzy razy do obsługi", "pl"),
        ("Internet zase nefunguje, zákaznická linka to nezvedá", "cs"),
        ("İnternet yine çalışmıyor, müşteri hizmetleri telefonu açmıyor, çok kötü", "tr"),
        ("Internet mati lagi dari pagi, sudah telepon tiga kali tapi tidak ada jawaban", "id"),
        ("Internettet virker ikke igen, jeg har ringet tre gange", "da"),
        ("Internet ya ha vuelto a caer, llevo dos horas esperando", "es"),
        ("my internet is down again since this morning, no refund", "en"),
        ("I told a rep I want a refund and the flight is late", "en"),  # "i", "a": English
        ("stuck w/ no wifi w/ kids and the app is down", "en"),
        ("café was great but the wifi is down", "en"),
        ("ok", None),  # too short to tell
        ("@acme #fail https://example.com/x", None),
        ("", None),
    ],
)
def test_language_guess(text: str, expected: str | None) -> None:
    assert detect(text) == expected


def test_language_tags_that_say_nothing_fall_back_to_the_guess() -> None:
    assert language_of("el vuelo está retrasado y nadie nos dice por qué", "und") == "es"
    assert language_of("hello", "EN") == "en"


# -- the complaint_topic setting -----------------------------------------------------


def test_complaint_topic_is_the_cause_of_a_complaint_no_cue_named(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[settings]\ncomplaint_topic = "support"\n', encoding="utf-8")
    rules = load_ruleset([path], brand=ACME)
    verdict = judge(post("this is awful"), rules)
    assert (verdict.disposition, verdict.topic) == (BAD, "support")
    assert verdict.reasons[-1].rule == "complaint_topic"
    assert judge(post("this is lovely"), rules).topic is None


def test_complaint_topic_must_be_a_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("[settings]\ncomplaint_topic = 3\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r"settings\.complaint_topic: expected a string, got 3"):
        load_ruleset([path], brand=ACME)


@pytest.mark.parametrize(
    "text",
    [
        "𝐭𝐡𝐞 𝐚𝐩𝐩 𝐢𝐬 𝐝𝐨𝐰𝐧 𝐚𝐠𝐚𝐢𝐧",  # mathematical bold, as "fancy text" generators write it
        "ｔｈｅ ａｐｐ ｉｓ ｄｏｗｎ ａｇａｉｎ",  # fullwidth
        "acme is d\u200bown",  # a zero-width space inside a word
        "i can\u200ct log in",  # a zero-width non-joiner
    ],
)
def test_letters_dressed_up_or_split_by_invisible_characters_are_read(
    rules: Ruleset, text: str
) -> None:
    assert judge(post(text), rules).disposition is BAD


# -- round 8's praise cues must not swallow the complaints they resemble ----------------


@pytest.mark.parametrize(
    "text",
    [
        "you said you fixed it yesterday and the internet is down again tonight",
        "acme said the engineer fixed it. he didn't. broadband still down",
        "support says no issues on their end but my broadband has been out since 6am",
        "they took care of nothing, I've been charged twice this month",
        "no outages they said. it has been down since 7am",
        "back online my foot, acme broadband has been out since friday",
        '"thanks for the help" acme, still no refund after a month',
        "I didn't expect a 3 hour wait just to speak to acme support",
        "not bad acme, you managed to lose my parcel twice in a week",
        "would be great if acme could stop charging me twice every month",
        "would be great if acme actually answered the phone for once",
    ],
)
def test_a_fix_denied_or_a_sneer_is_still_a_complaint(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is BAD


@pytest.mark.parametrize(
    "text",
    [
        "my old dial up was way better than the acme fibre I'm paying for",
        "even globex is better than what acme has become, cancelling",
    ],
)
def test_a_rival_better_than_the_brand_is_no_praise(rules: Ruleset, text: str) -> None:
    assert judge(post(text), rules).disposition is not GOOD


@pytest.mark.parametrize(
    "text",
    [
        "I'm switching from acme to globex, done with you",
        "moving from acme to globex next month, cancelling my contract, never again",
    ],
)
def test_leaving_the_brand_is_churn_whichever_way_it_is_said(rules: Ruleset, text: str) -> None:
    verdict = judge(post(text), rules)
    assert verdict.disposition is BAD and "churn_risk" in verdict.labels


# -- round 9: looking forward, forgiving, asking for the best, requests, concessions ----


ROUND_9 = [
    ("just booked my acme trip to see my sister, can't wait!", GOOD),
    ("can't wait to try the new acme app on my next trip", GOOD),
    ("heard nothing but great things about acme support, switching my account", GOOD),
    ("@AcmeHelp no apology needed, the engineer sorted it in the end", GOOD),
    ("@AcmeHelp not your fault the storm took the line down, thanks for the updates", GOOD),
    ("Priya from acme support helped me set up the router in 10 minutes", GOOD),
    ("@AcmeHelp what's the best number to call about my account?", QUESTION),
    ("@AcmeHelp what's the best plan for a family of four?", QUESTION),
    ("@AcmeHelp please send me the link to update my address, thanks", QUESTION),
    ("@AcmeHelp can you tell me if my order has shipped?", QUESTION),
    # the same words, where the customer is not looking forward or forgiving
    ("acme I can't wait all day for an engineer, my appointment was at 9", BAD),
    ("I can't wait any longer for acme to fix my internet", BAD),
    ("acme gave me nothing but problems with my account", BAD),
    ("@AcmeHelp not your fault? you cancelled my appointment three times", BAD),
    ("@AcmeHelp what is the best way to reach support? on hold 2 hours and nobody answers", BAD),
    ("@AcmeHelp please fix my internet, it has been down for 2 days, thanks", BAD),
    ("@AcmeHelp can you tell me why my bill doubled?? this is ridiculous", BAD),
    # thanks for a reply that did not help, praise conceded before the point
    ("@AcmeHelp thanks for the canned reply", BAD),
    ("@AcmeHelp thanks for the standard response, my router is still broken", BAD),
    ("your agent was less than helpful today", BAD),
    ("I'm less than impressed with acme's new pricing", BAD),
    ("while I appreciate the reply, my parcel is still missing", BAD),
    ("while I appreciate the quick reply, it didn't answer my question", BAD),
    # blame and how it felt, without a sentiment word VADER weighs
    ("you messed up my order again acme", BAD),
    ("so frustrating, acme support keeps closing my ticket", BAD),
    ("acme, thats a lie, nobody called me", BAD),
]


def test_a_hashtag_that_starts_with_never_is_no_protest(rules: Ruleset) -> None:
    verdict = judge(post("so easy to change my booking with acme, love it #neverchange"), rules)
    assert verdict.disposition is GOOD
    assert judge(post("3 hours on hold again #neverflyingacme"), rules).disposition is BAD


# Look-alikes a review of round 9 wrote against the new cues: each was misjudged by
# a first version of them.
ROUND_9_LOOK_ALIKES = [
    ("third time this month your same-day delivery has been perfect every time", GOOD),
    ("you owe me a pint, Sam on chat was a legend today", GOOD),
    ("what's the solution if my card gets declined abroad?", QUESTION),
    ("I messed up my password three times, thank you for the quick unlock!", GOOD),
    ("got me home 14 hours late and missed the recital, thanks a lot", BAD),
    ("your app was able to get my order wrong three times in one week, impressive", BAD),
    ("I was able to help myself after reading the forum because your support couldn't", BAD),
    ("took care of my missing parcel, nobody could ask for more", GOOD),
    ('"not your fault" is all your agents ever say. Whose fault is it then', BAD),
    ("all is forgiven once I get my refund, which is now 6 weeks late", BAD),
    ("what's the standard response time for emails?", QUESTION),
    ("although I understand it's peak season, any chance of a window seat?", QUESTION),
    ("can't beat waiting 6 weeks for a refund, really the highlight of my year", BAD),
    ("can't thank you enough for making me miss my connection", BAD),
    ("who designed the new app? it's brilliant", GOOD),
    ("my friends said nothing but good things about acme. They lied.", BAD),
    ("nothing but kind words from me, but your app has logged me out 6 times today", BAD),
    ("bought a kettle at acme today #nevershoppinghereagain", BAD),
    ("I can't wait any longer for season 3, please tell me it drops this Friday!!", GOOD),
    ("can you tell me why your engineer didn't turn up for the 3rd time?", BAD),
    ("please DM me, thanks for the quick response earlier, you guys are legends", GOOD),
    ("can't wait to get my refund, your agent told me 5 days, it's been 5 weeks", BAD),
    ("your night shift staff are so under appreciated, Dave at the store was brilliant", GOOD),
    ("can't wait for my refund, lol, 6 weeks and counting", BAD),
    ("is this really the best you can do?", BAD),
]


@pytest.mark.parametrize(
    ("text", "expected"), ROUND_2 + DISPOSITIONS + ROUND_9 + ROUND_9_LOOK_ALIKES
)
def test_disposition_a_support_team_would_give(
    rules: Ruleset, text: str, expected: Disposition
) -> None:
    assert judge(post(text), rules).disposition is expected
