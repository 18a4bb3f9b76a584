"""Reply templates: Jinja2, sandboxed (templates come from config files a person
edits), plain text (replies are not HTML; the console escapes when it shows them).
A template folder from config overrides the shipped templates by file name."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

log = logging.getLogger("earful.responders")

TEMPLATE_NAMES = ("complaint_reply", "question_reply", "thanks", "callback", "escalation")

PLATFORM_NAMES = {
    "x": "X",
    "reddit": "Reddit",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "hackernews": "Hacker News",
    "rss": "the web",
}

# Every variable a template may use; load-time validation renders each template
# with these so a typo in a variable name fails at start-up, not mid-batch.
SAMPLE_CONTEXT: Mapping[str, Any] = {
    "author": "sample_user",
    "name": "Sample",
    "handle_name": "sample_user",
    "brand": "Brand",
    "topic": "billing",
    "platform": "x",
    "platform_name": "X",
    "url": "https://example.com/post/1",
    "text": "sample post",
    "urgency": 50,
    "segment": None,
    "followers": 1200,
    "labels": (),
    "disposition": "interesting_bad",
}


# Files in a template folder that are templates by their name: one that is none of
# TEMPLATE_NAMES is a misspelling ("complaint-reply.j2") that would be ignored.
_TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2", ".tmpl")


class TemplateError(Exception):
    """A template from config does not load or render; the message names it."""


def _shown(value: Any) -> Any:
    """What a {{ value }} prints: nothing for a missing value (a display name that
    is no person's name), never the word "None" in a reply."""
    return "" if value is None else value


def _environment(loader: jinja2.BaseLoader) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=loader,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )


def _check_folder(directory: Path) -> None:
    """A template-named file that is none of the five and that no template in the
    folder includes is most likely one of the five misspelt: an error when it is
    close to one ("complaint-reply.j2"), a warning otherwise."""
    if directory.is_file():
        raise TemplateError(f"{directory} is a file; expected the folder of your *.j2 templates")
    if not directory.is_dir():
        raise TemplateError(f"template folder {directory} does not exist")
    known = {f"{name}.j2" for name in TEMPLATE_NAMES}
    files = {p.name: p for p in directory.iterdir() if p.suffix in _TEMPLATE_SUFFIXES}
    included: set[str] = set()
    env = _environment(jinja2.FileSystemLoader(directory))
    for path in files.values():
        try:
            source = path.read_text(encoding="utf-8-sig")
            included.update(n for n in meta.find_referenced_templates(env.parse(source)) if n)
        except (OSError, UnicodeDecodeError, jinja2.TemplateSyntaxError):
            continue  # a broken file is reported when it is loaded, if it is one of the five
    missing = sorted(known - set(files))
    for name in sorted(set(files) - known - included):
        close = difflib.get_close_matches(Path(name).stem, [Path(m).stem for m in missing], 1, 0.6)
        if close:
            raise TemplateError(
                f"template folder {directory}: {name} is not a template Earful reads "
                f"(did you mean {close[0]}.j2?); the names are {', '.join(sorted(known))}"
            )
        log.warning("template folder %s: %s is not used (no template includes it)", directory, name)


def _unknown_variables(env: SandboxedEnvironment, name: str) -> list[str]:
    """Variables a template uses that Earful never provides. Rendering with the
    sample catches only those on the branch the sample takes; a typo under
    {% if topic == "outage" %} would fail on the first outage, mid-batch."""
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    used = meta.find_undeclared_variables(env.parse(source))
    return sorted(used - set(SAMPLE_CONTEXT) - set(env.globals))


def _problem(name: str, exc: jinja2.TemplateError) -> TemplateError:
    line = getattr(exc, "lineno", None)
    at = f", line {line}" if isinstance(exc, jinja2.TemplateSyntaxError) and line else ""
    return TemplateError(f"template {name}.j2{at}: {exc}")


def _flattened(template: jinja2.Template) -> jinja2.Template:
    """The template with its globals as one plain dict. Jinja keeps them as a
    ChainMap over the environment's, and every render copies them into a new
    context: iterating the ChainMap made up two thirds of a render (10.5 -> 3.9
    microseconds). Same names, same values; nothing here changes them later."""
    template.globals = dict(template.globals)
    return template


class Templates:
    """The compiled templates, built once at start-up."""

    def __init__(self, directory: Path | None = None) -> None:
        shipped = jinja2.PackageLoader("responders", "templates")
        loaders: list[jinja2.BaseLoader] = [shipped]
        if directory is not None:
            _check_folder(directory)
            # utf-8-sig: a byte order mark would open every reply with an invisible character
            loaders.insert(0, jinja2.FileSystemLoader(directory, encoding="utf-8-sig"))
        env = _environment(jinja2.ChoiceLoader(loaders))
        fallback_env = _environment(shipped)
        self._templates: dict[str, jinja2.Template] = {}
        self._fallbacks: dict[str, jinja2.Template] = {}
        for name in TEMPLATE_NAMES:
            try:
                template = _flattened(env.get_template(f"{name}.j2"))
                unknown = _unknown_variables(env, f"{name}.j2")
                if unknown:
                    raise TemplateError(
                        f"template {name}.j2 uses {', '.join(unknown)}, which Earful does "
                        f"not provide; the variables are {', '.join(sorted(SAMPLE_CONTEXT))}"
                    )
                template.render(SAMPLE_CONTEXT)
            except jinja2.TemplateError as exc:
                raise _problem(name, exc) from exc
            self._templates[name] = template
            self._fallbacks[name] = _flattened(fallback_env.get_template(f"{name}.j2"))

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            return self._templates[name].render(context).strip()
        except Exception as exc:  # a user template failing on odd data must not lose the mention
            log.warning("template %s.j2 failed (%s); used the shipped one", name, exc)
            return self._fallbacks[name].render(context).strip()
