"""The judgement of one mention, and why. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Disposition(StrEnum):
    INTERESTING_BAD = "interesting_bad"  # complaint, outage, churn threat
    INTERESTING_GOOD = "interesting_good"  # praise, referral
    QUESTION = "question"
    IGNORE = "ignore"  # noise, spam, the brand's own posts


@dataclass(frozen=True, slots=True)
class Reason:
    """One cue or rule that fired: `rule` names it ("vader", "rule:outage"),
    `detail` says what matched, `weight` is its pull on the sentiment score
    (negative towards complaint) or its urgency points, as `detail` says."""

    rule: str
    detail: str
    weight: float = 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    disposition: Disposition
    compound: float  # VADER's compound score, -1..1, untouched
    score: float  # the score after the rules' adjustments, -1..1
    labels: tuple[str, ...] = ()
    topic: str | None = None  # root cause: billing, outage, delivery, support, ...
    urgency: int = 0  # 0..100: how soon a person should look
    interest: int = 0  # 0..100: intensity x reach x engagement; ranks the queue
    segment: str | None = None  # e.g. "white_glove", "vip"
    actions: tuple[str, ...] = ()  # extra responder instructions: "escalate", "no_reply"
    reasons: tuple[Reason, ...] = ()
    lang: str | None = None  # the language judged, when detected

    @property
    def is_complaint(self) -> bool:
        return self.disposition is Disposition.INTERESTING_BAD

    @property
    def is_praise(self) -> bool:
        return self.disposition is Disposition.INTERESTING_GOOD

    # Neither is a customer's voice: reports leave both out of net sentiment, or the
    # more the support team posts, or the bigger a giveaway wave, the better it looks.
    @property
    def is_own_post(self) -> bool:
        return any(r.rule == "own_post" for r in self.reasons)

    @property
    def is_spam(self) -> bool:
        return "spam" in self.labels and not self.is_own_post
