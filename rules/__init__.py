"""rules: judgement. Pure functions from a Mention to a Verdict: VADER sentiment
with a brand/complaint lexicon, and the TOML rule language on top.

Owns: Verdict (verdict.py), sentiment (sentiment.py), the rule language as written
(rulefile.py: reading and checking rule files), post text as the rules read it
(text.py), the rule engine (engine.py: compiling, loading, judging),
the shipped rule set (default.toml), the learned layer a team may train on its own
labeled posts (learned.py).
May import: listener (the Mention type), vaderSentiment, the standard library.
Does no database or network I/O.
"""

from rules.engine import (
    Ruleset,
    explain,
    judge,
    judge_with_features,
    load_ruleset,
    read_model,
    topics_of,
    with_model,
)
from rules.learned import Model, ModelError
from rules.rulefile import ExampleFailure, RuleError, RuleExampleFailed, RuleFileUnreadable
from rules.verdict import Disposition, Reason, Verdict

__all__ = [
    "Disposition",
    "ExampleFailure",
    "Model",
    "ModelError",
    "Reason",
    "RuleError",
    "RuleExampleFailed",
    "RuleFileUnreadable",
    "Ruleset",
    "Verdict",
    "explain",
    "judge",
    "judge_with_features",
    "load_ruleset",
    "read_model",
    "topics_of",
    "with_model",
]
