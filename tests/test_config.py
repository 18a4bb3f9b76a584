"""Bad configs stop start-up with the key path and what was expected (exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from earful.cli import cli
from earful.config import ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent

GOOD = """
[brand]
name = "Acme"
keywords = ["acme"]

[[sources]]
name = "replayed"
type = "replay"
path = "mentions.jsonl"
interval = "90s"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "earful.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env=env or {})
    return caught.value.problems


def test_a_good_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    assert config.brand.name == "Acme"
    assert config.sources[0].interval == 90.0
    assert config.publish.mode == "dry-run"
    assert config.console.host == "127.0.0.1"
    assert config.db_path == tmp_path / "earful.db"


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            'interval = "soon"',
            'sources[0].interval: expected a duration like "90s" or "5m", got \'soon\'',
        ),
        (  # float() reads any script's digits: this was 5 minutes
            'interval = "５m"',
            'sources[0].interval: expected a duration like "90s" or "5m", got \'５m\'',
        ),
        ("interval = -5", "sources[0].interval: expected a positive duration"),
        ("batch = 0", "sources[0].batch: expected"),
        ("querry = 'acme'", "sources[0].querry: unknown key"),
        (
            "base_url = 'http://127.0.0.1:9000'",
            "sources[0].base_url: replay sources read a file; base_url is not used",
        ),
    ],
)
def test_source_mistakes_name_the_key(tmp_path: Path, snippet: str, expected: str) -> None:
    text = GOOD.replace('interval = "90s"', snippet) if "interval" in snippet else GOOD + snippet
    assert any(p.startswith(expected) for p in problems(tmp_path, text)), problems(tmp_path, text)


def test_an_rss_source_refuses_a_base_url_it_would_not_use(tmp_path: Path) -> None:
    text = GOOD.replace(
        'type = "replay"\npath = "mentions.jsonl"',
        'type = "rss"\nurls = ["https://example.com/feed"]\nbase_url = "http://127.0.0.1:9"',
    )
    assert problems(tmp_path, text) == [
        "sources[0].base_url: rss sources fetch the full URLs in urls; base_url is not used"
    ]


def test_missing_brand_is_reported(tmp_path: Path) -> None:
    assert problems(tmp_path, "[storage]\npath = 'x.db'\n") == ["brand: missing (required)"]


def test_unknown_section_is_reported(tmp_path: Path) -> None:
    assert 'publsh: unknown key (did you mean "publish"?)' in problems(
        tmp_path, GOOD + "\n[publsh]\nmode = 'live'\n"
    )


def test_a_misspelt_key_gets_the_key_it_was_meant_to_be(tmp_path: Path) -> None:
    text = GOOD.replace('interval = "90s"', 'intervall = "90s"')
    text += "\n[responders]\ncooldwn = '12h'\nzzz = 1\n"
    assert set(problems(tmp_path, text)) >= {
        'sources[0].intervall: unknown key (did you mean "interval"?)',
        'responders.cooldwn: unknown key (did you mean "cooldown"?)',
        "responders.zzz: unknown key",  # nothing close: no guess
    }


def test_wrong_type_says_what_was_expected_and_given(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, GOOD + "\n[console]\nport = 'eighty'\n")
    assert problem.startswith("console.port: expected a valid integer")
    assert "'eighty'" in problem


def test_bad_publish_mode_lists_the_choices(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, GOOD + "\n[publish]\nmode = 'yolo'\n")
    assert problem.startswith("publish.mode: expected 'dry-run' or 'live'")


def test_unknown_source_type_lists_the_available_ones(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, GOOD.replace('type = "replay"', 'type = "myspace"'))
    assert problem.startswith("sources[0].type: expected one of")
    assert "replay" in problem and "'myspace'" in problem


def test_duplicate_source_names_are_refused(tmp_path: Path) -> None:
    text = GOOD + GOOD.split("\n", 5)[-1].replace("[brand]", "")
    assert "sources[1].name: duplicate source name 'replayed'" in problems(tmp_path, text)


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace('interval = "90s"', 'interval = "soon"\nbatch = -1')
    found = problems(tmp_path, text)
    assert len(found) == 2


def test_environment_variables_fill_values(tmp_path: Path) -> None:
    text = GOOD.replace('"mentions.jsonl"', '"${DEMO_FILE}"')
    config = load_config(write(tmp_path, text), env={"DEMO_FILE": "/data/m.jsonl"})
    assert config.sources[0].path == "/data/m.jsonl"  # type: ignore[attr-defined]


def test_unset_environment_variable_names_the_key_and_variable(tmp_path: Path) -> None:
    text = GOOD.replace('"mentions.jsonl"', '"${DEMO_FILE}"')
    assert problems(tmp_path, text) == [
        "sources[0].path: environment variable DEMO_FILE is not set"
    ]


def test_a_variable_set_to_nothing_is_said_to_be_empty_not_unset(tmp_path: Path) -> None:
    # `KEY=` in a systemd EnvironmentFile sets it to nothing: "not set" sent the reader
    # looking for a variable that was there; a secret of only white space is empty too
    text = GOOD.replace('"mentions.jsonl"', '"${DEMO_FILE}"') + (
        '[escalation]\nwebhook_url = "${HOOK}"\n'
    )
    assert problems(tmp_path, text, env={"DEMO_FILE": "", "HOOK": " \n"}) == [
        "sources[0].path: environment variable DEMO_FILE is set but empty",
        "escalation.webhook_url: environment variable HOOK is set but empty",
    ]


def test_environment_default_is_used_when_unset(tmp_path: Path) -> None:
    text = GOOD.replace('"mentions.jsonl"', '"${DEMO_FILE:-fallback.jsonl}"')
    assert load_config(write(tmp_path, text), env={}).sources[0].path == "fallback.jsonl"  # type: ignore[attr-defined]


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, "[brand\nname = 'x'")
    assert problem.startswith("not valid TOML") and "line 1" in problem


def test_missing_file_suggests_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="earful init"):
        load_config(tmp_path / "nope.toml")


def test_cli_exits_2_with_the_key_path(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('interval = "90s"', 'interval = "soon"'))
    result = CliRunner().invoke(cli, ["run", "-c", str(path)])
    assert result.exit_code == 2
    assert "sources[0].interval: expected a duration" in result.output


def test_cli_reads_earful_config_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[brand]\nname = ''\n")
    result = CliRunner().invoke(cli, ["stats"], env={"EARFUL_CONFIG": str(path)})
    assert result.exit_code == 2
    assert "brand.name:" in result.output


def test_bad_rule_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "ours.toml").write_text(
        "[[rules]]\nid = 'x'\n[rules.when]\nfollowers_at_least = 'many'\n"
    )
    path = write(tmp_path, GOOD + '\n[rules]\nfiles = ["default", "ours.toml"]\n')
    result = CliRunner().invoke(cli, ["classify", "-c", str(path), "hello"])
    assert result.exit_code == 2
    assert "rules:" in result.output and "followers_at_least" in result.output


def test_bad_template_folder_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "thanks.j2").write_text("Thanks {{ nmae }}!")
    path = write(tmp_path, GOOD + '\n[responders]\ntemplates = "tpl"\n')
    result = CliRunner().invoke(cli, ["classify", "-c", str(path), "hello"])
    assert result.exit_code == 2
    assert "responders.templates: template thanks.j2" in result.output and "nmae" in result.output


def test_config_example_and_starter_are_valid(tmp_path: Path) -> None:
    from importlib.resources import files

    starter = files("earful").joinpath("starter.toml").read_text(encoding="utf-8")
    load_config(write(tmp_path, starter), env={})
    example = (REPO / "config.example.toml").read_text(encoding="utf-8")
    env = {name: "test-value" for name in _env_names(example)}
    config = load_config(write(tmp_path, example), env=env)
    assert config.brand.name


def test_the_example_documents_each_key_once_per_table() -> None:
    # merges of two branches that each documented a key once left it twice, and a
    # reader cannot tell which comment is current
    import re
    from collections import Counter

    seen: Counter[tuple[str, str]] = Counter()
    table = ""
    for line in (REPO / "config.example.toml").read_text(encoding="utf-8").splitlines():
        header = re.match(r"#?\s*(\[\[?[\w.]+\]\]?)", line)
        if header:
            # each [[sources]] entry is its own table
            table = f"{header.group(1)}#{len(seen)}" if "[[" in line else header.group(1)
            continue
        key = re.match(r"#?\s?([a-z_]+)\s*=\s", line)
        if key:
            seen[(table, key.group(1))] += 1
    assert seen and not [k for k, n in seen.items() if n > 1]


def test_the_starters_commented_sources_load_once_uncommented(tmp_path: Path) -> None:
    # a newcomer's first step is uncommenting one: each must be a working source
    from importlib.resources import files

    starter = files("earful").joinpath("starter.toml").read_text(encoding="utf-8")
    uncommented = [
        line.removeprefix("# ")
        if line.startswith(
            (
                "# [[sources]]",
                "# name",
                "# type",
                "# urls",
                "# interval",
                "# match",
                "# base_url",
                "# mode",
                "# tag",
                "# path",
                "# batch",
            )
        )
        else line
        for line in starter.splitlines()
    ]
    config = load_config(write(tmp_path, "\n".join(uncommented)), env={})
    assert [s.name for s in config.sources] == ["news", "mastodon-tag", "replay"]


def _env_names(text: str) -> set[str]:
    import re

    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def test_a_config_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    # Windows editors save UTF-8 with a BOM; TOML readers choke on it at line 1
    path = tmp_path / "earful.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    assert load_config(path, env={}).brand.name == "Acme"


def test_a_rule_file_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    from earful.pipeline import build_stages

    rules = '[lists]\nvip = ["@ana"]\n'
    (tmp_path / "ours.toml").write_bytes(b"\xef\xbb\xbf" + rules.encode("utf-8"))
    path = write(tmp_path, GOOD + '\n[rules]\nfiles = ["default", "ours.toml"]\n')
    stages = build_stages(load_config(path, env={}))
    assert "ours.toml" in " ".join(stages.ruleset.files)


def test_relative_paths_of_a_symlinked_config_are_beside_the_file_it_points_to(
    tmp_path: Path,
) -> None:
    # as they always were: an install that links /etc/earful.toml to its folder keeps
    # finding its database there after an upgrade, not an empty new one at the link
    (tmp_path / "shared").mkdir()
    (tmp_path / "site").mkdir()
    write(tmp_path / "shared", GOOD)
    link = tmp_path / "site" / "earful.toml"
    link.symlink_to(tmp_path / "shared" / "earful.toml")
    config = load_config(link, env={})
    assert config.db_path == tmp_path / "shared" / "earful.db"
    assert config.resolve("rules.toml") == tmp_path / "shared" / "rules.toml"


def test_the_starter_points_to_documentation_that_comes_with_earful() -> None:
    from importlib.resources import files

    starter = files("earful").joinpath("starter.toml").read_text(encoding="utf-8")
    header = starter.split("\n\n", 1)[0]
    # config.example.toml comes with the package: say how to get it
    assert "earful init --example" in header
    example = files("earful").joinpath("config.example.toml").read_text(encoding="utf-8")
    assert example.startswith("# earful.toml: every key and what it does.")


def test_a_template_saved_with_a_byte_order_mark_renders_without_it(tmp_path: Path) -> None:
    from responders.templating import SAMPLE_CONTEXT, Templates

    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "thanks.j2").write_bytes(b"\xef\xbb\xbfThanks, {{ author }}!")
    assert Templates(tmp_path / "tpl").render("thanks", SAMPLE_CONTEXT).startswith("Thanks")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            '["default", "acme_rules.toml"]',
            "rules.files[1]: {folder}/acme_rules.toml: cannot read: No such file or directory",
        ),
        (
            '["defaults"]',
            'rules.files[0]: "defaults": no shipped rule set of that name (shipped: default) '
            '(did you mean "default"?); a file of your own must end in ".toml"',
        ),
    ],
)
def test_a_rules_file_that_is_not_there_is_named_by_its_key_path(
    tmp_path: Path, files: str, expected: str
) -> None:
    # "rules: /x/acme_rules.toml: cannot read /x/acme_rules.toml": which entry, twice
    path = write(tmp_path, GOOD + f"\n[rules]\nfiles = {files}\n")
    result = CliRunner().invoke(cli, ["check", "-c", str(path)])
    assert result.exit_code == 2
    assert f"{path}: {expected.format(folder=tmp_path)}" in result.output


@pytest.mark.parametrize("command", [["check"], ["stats"], ["poll"]])
def test_a_storage_path_that_is_a_folder_is_a_config_mistake(
    tmp_path: Path, command: list[str]
) -> None:
    # "earful: /x/data: Is a directory", exit code 1, no key path
    (tmp_path / "data").mkdir()
    (tmp_path / "mentions.jsonl").write_text("", encoding="utf-8")
    path = write(tmp_path, GOOD + '\n[storage]\npath = "data"\n')
    result = CliRunner().invoke(cli, [*command, "-c", str(path)])
    assert result.exit_code == 2, result.output
    folder = tmp_path / "data"
    assert (
        f'storage.path: {folder} is a folder; expected the database file, like "{folder}/earful.db"'
    ) in result.output


def test_a_templates_path_that_is_a_file_is_not_said_missing(tmp_path: Path) -> None:
    # "template folder /x/replies.j2 does not exist": it does, as a file
    (tmp_path / "mentions.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "replies.j2").write_text("Sorry {{ author }}", encoding="utf-8")
    path = write(tmp_path, GOOD + '\n[responders]\ntemplates = "replies.j2"\n')
    result = CliRunner().invoke(cli, ["check", "-c", str(path)])
    assert result.exit_code == 2
    assert (
        f"responders.templates: {tmp_path / 'replies.j2'} is a file; expected the folder "
        "of your *.j2 templates"
    ) in result.output
