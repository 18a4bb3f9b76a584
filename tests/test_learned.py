"""The learned layer (rules/learned.py) and how the engine uses it: fitting, the
model file's checks, and which verdicts a model may re-decide."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from listener.mention import Author, Brand, Mention
from rules import (
    Disposition,
    Model,
    ModelError,
    RuleError,
    Ruleset,
    judge,
    judge_with_features,
    load_ruleset,
    with_model,
)
from rules.evaluate import CLASSES
from rules.learned import (
    FORMAT,
    VERSION,
    Weights,
    features,
    fit,
    from_json,
    to_json,
    words_of,
)

ACME = Brand("Acme", ("acme",), {"x": "AcmeHelp"})
# A word no rule knows and VADER does not score: only a model can make it mean something.
ODD = "zebra"
NEUTRAL = f"walked past the shop today with a {ODD}"
SPAM = f"Want FREE credit?? Click {ODD} rewards.example.net limited time only!!!"


@pytest.fixture(scope="module")
def rules() -> Ruleset:
    return load_ruleset(brand=ACME)


def post(text: str, handle: str = "ana") -> Mention:
    return Mention(platform="x", native_id="1", text=text, author=Author(handle=handle))


def complaint_model(topics: Weights | None = None) -> Model:
    """A model sure that any post with ODD in it is a complaint about an outage."""
    classes = Weights(CLASSES, {"bias": (0.0, 0.0, 0.0), f"w:{ODD}": (8.0, -4.0, -4.0)})
    if topics is None:
        topics = Weights(("billing", "outage"), {"bias": (0.0, 0.0), f"w:{ODD}": (-3.0, 3.0)})
    return Model(classes, topics, {"file": "hand-made.csv"})


# -- words and features ---------------------------------------------------------------


def test_words_of_squeezes_stretched_letters() -> None:
    assert words_of("sooooo goooood") == ["soo", "good"]
    assert words_of("soooo") == words_of("sooooooooooo")


def test_words_of_replaces_urls_handles_and_digits() -> None:
    words = words_of("@AcmeHelp see https://example.com/x?y=1 and www.acme.com: 40 minutes, 2x")
    assert words == ["@", "see", "url", "and", "url", "0", "minutes", ",", "0x"]
    assert "acmehelp" not in words
    assert words_of("Hey @bob") == words_of("Hey @alice")


def test_words_of_lowercases_and_keeps_contractions_and_symbols() -> None:
    assert words_of("Can't LOG in!") == ["can't", "log", "in", "!"]


def test_features_name_rules_scores_words_and_pairs() -> None:
    names = features("app down", ["rule:outage"], "interesting_bad", -0.6, -0.3, "outage")
    assert names == sorted(names)
    for name in (
        "bias",
        "r:rule:outage",
        "d:interesting_bad",
        "s:-2",
        "c:-1",
        "t:outage",
        "w:app",
        "w:down",
        "p:app down",
    ):
        assert name in names
    assert not any(n.startswith("t:") for n in features("x", [], "ignore", 0, 0, None))


# -- fitting ----------------------------------------------------------------------------


def toy() -> tuple[list[list[str]], list[str]]:
    """Three classes told apart by one word each, among shared filler."""
    cues = {"complaint": "broken", "praise": "love", "neither": "wondering"}
    samples: list[list[str]] = []
    gold: list[str] = []
    for i in range(30):
        for label, cue in cues.items():
            samples.append(["bias", f"w:{cue}", f"w:filler{i % 5}", "w:the"])
            gold.append(label)
    return samples, gold


def test_fit_learns_a_separable_toy_problem() -> None:
    samples, gold = toy()
    ticks: list[int] = []
    weights = fit(samples, gold, CLASSES, epochs=10, rate=0.5, progress=ticks.append)
    assert ticks == [1] * 10
    assert weights.labels == CLASSES
    for names, label in zip(samples, gold, strict=True):
        assert weights.best(names)[0] == label
    label, p, why = weights.best(["bias", "w:broken", "w:filler9"])
    assert label == "complaint" and p > 0.5
    assert why[0] == '"broken"'
    assert sum(weights.probabilities(["w:love"])) == pytest.approx(1.0)


def test_fit_is_deterministic_for_a_seed() -> None:
    samples, gold = toy()
    a = fit(samples, gold, CLASSES, seed=7)
    b = fit(samples, gold, CLASSES, seed=7)
    assert a == b
    assert dict(a.table) == dict(b.table)


def test_fit_min_count_drops_rare_features() -> None:
    samples, gold = toy()
    samples[0] = [*samples[0], "w:once"]
    assert "w:once" in fit(samples, gold, CLASSES).table
    assert "w:once" not in fit(samples, gold, CLASSES, min_count=2).table


def test_fit_wants_one_gold_label_per_sample() -> None:
    with pytest.raises(ValueError, match="one gold label per sample"):
        fit([["bias"]], ["complaint", "praise"], CLASSES)


def test_unknown_features_leave_the_probabilities_even() -> None:
    weights = Weights(CLASSES, {"w:x": (1.0, 0.0, 0.0)})
    assert weights.probabilities(["w:unseen"]) == pytest.approx([1 / 3] * 3)


# -- the model file --------------------------------------------------------------------


def test_a_model_round_trips_through_json_and_decides_the_same() -> None:
    samples, gold = toy()
    classes = fit(samples, gold, CLASSES)
    topics = fit(samples[:20], ["billing", "outage"] * 10, ("billing", "outage"))
    model = Model(classes, topics, {"file": "toy.csv", "rows": len(samples)})
    data = json.loads(json.dumps(to_json(model)))
    assert data["format"] == FORMAT and data["version"] == VERSION
    again = from_json(data, "toy.json")
    assert again.source == "toy.json"
    assert again.trained == {"file": "toy.csv", "rows": len(samples)}
    assert again.classes == model.classes and again.topics == model.topics
    for names in (*samples[:6], ["bias"], ["w:broken", "w:love"]):
        for said in ("complaint", "neither"):
            for topical in ("billing", "delivery", None):
                assert again.decide(names, said, topical) == model.decide(names, said, topical)


def test_a_model_without_topics_round_trips() -> None:
    model = Model(Weights(CLASSES, {"bias": (0.0, 0.0, 0.0), "w:x": (1.0, 0.0, -1.0)}), None, {})
    again = from_json(json.loads(json.dumps(to_json(model))), "m.json")
    assert again.topics is None
    cls, topic, reason = again.decide(["w:x"], "neither", "billing")
    assert (cls, topic) == ("complaint", None)
    assert reason.rule == "model" and "topic" not in reason.detail


def good_json() -> dict[str, Any]:
    return to_json(complaint_model())


def test_from_json_accepts_a_good_model() -> None:
    model = from_json(good_json(), "m.json")
    assert model.classes.labels == CLASSES


@pytest.mark.parametrize("part", ["classes", "topics"])
def test_from_json_refuses_a_table_without_its_bias_row(part: str) -> None:
    # An emptied table used to tie every class, and the tie made every post a complaint.
    data = good_json()
    del data[part]["weights"]["bias"]
    with pytest.raises(ModelError, match=f"m.json: {part}: weights: no bias row"):
        from_json(data, "m.json")


def test_from_json_refuses_a_boolean_version_and_cuts_long_names_short() -> None:
    data = {**good_json(), "version": True}
    with pytest.raises(ModelError, match="version True"):
        from_json(data, "m.json")
    data = good_json()
    data["classes"]["weights"]["w:" + "x" * 100_000] = "junk"
    with pytest.raises(ModelError) as caught:
        from_json(data, "m.json")
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("data", [[], "earful-model", None, 3, {"format": "other", "version": 1}])
def test_from_json_rejects_what_is_not_an_earful_model(data: Any) -> None:
    with pytest.raises(ModelError, match=r"m\.json: not an Earful model"):
        from_json(data, "m.json")


def test_from_json_rejects_another_version_and_says_train_again() -> None:
    data = {**good_json(), "version": 2}
    with pytest.raises(ModelError) as caught:
        from_json(data, "m.json")
    message = str(caught.value)
    assert "m.json" in message and "version 2" in message and "train it again" in message


def test_from_json_rejects_missing_class_labels() -> None:
    data = good_json()
    data["classes"] = {"labels": ["complaint", "praise"], "weights": {"bias": [1.0, 0.0]}}
    with pytest.raises(ModelError, match="expected the labels complaint, praise, neither"):
        from_json(data, "m.json")


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ([1.0, 2.0], "short"),
        ([1.0, 2.0, 3.0, 4.0], "long"),
        ([1.0, math.nan, 0.0], "nan"),
        ([1.0, math.inf, 0.0], "inf"),
        ([1.0, -math.inf, 0.0], "-inf"),
        ([1.0, "2", 0.0], "a string"),
        ([1.0, None, 0.0], "null"),
        ([1.0, True, 0.0], "a boolean"),
        ([10**400, 0, 0], "an integer too large for a float"),
        ([1e308, 0.0, 0.0], "huge: sums to infinity"),
        ("1,2,3", "not a list"),
    ],
)
def test_from_json_rejects_bad_weight_rows(row: Any, why: str) -> None:
    data = good_json()
    data["classes"]["weights"][f"w:{ODD}"] = row
    with pytest.raises(ModelError) as caught:
        from_json(data, "m.json")
    message = str(caught.value)
    assert (
        f"m.json: classes: weights['w:{ODD}']: expected 3 numbers between -1e+06 and 1e+06"
        in message
    ), why


def test_from_json_checks_the_topics_too() -> None:
    data = good_json()
    data["topics"]["weights"][f"w:{ODD}"] = [1.0]
    with pytest.raises(ModelError, match=r"m\.json: topics: weights"):
        from_json(data, "m.json")
    data["topics"] = {"labels": ["billing", "billing"], "weights": {}}
    with pytest.raises(ModelError, match="topics: labels: expected a list of different names"):
        from_json(data, "m.json")


@pytest.mark.parametrize(
    "classes", [None, [], {"labels": [], "weights": {}}, {"labels": list(CLASSES), "weights": []}]
)
def test_from_json_rejects_a_malformed_classes_table(classes: Any) -> None:
    data = {**good_json(), "classes": classes}
    with pytest.raises(ModelError, match=r"m\.json: classes"):
        from_json(data, "m.json")


def test_nan_written_by_pythons_json_is_refused_when_read_back(tmp_path: Path) -> None:
    # json.dumps writes NaN by default; the file must not slip through that way.
    data = good_json()
    data["classes"]["weights"]["w:other"] = [float("nan"), 0.0, 0.0]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RuleError, match="numbers between"):
        load_ruleset(brand=ACME, model=path)


# -- the engine with a model --------------------------------------------------------------


def test_a_model_re_decides_a_post_the_rules_call_neither(rules: Ruleset) -> None:
    plain = judge(post(NEUTRAL), rules)
    assert plain.disposition is Disposition.IGNORE and plain.topic is None
    judged = with_model(rules, complaint_model())
    assert judged.model is not None and rules.model is None
    verdict = judge(post(NEUTRAL), judged)
    assert verdict.disposition is Disposition.INTERESTING_BAD
    assert verdict.topic == "outage"
    (reason,) = [r for r in verdict.reasons if r.rule == "model"]
    assert reason.detail.startswith("complaint (")
    assert "topic outage (" in reason.detail and f'leaning on "{ODD}"' in reason.detail
    # urgency is the complaint's, not the ignored post's
    assert verdict.urgency >= rules.settings.urgency[Disposition.INTERESTING_BAD] > plain.urgency
    assert "where the rules said neither" in reason.detail and "by_model" in verdict.labels


def test_a_model_can_turn_a_complaint_into_neither(rules: Ruleset) -> None:
    text = "app down again? can't log in"
    assert judge(post(text), rules).disposition is Disposition.INTERESTING_BAD
    shrug = Model(Weights(CLASSES, {"bias": (-9.0, -9.0, 9.0)}), None, {})
    verdict = judge(post(text), with_model(rules, shrug))
    assert verdict.disposition in (Disposition.QUESTION, Disposition.IGNORE)
    assert any(r.rule == "model" and r.detail.startswith("neither") for r in verdict.reasons)


def test_a_model_can_say_praise(rules: Ruleset) -> None:
    fan = Model(Weights(CLASSES, {f"w:{ODD}": (-4.0, 8.0, -4.0)}), None, {})
    verdict = judge(post(NEUTRAL), with_model(rules, fan))
    assert verdict.disposition is Disposition.INTERESTING_GOOD
    # no rule fired: the urgency is praise's own
    assert verdict.urgency == rules.settings.urgency[Disposition.INTERESTING_GOOD]


def test_spam_is_not_re_decided(rules: Ruleset) -> None:
    plain = judge(post(SPAM), rules)
    assert plain.disposition is Disposition.IGNORE and "no_reply" in plain.actions
    verdict = judge(post(SPAM), with_model(rules, complaint_model()))
    assert verdict == plain
    assert not any(r.rule == "model" for r in verdict.reasons)
    assert judge_with_features(post(SPAM), rules)[1] == []


def test_the_brands_own_posts_are_not_re_decided(rules: Ruleset) -> None:
    own = post(f"our {ODD} plans are out today", handle="AcmeHelp")
    plain = judge(own, rules)
    verdict = judge(own, with_model(rules, complaint_model()))
    assert verdict == plain and verdict.disposition is Disposition.IGNORE
    assert not any(r.rule == "model" for r in verdict.reasons)


def test_posts_handed_to_a_person_are_not_re_decided(rules: Ruleset) -> None:
    german = post(f"Guten Morgen, wie geht es euch heute {ODD}")
    plain = judge(german, rules)
    assert "needs_person" in plain.labels
    assert judge(german, with_model(rules, complaint_model())) == plain


def test_with_model_none_gives_the_rules_verdict(rules: Ruleset) -> None:
    judged = with_model(rules, complaint_model())
    back = with_model(judged, None)
    assert back.model is None
    assert judge(post(NEUTRAL), back) == judge(post(NEUTRAL), rules)
    # with_model does not change the rule set it was given
    assert judge(post(NEUTRAL), judged).disposition is Disposition.INTERESTING_BAD


def test_judge_with_features_gives_the_rules_verdict_and_the_features(rules: Ruleset) -> None:
    text = "app down again? can't log in"
    judged = with_model(rules, complaint_model())
    for ruleset in (rules, judged):
        verdict, names = judge_with_features(post(text), ruleset)
        assert verdict == judge(post(text), rules)
        assert not any(r.rule == "model" for r in verdict.reasons)
        assert names and "bias" in names
        assert any(n.startswith("r:") for n in names)
        assert "d:interesting_bad" in names and "t:outage" in names and "w:down" in names


def test_load_ruleset_reads_a_model_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps(good_json()), encoding="utf-8")
    ruleset = load_ruleset(brand=ACME, base_dir=tmp_path, model="m.json")
    assert ruleset.model is not None and ruleset.model.source == str(tmp_path / "m.json")
    assert judge(post(NEUTRAL), ruleset).disposition is Disposition.INTERESTING_BAD


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "not JSON"),
        ('{"format": "something-else"}', "not an Earful model"),
        ('{"format": "earful-model", "version": 0}', "train it again"),
        (b"\xff\xfe\x00garbage", "not JSON"),
    ],
)
def test_load_ruleset_refuses_a_bad_model_naming_the_file(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "m.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(RuleError) as caught:
        load_ruleset(brand=ACME, base_dir=tmp_path, model="m.json")
    said = str(caught.value)
    assert "model" in said and str(path) in said and message in said, said


def test_a_topic_the_model_never_learned_stays_the_rules(rules: Ruleset) -> None:
    # Topics are learned from complaints: a question the rules file under `account`
    # keeps it when the model knows only billing and outage, and takes the model's
    # when the model knows `account`.
    text = "how do I change my password?"
    plain = judge(post(text), rules)
    assert plain.disposition is Disposition.QUESTION and plain.topic == "account"
    neither = Weights(CLASSES, {"bias": (-9.0, -9.0, 9.0)})
    unknown = Weights(("billing", "outage"), {"bias": (5.0, -5.0)})
    known = Weights(("account", "billing"), {"bias": (-5.0, 5.0)})
    for topics, expected in ((unknown, "account"), (known, "billing")):
        verdict = judge(post(text), with_model(rules, Model(neither, topics, {})))
        assert verdict.disposition is Disposition.QUESTION
        assert verdict.topic == expected, topics.labels


def test_a_complaint_keeps_a_rules_topic_the_model_does_not_know(rules: Ruleset) -> None:
    # An airline's model knows no billing: "double charged" stays billing, not the
    # likeliest of the causes the model was trained on.
    text = "you double charged my card, I want a refund"
    assert judge(post(text), rules).topic == "billing"
    sure = Weights(CLASSES, {"bias": (9.0, -9.0, -9.0)})
    airline = Weights(("delivery", "support"), {"bias": (-5.0, 5.0)})
    verdict = judge(post(text), with_model(rules, Model(sure, airline, {})))
    assert verdict.disposition is Disposition.INTERESTING_BAD and verdict.topic == "billing"
    # a complaint the rules gave no topic gets the model's
    verdict = judge(post(NEUTRAL), with_model(rules, Model(sure, airline, {})))
    assert verdict.topic == "support"


def test_an_overruled_complaint_loses_its_urgency_points_but_not_a_rules_escalation(
    rules: Ruleset,
) -> None:
    churn = "cancelling my account, switching to Globex tomorrow"
    vip = Mention(
        platform="x",
        native_id="vip",
        text=churn,
        author=Author(handle="bigname", followers=2_000_000, verified=True),
    )
    plain = judge(vip, rules)
    assert plain.disposition is Disposition.INTERESTING_BAD and "escalate" in plain.actions
    fan = Model(Weights(CLASSES, {"bias": (-9.0, 9.0, -9.0)}), None, {})
    verdict = judge(vip, with_model(rules, fan))
    assert verdict.disposition is Disposition.INTERESTING_GOOD
    assert verdict.urgency == rules.settings.urgency[Disposition.INTERESTING_GOOD]
    assert "by_model" in verdict.labels
    assert "escalate" in verdict.actions  # the rule's instruction stands; staff decide


def test_with_model_refuses_topics_the_rules_do_not_have(rules: Ruleset) -> None:
    martian = Weights(("billing", "martian"), {"bias": (0.0, 0.0)})
    model = Model(Weights(CLASSES, {"bias": (0.0, 0.0, 0.0)}), martian, {}, source="m.json")
    with pytest.raises(RuleError, match=r"m\.json: topics the rules do not have: martian"):
        with_model(rules, model)


def test_the_model_reason_names_words_not_punctuation_or_placeholders(rules: Ruleset) -> None:
    table = {
        "bias": (0.0, 0.0, 0.0),
        "w:.": (9.0, 0.0, 0.0),
        "w:url": (9.0, 0.0, 0.0),
        "p:@ well": (9.0, 0.0, 0.0),
        "d:ignore": (9.0, 0.0, 0.0),
        f"w:{ODD}": (1.0, 0.0, 0.0),
    }
    verdict = judge(
        post(f"@acme well. {ODD} http://x.example/a"),
        with_model(rules, Model(Weights(CLASSES, table), None, {})),
    )
    (reason,) = [r for r in verdict.reasons if r.rule == "model"]
    lead = reason.detail.split("leaning on ")[1]
    assert f'"{ODD}"' in lead
    for hidden in ('"."', '"url"', '"@ well"', "ignore"):
        assert hidden not in lead, lead
