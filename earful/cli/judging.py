"""Judging posts and measuring it: classify, eval, train."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from earful.cli.base import (
    BadConfig,
    F,
    WholeNumber,
    _check_target,
    _load,
    _with_bar,
    cli,
    config_option,
    handles_errors,
    json_option,
)
from earful.config import Config, config_path
from earful.display import safe, to_json
from listener.mention import PLATFORMS

# -- classify -------------------------------------------------------------------


@cli.command()
@config_option
@json_option
@click.option("--explain", is_flag=True, help="Show every cue and rule that fired.")
@click.option(
    "--platform",
    type=click.Choice(PLATFORMS),
    default="x",
    show_default=True,
    help="Judge as a post from here.",
)
@click.option(
    "--followers", type=WholeNumber(min=0), default=None, help="The author's follower count."
)
@click.option("--author", default="someone", show_default=True, help="The author's handle.")
@click.option("--verified", is_flag=True, help="The author's account is verified.")
@click.option(
    "--engagement",
    type=WholeNumber(min=0),
    default=None,
    help="The post's likes, reposts and replies together.",
)
@click.option("--reply", is_flag=True, help="Judge as a reply to another post.")
@click.argument("words", nargs=-1, required=True, metavar="TEXT")
@handles_errors
def classify(
    config_file: Path | None,
    as_json: bool,
    explain: bool,
    platform: str,
    followers: int | None,
    author: str,
    verified: bool,
    engagement: int | None,
    reply: bool,
    words: tuple[str, ...],
) -> None:
    """Judge TEXT the way Earful would, without storing anything. TEXT may be several
    words (quote it to keep its punctuation from the shell), or "-" to read stdin.

    Uses the rules of the config file when there is one, else the shipped rules.
    """
    from listener.mention import Author, Mention
    from rules import explain as explain_lines
    from rules import judge

    text = sys.stdin.read() if words == ("-",) else " ".join(words)

    stages = _classify_stages(config_file)
    mention = Mention(
        platform=platform,
        native_id="classify",
        text=text,
        author=Author(handle=author, followers=followers, verified=verified or None),
        created_at=datetime.now(UTC),
        likes=engagement,
        in_reply_to="classify:parent" if reply else None,
    )
    verdict = judge(mention, stages.ruleset)
    if as_json:
        click.echo(to_json(verdict))
        return
    if explain:
        for line in explain_lines(verdict):
            click.echo(safe(line))
        return
    topic = f" ({verdict.topic})" if verdict.topic else ""
    click.echo(f"{verdict.disposition.value}{topic} urgency {verdict.urgency}")


def _has_config(config_file: Path | None) -> bool:
    """A config named with -c or $EARFUL_CONFIG (which must then exist), or a
    ./earful.toml; without either, classify, eval and train use the shipped rules."""
    named = config_file is not None or bool(os.environ.get("EARFUL_CONFIG"))
    return named or config_path(config_file).exists()


def _classify_stages(config_file: Path | None, *, learned: bool = True) -> Any:
    """The config's rules (with its model unless `learned` is False), else the shipped
    rules for a neutral brand."""
    config = _load(config_file) if _has_config(config_file) else None
    return _stages_for(config, learned=learned)


def _stages_for(config: Config | None, *, learned: bool = True) -> Any:
    """`config`'s rules (with its model unless `learned` is False); without a config,
    the shipped rules for a neutral brand."""
    from earful.pipeline import Stages
    from responders.context import ResponderSettings
    from rules import load_ruleset

    if config is not None:
        from earful.pipeline import build_stages

        return build_stages(config, learned=learned)
    from listener.mention import Brand

    brand = Brand("your brand")
    return Stages(load_ruleset(brand=brand), ResponderSettings(brand=brand))


# -- eval -----------------------------------------------------------------------


def _pairs_option(flag: str, dest: str, metavar: str, what: str) -> Callable[[F], F]:
    return click.option(
        flag, dest, multiple=True, metavar=f"{metavar},...", help=f"Map the file's {what}."
    )


def _table_options(func: F) -> F:
    """The labeled file and how to read it: shared by `eval` and `train`."""
    options = [
        click.argument("file", type=click.Path(dir_okay=False, path_type=Path)),
        click.option(
            "--text-col",
            default="text",
            show_default=True,
            help="Column of the post text (name or number).",
        ),
        click.option(
            "--label-col", default="label", show_default=True, help="Column of the human label."
        ),
        _pairs_option("--map", "maps", "LABEL=CLASS", "labels to complaint, praise or neither"),
        click.option(
            "--sign-labels", is_flag=True, help="Labels are numbers: >0 praise, <0 complaint."
        ),
        click.option(
            "--topic-col", default=None, help="Column with the root cause, when there is one."
        ),
        _pairs_option(
            "--topic-map", "topic_maps", "CAUSE=TOPIC", "causes to topics; CAUSE= is unknown"
        ),
        click.option("--no-header", is_flag=True, help="The first row is data; columns by number."),
        click.option(
            "--half",
            type=click.Choice(["odd", "even"]),
            default=None,
            help="Use only these data rows.",
        ),
        click.option(
            "--show-errors",
            type=WholeNumber(min=0),
            default=0,
            metavar="N",
            help="List the first N misjudged rows.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@dataclass(frozen=True)
class _TableSpec:
    file: Path
    text_col: str
    label_col: str
    maps: tuple[str, ...]
    sign_labels: bool
    topic_col: str | None
    topic_maps: tuple[str, ...]
    no_header: bool
    half: str | None

    def read(self, ruleset: Any) -> Any:
        from earful import evaluation as ev
        from rules import topics_of

        try:
            table = ev.read_table(
                self.file,
                text_col=self.text_col,
                label_col=self.label_col,
                labels=ev.label_map(ev.parse_pairs(self.maps, "--map")),
                sign_labels=self.sign_labels,
                topic_col=self.topic_col,
                topics=ev.parse_pairs(self.topic_maps, "--topic-map"),
                known_topics=topics_of(ruleset),
                no_header=self.no_header,
                half=self.half,
            )
        except ev.EvalInputError as exc:
            raise BadConfig(str(exc)) from None
        for unused in table.unused_maps:
            # stderr: --json's output stays JSON
            click.echo(f"note: {unused}: no row of {self.file.name} has it (a typo?)", err=True)
        return table


def _echo_errors(result: Any, show_errors: int) -> None:
    from earful import evaluation as ev

    click.echo("")
    click.echo(f"misjudged (first {show_errors}, {result.name}):")
    lines = ev.error_lines(result)
    for line in lines:
        click.echo(safe(line))
    if not lines:  # a heading over nothing reads as output lost
        click.echo("  none: every row was judged as labeled")


_baseline_option = click.option(
    "--baseline",
    type=click.Choice(["vader"]),
    default=None,
    help="Also score VADER alone (compound, +/-0.05 cut-offs).",
)


@cli.command("eval")
@config_option
@json_option
@_table_options
@_baseline_option
@click.option(
    "--polarity",
    is_flag=True,
    help="Judge by the sign of the verdict's score instead of its disposition.",
)
@click.option(
    "--model",
    "model_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Judge with this model from `earful train` instead of the config's.",
)
@click.option(
    "--no-model", is_flag=True, help="Judge with the rules alone, ignoring [rules] model."
)
@handles_errors
def eval_command(
    config_file: Path | None,
    as_json: bool,
    show_errors: int,
    baseline: str | None,
    polarity: bool,
    model_file: Path | None,
    no_model: bool,
    **table: Any,
) -> None:
    """Score the rules on a labeled CSV or TSV file: precision, recall and F1 per
    class, macro-F1, the confusion matrix, and topic accuracy with --topic-col.

    Verdicts count as complaint (interesting_bad), praise (interesting_good) or
    neither (question, ignore). docs/quality.md has the --json shape.
    """
    from earful import evaluation as ev
    from rules import RuleError, read_model, with_model

    if model_file is not None and no_model:
        raise BadConfig("--model and --no-model: give one or the other")
    # With --model or --no-model the config's model is not read: it may not exist yet.
    ruleset = _classify_stages(config_file, learned=not (no_model or model_file)).ruleset
    if model_file is not None:
        try:
            ruleset = with_model(ruleset, read_model(model_file))
        except RuleError as exc:
            raise BadConfig(f"--model: {exc}") from None
    spec = _TableSpec(**table)
    data = spec.read(ruleset)
    if ruleset.model is not None and _seen_in_training(ruleset.model.trained, spec):
        click.echo(
            f"note: {ruleset.model.source} was trained on these rows of {spec.file.name}: "
            "the figures show what it memorised; `earful train` prints what to expect on "
            "new posts (or train on --half odd and score --half even)",
            err=True,
        )
    results = ev.evaluate(
        data,
        ruleset,
        show_errors=show_errors,
        baseline=baseline,
        progress=lambda rows: _with_bar(rows, "judging", visible=not as_json),
        polarity=polarity,
    )
    if as_json:
        report = ev.report_json(spec.file, data, results)
        model = ruleset.model
        report["model"] = (
            None if model is None else {"path": model.source, "trained": dict(model.trained)}
        )
        click.echo(to_json(report))
        return
    if ruleset.model is not None:
        click.echo(f"with the model {ruleset.model.source}")
    for line in ev.report_lines(data, results):
        click.echo(line)
    if show_errors:
        _echo_errors(results[0], show_errors)


def _seen_in_training(trained: Any, spec: _TableSpec) -> bool:
    """Whether the model was fitted on (some of) the rows being scored."""
    if trained.get("file") != spec.file.name:
        return False
    half = trained.get("half")
    return half is None or spec.half is None or half == spec.half


@cli.command()
@config_option
@json_option
@_table_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the model to this file (JSON); name it in [rules] model.",
)
@click.option(
    "--folds",
    type=WholeNumber(min=0, max=20),
    default=5,
    show_default=True,
    metavar="K",
    help="Estimate the model on posts it has not seen, by k-fold cross-validation; 0 skips.",
)
@_baseline_option
@click.option(
    "--score-half",
    type=click.Choice(["odd", "even"]),
    default=None,
    help="Score the cross-validation on these rows only (all rows still train).",
)
@click.option("--force", is_flag=True, help="Replace an -o file that is not an Earful model.")
@handles_errors
def train(
    config_file: Path | None,
    as_json: bool,
    show_errors: int,
    output: Path,
    folds: int,
    baseline: str | None,
    score_half: str | None,
    force: bool,
    **table: Any,
) -> None:
    """Fit a model on a labeled CSV or TSV file (the columns and mappings of `earful
    eval`): it re-decides complaint, praise or neither, and a complaint's topic, from
    what the rules found and the post's words. It learns your labels' habits; check
    it on rows it has not seen (the cross-validation it prints, or --half odd here and
    `earful eval --half even --model FILE`). docs/quality.md says more.
    """
    from earful import evaluation as ev
    from earful import training as tr

    if folds == 1:
        raise BadConfig("--folds 1: cross-validation needs 2 folds or more (0 skips it)")
    if folds == 0 and (show_errors or baseline or score_half):
        raise BadConfig(
            "--show-errors, --baseline and --score-half go with the cross-validation: not --folds 0"
        )
    spec = _TableSpec(**table)
    if spec.half and score_half and spec.half != score_half:
        raise BadConfig(
            f"--score-half {score_half} scores the rows --half {spec.half} leaves out: "
            "nothing to score"
        )
    config = _load(config_file) if _has_config(config_file) else None
    if config is not None:
        _check_target(config, output)
    # The config's own model is not read: training is how it gets made or remade.
    ruleset = _stages_for(config, learned=False).ruleset
    data = spec.read(ruleset)
    try:
        tr.check_enough(data, spec.file, spec.half)
        tr.check_output(output, spec.file, force=force)
    except ev.EvalInputError as exc:
        raise BadConfig(str(exc)) from None
    items = tr.samples(_with_bar(data.rows, "judging", visible=not as_json), ruleset)
    epochs = tr.fits_needed(items) * (folds + 1)
    bar = (
        click.progressbar(length=epochs, label="fitting", file=sys.stderr)
        if sys.stderr.isatty() and not as_json
        else None
    )
    tick = bar.update if bar is not None else None
    with bar if bar is not None else contextlib.nullcontext():
        estimate = (
            tr.cross_validate(items, ruleset, folds, show_errors, tick, score_half)
            if folds
            else None
        )
        model = tr.fit_model(items, tr.description(spec.file, data, spec.half, ruleset), tick)
    scored = [r for r in data.rows if ev.in_half(r, score_half)]
    baselines = ev.baseline_results(scored, baseline, show_errors) if estimate else []
    try:
        size = tr.save(model, output)
    except ev.EvalInputError as exc:
        raise BadConfig(str(exc)) from None
    if as_json:
        report = {
            "model": str(output),
            "bytes": size,
            "trained": dict(model.trained),
            "features": len(model.classes.table),
            "cross_validation": None
            if estimate is None
            else {"folds": folds, **ev.result_json(estimate)},
            "baseline": {r.name: ev.result_json(r) for r in baselines},
        }
        click.echo(to_json(report))
        return
    shown = f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"
    click.echo(
        f"trained on {len(items)} rows: {len(model.classes.table)} features; "
        f"wrote {output} ({shown})"
    )
    if estimate is not None:
        _echo_estimate(data, [estimate, *baselines], folds, score_half, show_errors)
    click.echo("")
    where = output.resolve()
    click.echo(f'use it: [rules] model = "{where}" in the config, or earful eval --model {output}')


def _echo_estimate(
    data: Any, results: list[Any], folds: int, score_half: str | None, show_errors: int
) -> None:
    from earful import evaluation as ev

    click.echo(
        f"cross-validated ({folds} folds: each row judged by a model that did not see it)"
        + (f"; scored on the {score_half} rows" if score_half else "")
    )
    for line in ev.report_lines(data, results)[1:]:
        click.echo(line)
    if show_errors:
        _echo_errors(results[0], show_errors)
