"""Config errors never show a value read from the environment, report an unset or
malformed ${...} once and plainly, say what list keys take in plain words, and
refuse durations too long to compute with; all with the key path, exit code 2."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypeGuard

import pytest
from click.testing import CliRunner
from pydantic import BaseModel
from test_config import GOOD  # a config that loads

from earful.cli import cli
from earful.config import Config, ConfigError, parse_config
from listener.base import MAX_DURATION_DAYS

SECRET = "TOPSECRETBEARER42"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRETHOOK"
ENV = {"XTOK": SECRET, "RP": "notaport", "EARFUL_SLACK_WEBHOOK": WEBHOOK}


REPLAY = {"name": "replayed", "type": "replay", "path": "mentions.jsonl"}


def problems(raw: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    raw = {"brand": {"name": "Acme"}, **raw}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, Path("earful.toml"), ENV if env is None else env)
    return caught.value.problems


def cli_run(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    path = tmp_path / "earful.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["poll", "-c", str(path)], env=env or {})
    return result.exit_code, result.output


# -- values from the environment are never shown --------------------------------------------

LEAKS = {
    "mastodon base_url": (
        {"sources": [{"name": "m", "type": "mastodon", "base_url": "${XTOK}", "tag": "acme"}]},
        "sources[0].base_url: expected the instance URL",
        "XTOK",
    ),
    "rss urls": (
        {"sources": [{"name": "r", "type": "rss", "urls": ["${XTOK}"]}]},
        "sources[0].urls[0]: expected an http:// or https:// feed URL",
        "XTOK",
    ),
    "rss url with the variable inside it": (
        {"sources": [{"name": "r", "type": "rss", "urls": ["ftp://x/${XTOK}"]}]},
        "sources[0].urls[0]: expected an http:// or https:// feed URL",
        "XTOK",
    ),
    "console port": (
        {"console": {"port": "${RP}"}},
        "console.port: expected a valid integer",
        "RP",
    ),
    "escalation timeout holding the webhook": (
        {"escalation": {"timeout": "${EARFUL_SLACK_WEBHOOK}"}},
        'escalation.timeout: expected a duration like "90s"',
        "EARFUL_SLACK_WEBHOOK",
    ),
    "source interval": (
        {"sources": [{**REPLAY, "interval": "${XTOK}"}]},
        "sources[0].interval: expected a duration",
        "XTOK",
    ),
    "source type": (
        {"sources": [{"name": "s", "type": "${XTOK}"}]},
        "sources[0].type: expected one of",
        "XTOK",
    ),
    "duplicate source name": (
        {"sources": [{**REPLAY, "name": "${XTOK}"}, {**REPLAY, "name": "${XTOK}"}]},
        "sources[1].name: duplicate source name",
        "XTOK",
    ),
    "list instead of a string": (
        {"brand": {"name": "Acme", "keywords": ["acme", 5, "${XTOK}"]}},
        "brand.keywords[1]: expected a valid string",
        None,
    ),
    "list key given a string": (
        {"rules": {"lists": {"white_glove": "${XTOK}"}}},
        "rules.lists.white_glove: expected a list of strings",
        "XTOK",
    ),
    "too long a duration": (
        {"responders": {"cooldown": "${BIG}"}},
        "responders.cooldown: expected a duration of at most",
        "BIG",
    ),
}


@pytest.mark.parametrize(("raw", "expected", "variable"), LEAKS.values(), ids=LEAKS.keys())
def test_values_from_the_environment_are_never_shown(
    raw: dict[str, Any], expected: str, variable: str | None
) -> None:
    found = problems(raw, {**ENV, "BIG": "99999999999d"})
    text = "\n".join(found)
    assert any(p.startswith(expected) for p in found), found
    for value in (*ENV.values(), "99999999999d"):
        assert value not in text
    if variable:
        assert f"(the value of ${variable})" in text


def test_a_short_value_is_hidden_in_its_own_key_and_a_model_check_quoting_it() -> None:
    raw = {
        "sources": [
            {**REPLAY, "interval": "${S}"},
            {"name": "m", "type": "mastodon", "base_url": "https://x.example", "mode": "${M}"},
        ]
    }
    found = problems(raw, {"S": "zz", "M": "search"})
    assert 'sources[0].interval: expected a duration like "90s" or "5m", got (the value of $S)' in (
        found
    )
    assert 'sources[1]: mode "(the value of $M)" needs `query`' in found
    assert not any("'zz'" in p for p in found)


def test_a_literal_value_is_still_shown() -> None:
    (problem,) = problems({"console": {"port": "eighty"}})
    assert problem.endswith("got 'eighty'")


def test_a_secret_looking_key_never_shows_its_literal_value() -> None:
    raw = {"sources": [{"name": "x", "type": "x", "bearer_token": "literal-token-1", "x": 1}]}
    assert "literal-token-1" not in "\n".join(problems(raw))


def test_the_cli_exits_2_without_printing_the_environment_value(tmp_path: Path) -> None:
    text = GOOD.replace('interval = "90s"', 'interval = "${XTOK}"')
    code, output = cli_run(tmp_path, text, env=ENV)
    assert code == 2
    assert "sources[0].interval: expected a duration" in output
    assert "(the value of $XTOK)" in output and SECRET not in output


# -- unset and malformed ${...} ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"brand": {"name": "${UNSET}"}}, "brand.name: environment variable UNSET is not set"),
        (
            {"sources": [{"name": "x", "type": "x", "bearer_token": "${UNSET}"}]},
            "sources[0].bearer_token: environment variable UNSET is not set",
        ),
        (
            {"sources": [{"name": "r", "type": "rss", "urls": ["${UNSET}"]}]},
            "sources[0].urls[0]: environment variable UNSET is not set",
        ),
        (
            {"sources": [{**REPLAY, "path": "${UNSET}/${UNSET}"}]},
            "sources[0].path: environment variable UNSET is not set",
        ),
    ],
)
def test_an_unset_variable_is_reported_once_and_alone(raw: dict[str, Any], expected: str) -> None:
    assert problems(raw, {}) == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${BRAND", "brand.name: unterminated ${ (no closing }): expected ${NAME} or"),
        ("Acme ${1X}", "brand.name: not a valid variable reference: expected ${NAME} or"),
        ("${A:-x${B}}", "brand.name: a ${...} default cannot hold another ${...}"),
    ],
)
def test_a_malformed_reference_is_an_error_naming_the_key(value: str, expected: str) -> None:
    (problem,) = problems({"brand": {"name": value}}, {})
    assert problem.startswith(expected), problem


def test_a_malformed_reference_under_a_secret_key_does_not_quote_it() -> None:
    raw = {"sources": [{"name": "x", "type": "x", "bearer_token": "abcdefgh${X"}]}
    (problem,) = problems(raw, {})
    assert problem.startswith("sources[0].bearer_token: unterminated ${")
    assert "abcdefgh" not in problem and "${X" not in problem


def test_the_cli_exits_2_on_an_unterminated_reference(tmp_path: Path) -> None:
    code, output = cli_run(tmp_path, GOOD.replace('name = "Acme"', 'name = "${BRAND"'))
    assert code == 2 and "brand.name: unterminated ${" in output


# -- list keys in plain words ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"brand": {"name": "Acme", "keywords": "acme"}}, "brand.keywords"),
        ({"rules": {"lists": {"white_glove": "@big"}}}, "rules.lists.white_glove"),
        ({"rules": {"files": "default"}}, "rules.files"),
        ({"sources": [{"name": "r", "type": "rss", "urls": "https://x/rss"}]}, "sources[0].urls"),
        ({"sources": [{"name": "h", "type": "hackernews", "tags": "story"}]}, "sources[0].tags"),
    ],
)
def test_list_keys_say_a_list_of_strings(raw: dict[str, Any], expected: str) -> None:
    (problem,) = problems(raw)
    assert problem.startswith(f"{expected}: expected a list of strings, got "), problem
    assert "tuple" not in problem


def test_a_string_or_list_key_says_both_once() -> None:
    raw = {"sources": [{"name": "b", "type": "bluesky", "query": 5}]}
    assert problems(raw) == ["sources[0].query: expected a string or a list of strings, got 5"]


# -- durations are bounded ------------------------------------------------------------------


SECTION_DURATIONS = [
    ("responders", "cooldown"),
    ("publish", "interval"),
    ("publish", "retry_after"),
    ("escalation", "interval"),
    ("escalation", "timeout"),
    ("escalation", "retry_after"),
    ("escalation", "max_age"),
    ("console", "session_ttl"),
    ("console", "session_lifetime"),
    ("console", "refresh"),
]


@pytest.mark.parametrize(("section", "key"), SECTION_DURATIONS)
def test_every_section_duration_has_an_upper_bound(section: str, key: str) -> None:
    too_long = f"{MAX_DURATION_DAYS + 1}d"
    assert problems({section: {key: too_long}}) == [
        f"{section}.{key}: expected a duration of at most {MAX_DURATION_DAYS} days "
        f'("{MAX_DURATION_DAYS}d"), got {too_long!r}'
    ]
    parse_config(
        {"brand": {"name": "Acme"}, section: {key: f"{MAX_DURATION_DAYS}d"}}, Path("e.toml"), {}
    )


@pytest.mark.parametrize("value", ["99999999999d", 1e300, math.inf, math.nan])
def test_source_durations_have_an_upper_bound(value: Any) -> None:
    table = {"name": "x", "type": "x", "bearer_token": "t" * 20, "backfill": value}
    (problem,) = problems({"sources": [table]})
    assert problem.startswith("sources[0].backfill: expected a duration of at most 3650 days")


def test_a_huge_duration_is_reported_with_other_problems() -> None:
    raw = {
        "responders": {"cooldown": "99999999999d"},
        "console": {"port": "eighty"},
        "sources": [{**REPLAY, "interval": "99999999999d"}],
    }
    found = problems(raw)
    assert len(found) == 3
    assert {p.split(":")[0] for p in found} == {
        "responders.cooldown",
        "console.port",
        "sources[0].interval",
    }


def test_the_cli_exits_2_on_a_huge_cooldown(tmp_path: Path) -> None:
    code, output = cli_run(tmp_path, GOOD + '\n[responders]\ncooldown = "99999999999d"\n')
    assert code == 2
    assert "responders.cooldown: expected a duration of at most 3650 days" in output
    assert "OverflowError" not in output


# -- faults from the config review: each was loaded and failed later, or leaked --------------

X_SEARCH = {"name": "x", "type": "x", "mode": "search", "query": "acme", "bearer_token": "t" * 20}


def loads(raw: dict[str, Any], env: dict[str, str] | None = None) -> Config:
    return parse_config({"brand": {"name": "Acme"}, **raw}, Path("earful.toml"), env or {})


@pytest.mark.parametrize("host", ["", "   ", "${CONSOLE_HOST:-}"])
def test_an_empty_console_host_is_refused_not_every_interface(host: str) -> None:
    # aiohttp takes an empty host for "every interface": a console open to the network
    (problem,) = problems({"console": {"host": host}}, {})
    assert problem.startswith("console.host: expected an address to listen on"), problem


@pytest.mark.parametrize("host", ["localhost:8080", "http://127.0.0.1", "[::1]"])
def test_a_console_host_with_a_port_or_scheme_is_refused(host: str) -> None:
    # passed `earful check`, then `earful run` could not listen: "Name or service not known"
    (problem,) = problems({"console": {"host": host}}, {})
    assert problem == (
        "console.host: expected a host name or address alone, without a scheme or port "
        f'(the port is console.port), like "127.0.0.1", got {host!r}'
    )


@pytest.mark.parametrize("host", ["::1", "0.0.0.0", "earful.internal", " 127.0.0.1 "])
def test_a_console_host_alone_loads(host: str) -> None:
    assert loads({"console": {"host": host}}).console.host == host.strip()


@pytest.mark.parametrize(
    "value", ["$X_BEARER_TOKEN", "%X_BEARER_TOKEN%", "$(X_BEARER_TOKEN)", "Bearer $X_BEARER_TOKEN"]
)
def test_an_unexpanded_variable_reference_is_refused(value: str) -> None:
    (problem,) = problems({"sources": [{**X_SEARCH, "bearer_token": value}]}, {})
    assert problem.startswith("sources[0].bearer_token: the value looks like an environment")
    # a secret's reference is not shown: it may be the secret itself, written with "$"
    assert problem.endswith("write ${NAME}") and "X_BEARER" not in problem


def test_a_dollar_name_set_in_the_environment_is_refused_anywhere() -> None:
    (problem,) = problems({"storage": {"path": "$HOME/earful.db"}}, {"HOME": "/home/ana"})
    assert problem.startswith("storage.path: ") and "write ${HOME}" in problem
    assert "/home/ana" not in problem


def test_dollar_text_that_is_no_variable_still_loads() -> None:
    raw = {
        "brand": {"name": "Acme", "keywords": ["$ACME", "100% acme", "$$ACME", "50$"]},
        "sources": [
            {"name": "r", "type": "rss", "urls": ["https://n.example/rss?q=caf%C3%A9%20x"]}
        ],
    }
    config = parse_config(raw, Path("earful.toml"), {})
    # a cashtag is no variable, and "$$" is two dollars, as it always was
    assert config.brand.keywords == ("$ACME", "100% acme", "$$ACME", "50$")


@pytest.mark.parametrize(
    "password", ["$uperS3cretPass", "$Tr0ng_P4ss", "%Secret%", "MY$SECRET_KEY9", "pa$$word"]
)
def test_a_password_with_dollars_and_percents_loads_as_written(password: str) -> None:
    # a secret may hold any character: only a sure reference is refused, and even
    # then the message never shows the value
    reddit = {"name": "r", "type": "reddit", "client_id": "abc", "client_secret": "s" * 20}
    raw = {"sources": [{**reddit, "username": "acme_help", "password": password}]}
    assert loads(raw).sources[0].password == password  # type: ignore[attr-defined]
    refused = problems({"sources": [{**raw["sources"][0], "password": "$REDDIT_PASSWORD"}]}, {})
    assert refused == [
        "sources[0].password: the value looks like an environment variable written as "
        "$NAME, %NAME% or $(...), which Earful does not read: write ${NAME}"
    ]


@pytest.mark.parametrize(
    ("key", "extra"),
    [
        ("bearer_token", {}),
        ("password", {"client_secret": "s" * 20, "username": "acme_help"}),
        ("app_password", {"identifier": "acme.bsky.social"}),
    ],
)
def test_a_secret_from_the_environment_loses_its_trailing_newline(
    key: str, extra: dict[str, str]
) -> None:
    tables = {
        "bearer_token": X_SEARCH,
        "password": {"name": "r", "type": "reddit", "client_id": "abc"},
        "app_password": {"name": "b", "type": "bluesky"},
    }
    raw = {"sources": [{**tables[key], **extra, key: "${SECRET_FROM_K8S}"}]}
    config = loads(raw, {"SECRET_FROM_K8S": "  tok-123456\n"})
    assert getattr(config.sources[0], key) == "tok-123456"
    assert "tok-123456" in config.secret_values()


def test_a_control_character_inside_a_secret_is_refused_unshown() -> None:
    raw = {"sources": [{**X_SEARCH, "bearer_token": "${XB}"}]}
    (problem,) = problems(raw, {"XB": "tok-123456\r\nX-Injected: 1"})
    assert problem.startswith("sources[0].bearer_token: ") and "control character" in problem
    assert "tok-123456" not in problem and "Injected" not in problem


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("twitter", 'did you mean "x"'),
        ("X", 'did you mean "x"'),
        ("redit", 'did you mean "reddit"'),
    ],
)
def test_a_handle_for_an_unknown_platform_is_refused(platform: str, expected: str) -> None:
    (problem,) = problems({"brand": {"name": "Acme", "handles": {platform: "AcmeHelp"}}})
    assert problem.startswith(f"brand.handles.{platform}: not a platform Earful reads"), problem
    assert expected in problem


def test_handles_are_stored_bare_so_the_brands_own_posts_are_recognised() -> None:
    handles = {
        "x": " @AcmeHelp ",
        "reddit": "/u/acme_help",
        "mastodon": "@acme@mastodon.social",
        "bluesky": "@acme.bsky.social",
    }
    brand = loads({"brand": {"name": "Acme", "handles": handles}}).brand.brand()
    assert dict(brand.handles) == {
        "x": "AcmeHelp",
        "reddit": "acme_help",
        "mastodon": "acme@mastodon.social",
        "bluesky": "acme.bsky.social",
    }
    assert brand.is_own("reddit", "acme_help") and brand.is_own("mastodon", "acme@mastodon.social")
    assert loads({"brand": {"name": "A", "handles": {"reddit": "u/acme"}}}).brand.handles == {
        "reddit": "acme"
    }


@pytest.mark.parametrize("handle", ["https://x.com/AcmeHelp", "x.com/AcmeHelp", "Acme Help"])
def test_a_handle_written_as_a_url_is_refused(handle: str) -> None:
    (problem,) = problems({"brand": {"name": "Acme", "handles": {"x": handle}}})
    assert problem.startswith("brand.handles.x: expected the bare handle"), problem


def test_a_mastodon_handle_without_its_instance_is_refused() -> None:
    (problem,) = problems({"brand": {"name": "Acme", "handles": {"mastodon": "@acme"}}})
    assert problem.startswith(
        # at its own key, as brand.handles.x is ("brand.handles: mastodon: ...")
        'brand.handles.mastodon: expected the handle with its instance, like "acme@mastodon'
    ), problem


NETWORK_TABLES = {
    "x": X_SEARCH,
    "reddit": {"name": "r", "type": "reddit", "client_id": "abc"},
    "bluesky": {"name": "b", "type": "bluesky"},
    "hackernews": {"name": "h", "type": "hackernews"},
}


@pytest.mark.parametrize("kind", NETWORK_TABLES)
@pytest.mark.parametrize("url", ["api.example.com", "ftp://api.example.com", "https://", "http:/x"])
def test_every_base_url_needs_a_scheme_and_a_host(kind: str, url: str) -> None:
    (problem,) = problems({"sources": [{**NETWORK_TABLES[kind], "base_url": url}]})
    assert problem.startswith("sources[0].base_url: expected an http:// or https:// URL"), problem


@pytest.mark.parametrize(
    ("table", "url", "said"),
    [
        (NETWORK_TABLES["hackernews"], "http://127.0.0.1:9/?x=1", "with no ?query or #fragment"),
        (NETWORK_TABLES["x"], "https://api.twitter.com/2/", "without /2 (Earful adds"),
        (NETWORK_TABLES["bluesky"], "https://public.api.bsky.app/xrpc", "without /xrpc"),
        (NETWORK_TABLES["hackernews"], "https://hn.algolia.com/api/v1", "without /api/v1"),
        (
            {"name": "m", "type": "mastodon", "tag": "acme"},
            "https://mastodon.social/api/v1",
            "without /api/v1",
        ),
    ],
)
def test_a_base_url_with_the_apis_own_path_or_a_query_is_refused(
    table: dict[str, Any], url: str, said: str
) -> None:
    # pasted from the API's docs, it was accepted and every poll answered 404
    (problem,) = problems({"sources": [{**table, "base_url": url}]})
    assert problem.startswith("sources[0].base_url: expected ") and said in problem, problem
    assert f"got {url!r}" in problem


@pytest.mark.parametrize("kind", NETWORK_TABLES)
def test_a_good_or_blank_base_url_loads(kind: str) -> None:
    good = loads({"sources": [{**NETWORK_TABLES[kind], "base_url": "http://127.0.0.1:9/"}]})
    assert good.sources[0].base_url == "http://127.0.0.1:9"
    blank = loads({"sources": [{**NETWORK_TABLES[kind], "base_url": "${BASE:-}"}]})
    assert blank.sources[0].base_url is None  # the platform's own


@pytest.mark.parametrize("type_", [["x"], {"a": 1}, 5])
def test_a_source_type_of_the_wrong_kind_is_a_config_error(type_: Any) -> None:
    (problem,) = problems({"sources": [{"name": "s", "type": type_}]})
    assert problem.startswith("sources[0].type: expected one of "), problem


def test_the_cli_exits_2_on_a_list_source_type(tmp_path: Path) -> None:
    code, output = cli_run(tmp_path, GOOD.replace('type = "replay"', 'type = ["x"]'))
    assert code == 2 and "sources[0].type: expected one of" in output
    assert "Traceback" not in output and "TypeError" not in output


def _int_fields() -> list[tuple[str, Any]]:
    from earful import sources as registry
    from earful.config import _Root
    from earful.config_problems import _members

    models: list[type[BaseModel]] = [
        registry.settings_model(name) for name in registry.SOURCE_MODULES
    ]
    sections = [info.annotation for info in _Root.model_fields.values()]
    models += [section for section in sections if _is_model(section)]
    return [
        (f"{model.__name__}.{name}", info)
        for model in models
        for name, info in model.model_fields.items()
        if int in _members(info.annotation)
    ]


def _is_model(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@pytest.mark.parametrize(("name", "info"), _int_fields(), ids=[n for n, _ in _int_fields()])
def test_every_whole_number_key_has_an_upper_bound_sqlite_can_hold(name: str, info: Any) -> None:
    bounds = [m.le for m in info.metadata if getattr(m, "le", None) is not None]
    assert bounds and bounds[0] <= 2**63 - 1, f"{name} has no upper bound"


@pytest.mark.parametrize(
    ("section", "key", "most"),
    [
        ("publish", "batch", 1000),
        ("publish", "max_attempts", 100),
        ("escalation", "max_attempts", 100),
    ],
)
def test_a_huge_count_is_refused(section: str, key: str, most: int) -> None:
    (problem,) = problems({section: {key: 2**70}})
    assert problem.startswith(f"{section}.{key}: expected less than or equal to {most}"), problem


def test_a_huge_replay_batch_is_refused() -> None:
    (problem,) = problems({"sources": [{**REPLAY, "batch": 2**70}]})
    assert problem.startswith("sources[0].batch: expected less than or equal to"), problem


def test_a_short_value_from_the_environment_inside_a_url_is_not_shown() -> None:
    raw = {"sources": [{"name": "r", "type": "rss", "urls": ["news.example/rss?k=${FT}"]}]}
    (problem,) = problems(raw, {"FT": "abc12"})
    assert "abc12" not in problem
    assert problem == (
        "sources[0].urls[0]: expected an http:// or https:// feed URL, "
        "got 'news.example/rss?k=(the value of $FT)'"
    )


@pytest.mark.parametrize("value", ["x", "e", "s", "a duration"])
def test_a_short_value_from_the_environment_never_garbles_the_message(value: str) -> None:
    (problem,) = problems({"responders": {"cooldown": "${N}m"}}, {"N": value})
    assert problem == (
        'responders.cooldown: expected a duration like "90s" or "5m", got \'(the value of $N)m\''
    )


def test_a_whole_short_value_is_named_by_its_variable() -> None:
    (problem,) = problems({"console": {"port": "${P}"}}, {"P": "a"})
    assert problem.startswith("console.port: expected a valid integer")
    assert problem.endswith(", got (the value of $P)")


SECOND = '1 second ("1s")'
MINUTE = '1 minute ("1m")'


@pytest.mark.parametrize(
    ("key", "given", "least"),
    [
        ("console.refresh", "1ms", SECOND),
        ("publish.retry_after", "10ms", SECOND),
        ("console.session_ttl", "1ms", MINUTE),
        ("console.session_lifetime", "30s", MINUTE),
        ("escalation.max_age", "30s", MINUTE),
        ("responders.cooldown", "5s", MINUTE),
        ("escalation.timeout", "1ms", '100 milliseconds ("100ms")'),
        ("publish.interval", "1ms", '10 milliseconds ("10ms")'),
    ],
)
def test_durations_have_a_sensible_minimum(key: str, given: str, least: str) -> None:
    section, name = key.split(".")
    assert problems({section: {name: given}}) == [
        f"{key}: expected at least {least}, got {given!r}"
    ]


def test_a_bare_number_too_short_is_said_to_be_seconds() -> None:
    # "keep_for = 30" meant 30 days; "expected at least 1 day, got 30" did not say why
    (problem,) = problems({"storage": {"keep_for": 30}})
    assert problem.endswith("got 30 (a number without a unit is seconds)"), problem


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"name": "n", "type": "rss", "urls": ["https://n.example/rss"]}, "interval"),
        (X_SEARCH, "min_interval"),
    ],
)
def test_a_platform_is_polled_a_second_apart_at_least(table: dict[str, Any], key: str) -> None:
    # an RSS source with interval = "10ms" fetched its feed 529 times in 6 s
    found = problems({"sources": [{**table, key: "10ms"}]})
    assert found == [f"sources[0].{key}: expected at least {SECOND}, got '10ms'"]


def test_local_loops_may_tick_fast() -> None:
    # a replay source reads a local file; the publisher and alerts read the store
    config = loads(
        {
            "sources": [{**REPLAY, "interval": "10ms"}],
            "publish": {"interval": "50ms"},
            "escalation": {"interval": "50ms", "timeout": "200ms"},
        }
    )
    assert config.sources[0].interval == 0.01 and config.publish.interval == 0.05


@pytest.mark.parametrize("path", ["", "  "])
def test_an_empty_storage_path_is_a_config_error(path: str) -> None:
    (problem,) = problems({"storage": {"path": path}})
    assert problem.startswith("storage.path: expected a file name"), problem


def test_the_cli_exits_2_on_an_empty_storage_path(tmp_path: Path) -> None:
    code, output = cli_run(tmp_path, GOOD + '\n[storage]\npath = ""\n')
    assert code == 2 and "storage.path: expected a file name" in output


@pytest.mark.parametrize("name", ["", "  "])
def test_a_blank_source_name_is_refused(name: str) -> None:
    (problem,) = problems({"sources": [{**REPLAY, "name": name}]})
    assert problem.startswith("sources[0].name: expected a name"), problem


def test_an_unset_variable_in_a_list_hides_no_sibling_problem() -> None:
    raw = {"sources": [{"name": "r", "type": "rss", "urls": ["${UNSET}", "ftp://n.example/rss"]}]}
    assert problems(raw, {}) == [
        "sources[0].urls[0]: environment variable UNSET is not set",
        "sources[0].urls[1]: expected an http:// or https:// feed URL, got 'ftp://n.example/rss'",
    ]
    raw = {"sources": [{**NETWORK_TABLES["reddit"], "subreddits": ["${UNSET}", "r/a b"]}]}
    assert problems(raw, {}) == [
        "sources[0].subreddits[0]: environment variable UNSET is not set",
        "sources[0].subreddits[1]: 'r/a b' is not a subreddit name (letters, digits and _, "
        'like "LumenetUK" or "r/LumenetUK")',
    ]


def test_mistakes_are_said_in_plain_words_not_the_validation_librarys() -> None:
    # "expected a valid integer, unable to parse string as an integer" and "List should
    # have at least 1 item after validation, not 0" reached the operator as written
    found = problems(
        {
            "console": {"port": "eighty"},
            "escalation": {"receiver_dedupes": "maybe"},
            "sources": [{"name": "r", "type": "rss", "urls": []}],
        }
    )
    assert "console.port: expected a valid integer, got 'eighty'" in found
    assert "escalation.receiver_dedupes: expected a valid boolean, got 'maybe'" in found
    assert "sources[0].urls: expected at least 1 item, got 0" in found
    assert not any("unable to" in p or "after validation" in p for p in found), found


def test_an_unset_token_is_one_problem_not_two() -> None:
    # 'access_token: environment variable ... is not set' came with 'mode "mentions"
    # needs `access_token`', as if there were two things to fix
    table = {
        "name": "m",
        "type": "mastodon",
        "base_url": "https://mastodon.social",
        "mode": "mentions",
        "access_token": "${EARFUL_T_UNSET_TOKEN}",
    }
    assert problems({"sources": [table]}, env={}) == [
        "sources[0].access_token: environment variable EARFUL_T_UNSET_TOKEN is not set"
    ]


def test_a_list_name_no_rule_could_name_is_refused() -> None:
    # author_in = "white glove" is itself a rule-file error: the list would do nothing
    assert problems({"rules": {"lists": {"white glove": ["@big"]}}}) == [
        'rules.lists: "white glove": a list name is letters, digits, "_", "-" or ".", '
        'as rules name it (author_in = "white_glove")'
    ]
    assert problems({"rules": {"lists": {"white_glove": ["@big"]}}, "nope": 1})[0].startswith(
        "nope:"
    )


def test_the_built_in_brand_list_is_refused_in_the_config_with_its_key_path() -> None:
    # was "rules: lists.brand: ...", said only once the rules loaded
    assert problems({"rules": {"lists": {"brand": ["@acme"]}}}) == [
        'rules.lists: "brand" is built in (the brand\'s name, keywords and handles) and '
        "cannot be set"
    ]


X_MENTIONS = {"name": "x", "type": "x", "bearer_token": "t" * 20}  # mode "mentions", the default


def test_x_mentions_with_no_account_named_is_a_config_mistake() -> None:
    # `check` said "ready to run"; the first poll disabled the source
    assert problems({"sources": [X_MENTIONS]}) == [
        'sources[0].handle: mode = "mentions" follows the brand account: expected '
        'handle = "YourHandle" here, or handles = { x = "YourHandle" } in [brand]'
    ]


@pytest.mark.parametrize(
    "raw",
    [
        {"sources": [{**X_MENTIONS, "handle": "AcmeHelp"}]},
        {"brand": {"name": "Acme", "handles": {"x": "AcmeHelp"}}, "sources": [X_MENTIONS]},
        {"sources": [X_SEARCH]},
    ],
)
def test_x_mentions_with_its_account_named_loads(raw: dict[str, Any]) -> None:
    assert loads(raw).sources


def test_x_mentions_with_no_account_does_not_stop_a_command_that_does_not_poll() -> None:
    # an agent's `queue approve` needs no source to be pollable
    raw = {"brand": {"name": "Acme"}, "sources": [X_MENTIONS]}
    config = parse_config(raw, Path("earful.toml"), {}, credentials=())
    assert config.named_sources == (("x", "x"),)


# -- true or false where a number is wanted ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # pydantic read these as 1 without a word: the console on port 1, every
        # complaint escalated at urgency 1
        ({"console": {"port": True}}, "console.port: expected a whole number, got true"),
        (
            {"responders": {"escalate_at": True}},
            "responders.escalate_at: expected a whole number, got true",
        ),
        (
            {"escalation": {"min_urgency": False}},
            "escalation.min_urgency: expected a whole number, got false",
        ),
        (
            {"sources": [{**REPLAY, "batch": True}]},
            "sources[0].batch: expected a whole number, got true",
        ),
    ],
)
def test_true_or_false_is_no_number(raw: dict[str, Any], expected: str) -> None:
    assert problems(raw) == [expected]


def test_true_and_false_still_set_the_switches() -> None:
    raw = {"brand": {"name": "Acme"}, "console": {"secure_cookie": True, "enabled": False}}
    config = parse_config(raw, Path("earful.toml"), ENV)
    assert config.console.secure_cookie is True and config.console.enabled is False


def test_a_value_is_quoted_as_toml_writes_it() -> None:
    # "got True" is Python's spelling; the file says true
    assert problems({"responders": {"cooldown": True}}) == [
        'responders.cooldown: expected a duration like "90s" or "5m", got true'
    ]
    assert problems({"publish": {"max_attempts": False}}) == [
        "publish.max_attempts: expected a whole number, got false"
    ]


def test_a_fraction_for_a_whole_number_says_got_once() -> None:
    # "expected a valid integer, got a number with a fractional part, got 80.5"
    assert problems({"responders": {"escalate_at": 80.5}}) == [
        "responders.escalate_at: expected a valid integer, got 80.5"
    ]


def test_an_empty_brand_name_is_said_plainly() -> None:
    # "String should have at least 1 character" was pydantic's sentence
    assert problems({"brand": {"name": ""}}) == ["brand.name: expected a non-empty string, got ''"]
