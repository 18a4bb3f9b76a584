"""The `earful` command as a user meets it: through click's CliRunner for most
commands, and the installed console script in a subprocess for the exit codes.

The store is filled the way a user fills it: `earful poll` on a replay source."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import logging
import os
import pty
import re
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factories import EARFUL, at_version, complaint, mention
from replayfiles import PRAISE, QUESTION, write_config, x_post

from earful import locks
from earful.cli import cli
from earful.config import load_config
from storage.db import database_files, shown_time, stored_version
from storage.schema import SCHEMA_VERSION
from storage.store import MAX_SEARCH, Store

OUTAGE = "app down again? can't log in"
URGENT = "Lumenet internet down AGAIN!!! been on hold 2 hours, cancel my account"
POSTS = [
    x_post(1, OUTAGE, "hannah_writes"),
    x_post(2, PRAISE, "rhi_jones"),
    x_post(3, QUESTION, "mesh_curious"),
    x_post(4, "walked past the lumenet shop today", "passer_by"),
    x_post(5, URGENT, "angry_al"),
]


def earful(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    # env: a value of None unsets the variable ("" would set it to nothing)
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@dataclass
class World:
    """A config whose replay source has been polled once: five posts stored."""

    config: Path

    def run(self, *args: str) -> Result:
        return earful(*args, "-c", str(self.config))

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def reply_to(self, handle: str) -> dict[str, Any]:
        reply: dict[str, Any]
        (reply,) = [
            r for r in self.json("queue", "list", "--status", "all") if r["author_handle"] == handle
        ]
        return reply

    def store(self) -> Store:
        return Store.open(load_config(self.config).db_path)


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(write_config(tmp_path, POSTS))
    result = w.run("poll")
    assert result.exit_code == 0, result.output
    assert "replayed: fetched 5, new 5" in result.output
    return w


# -- init and classify -------------------------------------------------------------------


def test_init_writes_a_starter_config_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "earful.toml"
    result = earful("init", str(path))
    assert result.exit_code == 0 and f"wrote {path}" in result.output
    config = load_config(path, env={})
    assert config.brand.name and config.publish.mode == "dry-run"


def test_init_example_writes_the_full_reference_from_the_package(tmp_path: Path) -> None:
    # an install from a wheel has no source tree: the reference comes with the package
    path = tmp_path / "example.toml"
    result = earful("init", "--example", str(path))
    assert result.exit_code == 0, result.output
    written = path.read_text(encoding="utf-8")
    repo = Path(__file__).resolve().parents[1]
    assert written == (repo / "config.example.toml").read_text(encoding="utf-8")
    assert "[[sources]]" in written and "[escalation]" in written


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    path = tmp_path / "earful.toml"
    path.write_text("# mine\n", encoding="utf-8")
    refused = earful("init", str(path))
    assert refused.exit_code == 2
    assert "exists; use --force" in refused.output
    assert path.read_text(encoding="utf-8") == "# mine\n"
    assert earful("init", str(path), "--force").exit_code == 0
    load_config(path, env={})


def test_init_into_a_new_folder_and_never_over_a_database(tmp_path: Path) -> None:
    made = earful("init", f"{tmp_path / 'fresh'}/")  # a name ending in / is a folder
    assert made.exit_code == 0 and (tmp_path / "fresh" / "earful.toml").is_file()
    db = tmp_path / "earful.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    refused = earful("init", str(db), "--force")
    assert refused.exit_code == 2 and "is not a config file" in refused.output
    assert db.read_bytes().startswith(b"SQLite format 3\0")
    inside_a_file = earful("init", str(tmp_path / "fresh" / "earful.toml" / "x.toml"))
    assert inside_a_file.exit_code == 2
    assert "earful.toml is a file, not a folder" in inside_a_file.output


def test_classify_explain_names_the_cues_that_fired(world: World) -> None:
    result = world.run("classify", "--explain", OUTAGE)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "disposition: interesting_bad" in lines and "topic: outage" in lines
    (outage,) = [line for line in lines if line.strip().startswith("rule:outage")]
    assert 'matched "down again"' in outage
    assert any("can't log in" in line for line in lines)


def test_classify_without_a_config_uses_the_shipped_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./earful.toml here
    result = earful("classify", OUTAGE, env={"EARFUL_CONFIG": ""})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("interesting_bad (outage) urgency ")
    # a config that is named must be there: a typo must not quietly judge by other rules
    missing = earful("classify", OUTAGE, env={"EARFUL_CONFIG": str(tmp_path / "nope.toml")})
    assert missing.exit_code == 2 and "nope.toml: file not found" in missing.output


def test_classify_takes_unquoted_words_or_stdin(world: World) -> None:
    words = world.run("classify", "app", "down", "again?", "can't", "log", "in")
    assert words.output.startswith("interesting_bad (outage)")
    piped = CliRunner().invoke(cli, ["classify", "-", "-c", str(world.config)], input=OUTAGE)
    assert piped.output == words.output
    assert world.run("classify", "hi", "--platform", "myspace").exit_code == 2


def test_classify_judges_a_verified_author_a_reply_and_engagement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.toml").write_text(
        '[[rules]]\nid = "loud_reply"\n[rules.when]\nis_reply = true\nverified = true\n'
        'engagement_at_least = 500\n[rules.then]\nlabels = ["loud_reply"]\n',
        encoding="utf-8",
    )
    (tmp_path / "earful.toml").write_text(
        '[brand]\nname = "Acme"\n[rules]\nfiles = ["default", "mine.toml"]\n', encoding="utf-8"
    )

    def labels(*options: str) -> list[str]:
        result = earful("classify", "--json", *options, "still down", env={"EARFUL_CONFIG": ""})
        assert result.exit_code == 0, result.output
        found: list[str] = json.loads(result.output)["labels"]
        return found

    assert "loud_reply" in labels("--reply", "--verified", "--engagement", "500")
    assert "loud_reply" not in labels("--reply", "--verified", "--engagement", "499")
    assert "loud_reply" not in labels("--verified", "--engagement", "500")
    assert "loud_reply" not in labels("--reply", "--engagement", "500")
    negative = earful("classify", "--followers", "-5", "hi", env={"EARFUL_CONFIG": ""})
    assert negative.exit_code == 2 and "--followers" in negative.output


def test_classify_json_shape(world: World) -> None:
    verdict = world.json("classify", OUTAGE)
    assert set(verdict) == {
        "disposition",
        "compound",
        "score",
        "labels",
        "topic",
        "urgency",
        "interest",
        "segment",
        "actions",
        "reasons",
        "lang",
    }
    assert verdict["disposition"] == "interesting_bad" and verdict["topic"] == "outage"
    assert isinstance(verdict["urgency"], int) and -1 <= verdict["score"] <= 1
    assert all(set(r) == {"rule", "detail", "weight"} for r in verdict["reasons"])
    assert "rule:outage" in [r["rule"] for r in verdict["reasons"]]


# -- the queue ---------------------------------------------------------------------------


def test_queue_list_is_ordered_by_urgency_in_text_and_json(world: World) -> None:
    rows = world.json("queue", "list")
    assert len(rows) >= 3
    urgencies = [r["urgency"] for r in rows]
    assert urgencies == sorted(urgencies, reverse=True)
    assert rows[0]["author_handle"] == "angry_al"
    assert {"id", "kind", "status", "body", "urgency", "platform", "url", "text", "topic"} <= set(
        rows[0]
    )
    assert all(r["status"] == "pending" for r in rows)
    text = world.run("queue", "list").output.splitlines()
    assert text[0].split()[:3] == ["ID", "URG", "KIND"]
    assert [int(line.split()[0]) for line in text[1:]] == [r["id"] for r in rows]


def test_queue_list_takes_the_consoles_filters(world: World) -> None:
    def handles(*args: str) -> list[str]:
        return [r["author_handle"] for r in world.json("queue", "list", *args)]

    assert handles("--disposition", "interesting_good") == ["rhi_jones"]
    assert handles("--search", "hold") == ["angry_al"]
    assert handles("--topic", "support") == ["angry_al"]
    assert handles("--disposition", "interesting_bad", "--search", "log in") == ["hannah_writes"]
    assert handles("--segment", "vip") == []
    bad = world.run("queue", "list", "--search", "x" * (MAX_SEARCH + 1))
    assert bad.exit_code == 2 and "--search" in bad.output and "at most" in bad.output


def test_queue_show_gives_the_post_the_verdict_and_why(world: World) -> None:
    reply = world.reply_to("hannah_writes")
    result = world.run("queue", "show", str(reply["id"]))
    assert result.exit_code == 0
    out = result.output
    assert f"reply {reply['id']} · reply · pending" in out
    assert "x · @hannah_writes, 250 followers" in out
    # the post's time as the history's times read, not raw ISO text
    (posted,) = [line for line in out.splitlines() if line.startswith("x · @hannah_writes")]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", posted.rsplit(" · ", 1)[1])
    assert f"  > {OUTAGE}" in out
    assert "verdict: interesting_bad · topic outage · urgency" in out
    assert "why:" in out and "  - rule:outage: matched" in out
    assert "draft (" in out and "  | " in out
    assert "callback " in out and "Contact @hannah_writes" in out


def test_queue_show_reads_an_edited_post_as_it_is_now_and_as_it_was_judged(
    world: World,
) -> None:
    reply = world.reply_to("hannah_writes")
    edit = mention("all fixed now, thanks", native_id=reply["native_id"], handle="hannah_writes")
    with world.store() as store:
        store.ingest("replayed", [], None, [replace(edit, version_id="9" * 19)])
    out = world.run("queue", "show", str(reply["id"])).output
    assert "  > all fixed now, thanks" in out
    assert "  (edited by its author at 2026-11-20 09:00:00 UTC; judged as it read before:)" in out
    assert f"  > {OUTAGE}" in out


def test_queue_show_json_shape(world: World) -> None:
    detail = world.json("queue", "show", str(world.reply_to("hannah_writes")["id"]))
    assert {"reply", "mention", "verdict", "case", "callbacks", "history"} <= set(detail)
    assert detail["mention"]["text"] == OUTAGE
    assert detail["verdict"]["reasons"][0]["rule"]


def test_approve_reject_and_approve_with_an_edit(world: World) -> None:
    outage, praise = world.reply_to("hannah_writes")["id"], world.reply_to("rhi_jones")["id"]
    question = world.reply_to("mesh_curious")["id"]
    approved = world.run("queue", "approve", str(outage), "--as", "alice")
    assert approved.exit_code == 0 and f"approved reply {outage}" in approved.output
    edited = world.run("queue", "approve", str(praise), "--as", "alice", "--edit", "Thanks, Rhi!")
    assert edited.exit_code == 0 and "(edited)" in edited.output
    # what goes out, word for word; in dry-run mode nothing is posted, and it says so
    assert edited.output.endswith(
        "; the next publisher run marks it sent without posting it (dry run):\n  Thanks, Rhi!\n"
    )
    rejected = world.run("queue", "reject", str(question), "--as", "bob", "--reason", "not ours")
    assert rejected.exit_code == 0 and f"rejected reply {question}" in rejected.output
    with world.store() as store:
        assert (store.reply(outage).status, store.reply(outage).decided_by) == ("approved", "alice")
        thanks = store.reply(praise)
        assert thanks.body == "Thanks, Rhi!" and thanks.drafted_body != thanks.body
        no = store.reply(question)
        assert (no.status, no.reject_reason, no.decided_by) == ("rejected", "not ours", "bob")
    show = world.run("queue", "show", str(praise)).output
    assert "decided by alice" in show and "(edited; the original draft was:)" in show
    assert "alice approve" in show
    # the history says why it was rejected, as the case's history says its notes
    (line,) = [
        x
        for x in world.run("queue", "show", str(question)).output.splitlines()
        if x.startswith("history: ") and "reject" in x
    ]
    assert line.startswith("history: ") and line.endswith(" bob reject: not ours")


def test_a_second_decision_is_told_who_decided_and_exits_1(world: World) -> None:
    reply = str(world.reply_to("hannah_writes")["id"])
    assert world.run("queue", "approve", reply, "--as", "alice").exit_code == 0
    again = world.run("queue", "approve", reply, "--as", "bob")
    assert again.exit_code == 1
    assert f"earful: reply {reply} cannot be approved: it was already approved by alice at" in (
        again.output
    )
    late_reject = world.run("queue", "reject", reply, "--as", "bob")
    assert late_reject.exit_code == 1 and "already approved by alice" in late_reject.output


def test_several_drafts_rejected_at_once_and_the_ones_that_cannot_be_are_named(
    world: World,
) -> None:
    outage, praise = world.reply_to("hannah_writes")["id"], world.reply_to("rhi_jones")["id"]
    question = world.reply_to("mesh_curious")["id"]
    assert world.run("queue", "approve", str(praise), "--as", "alice").exit_code == 0
    result = world.run(
        "queue", "reject", str(outage), str(praise), "999999", str(question), str(outage),
        "--as", "bob", "--reason", "spam wave",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout == f"rejected reply {outage}\nrejected reply {question}\n"
    assert f"reply {praise} cannot be rejected: it was already approved by alice" in result.stderr
    assert "no reply with id 999999" in result.stderr
    assert result.stderr.endswith(f"earful: not rejected: {praise}, 999999\n")
    with world.store() as store:
        for reply_id in (outage, question):
            done = store.reply(reply_id)
            assert (done.status, done.reject_reason, done.decided_by) == (
                "rejected", "spam wave", "bob"
            )  # fmt: skip
        assert store.reply(praise).status == "approved"


def test_several_callback_tasks_done_at_once_and_the_ones_that_cannot_be_are_named(
    world: World,
) -> None:
    # an outage's wave of "app down?" tasks: nobody will call each of them
    first, second = sorted(t["id"] for t in world.json("callbacks", "list"))
    assert world.run("callbacks", "done", str(first), "--as", "alice").exit_code == 0

    result = world.run("callbacks", "done", str(first), "999999", str(second), "--as", "bob")

    assert result.exit_code == 1
    assert result.stdout == f"callback {second} done\n"
    assert f"callback {first} was already done by alice" in result.stderr
    assert "no callback with id 999999" in result.stderr
    assert result.stderr.endswith(f"earful: not done: {first}, 999999\n")
    assert world.json("callbacks", "list") == []
    done = {t["id"]: t["done_by"] for t in world.json("callbacks", "list", "--status", "done")}
    assert done == {first: "alice", second: "bob"}


def test_an_id_given_twice_is_one_id_and_fails_as_a_lone_one(world: World) -> None:
    # `xargs` fed the same id twice: one task, one message, as `callbacks done 7` says it
    first = min(t["id"] for t in world.json("callbacks", "list"))
    assert world.run("callbacks", "done", str(first), "--as", "alice").exit_code == 0
    twice = world.run("callbacks", "done", str(first), str(first), "--as", "bob")
    once = world.run("callbacks", "done", str(first), "--as", "bob")
    assert twice.exit_code == once.exit_code == 1
    assert twice.stderr == once.stderr
    assert f"callback {first} was already done by alice" in twice.stderr


def test_a_rejection_closes_the_callback_task_only_when_asked(world: World) -> None:
    def open_tasks() -> list[str]:
        return sorted(t["author_handle"] for t in world.json("callbacks", "list"))

    assert open_tasks() == ["angry_al", "hannah_writes"]
    kept = world.run("queue", "reject", str(world.reply_to("hannah_writes")["id"]))
    assert kept.output.startswith("rejected reply ") and "task" not in kept.output
    assert open_tasks() == ["angry_al", "hannah_writes"]

    reply = world.reply_to("angry_al")["id"]
    closed = world.run("queue", "reject", str(reply), "--close-task", "--as", "bob")
    assert closed.exit_code == 0, closed.output
    assert f"rejected reply {reply} and closed callback task " in closed.output
    assert open_tasks() == ["hannah_writes"]
    (done,) = [t for t in world.json("callbacks", "list", "--status", "done")]
    assert done["author_handle"] == "angry_al" and done["done_by"] == "bob"

    # a rejection in error is undone, with the task it closed
    undone = world.run("queue", "reopen", str(reply))
    assert undone.exit_code == 0, undone.output
    assert (
        undone.output
        == f"reply {reply} is pending again; callback task {done['id']} is open again\n"
    )
    assert world.reply_to("angry_al")["status"] == "pending"
    assert open_tasks() == ["angry_al", "hannah_writes"]
    twice = world.run("queue", "reopen", str(reply))
    assert twice.exit_code == 1
    assert f"reply {reply} cannot be reopened: it is pending (expected rejected)" in twice.output


def test_approving_text_someone_else_edited_shows_it_and_asks_first(world: World) -> None:
    outage = world.reply_to("hannah_writes")["id"]
    praise = world.reply_to("rhi_jones")["id"]
    with world.store() as store:
        store.edit(outage, "bob", "lol we are down, deal with it")
        store.edit(praise, "alice", "Thanks so much, Rhi!")
    approve = ["queue", "approve", str(outage), "--as", "alice", "-c", str(world.config)]
    declined = CliRunner().invoke(cli, approve, input="n\n")
    assert declined.exit_code == 1
    assert "changed by bob at" in declined.stdout and "| lol we are down" in declined.stdout
    assert "not approved; approve this text with --yes" in declined.stderr
    unattended = CliRunner().invoke(cli, approve, input="")  # a script: nothing to read
    assert unattended.exit_code == 1 and "--yes" in unattended.stderr
    with world.store() as store:
        assert store.reply(outage).status == "pending"
    agreed = CliRunner().invoke(cli, approve, input="y\n")
    assert agreed.exit_code == 0 and f"approved reply {outage}" in agreed.stdout
    # her own edit is no news to her; --yes skips the question
    mine = world.run("queue", "approve", str(praise), "--as", "alice")
    assert mine.exit_code == 0 and "changed by" not in mine.stdout
    with world.store() as store:
        question = world.reply_to("mesh_curious")["id"]
        store.edit(question, "bob", "It does, see our site.")
    scripted = world.run("queue", "approve", str(question), "--as", "alice", "--yes")
    assert scripted.exit_code == 0 and "changed by" not in scripted.stdout


def test_a_text_someone_approved_with_their_edit_is_asked_about_too(world: World) -> None:
    # bob approved his own text; the platform refused it (failed); alice, approving
    # it again, must see bob's text first, as for a saved edit
    outage = world.reply_to("hannah_writes")["id"]
    with world.store() as store:
        store.approve(outage, "bob", body="lol we are down, deal with it")
        store.claim_for_posting(dry_run=False)
        store.mark_failed(outage, "x refused it", retryable=False)
    approve = ["queue", "approve", str(outage), "--as", "alice", "-c", str(world.config)]
    unattended = CliRunner().invoke(cli, approve, input="")
    assert unattended.exit_code == 1 and "changed by bob at" in unattended.stdout
    with world.store() as store:
        assert store.reply(outage).status == "failed"


def test_a_database_another_process_keeps_locked_is_a_clear_error(world: World) -> None:
    reply = world.reply_to("hannah_writes")["id"]
    holder = sqlite3.connect(load_config(world.config).db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than we wait
    try:
        result = world.run("queue", "approve", str(reply), "--as", "alice")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert result.output.startswith("earful: the database is busy (database is locked)")
    assert "try again" in result.output and "Traceback" not in result.output
    assert world.run("queue", "approve", str(reply), "--as", "alice").exit_code == 0


def test_settling_a_reply_that_needs_no_settling_says_what_it_needs(world: World) -> None:
    reply = world.reply_to("hannah_writes")["id"]
    result = world.run("queue", "retry", str(reply), "--as", "alice")
    assert result.exit_code == 1
    assert result.output == (
        f"earful: reply {reply} cannot be retried: it is pending (expected failed or unknown)\n"
    )


def test_retrying_a_failed_reply_in_a_dry_run_says_it_is_not_posted(world: World) -> None:
    # "will be posted on the next run" sent an agent to look for it on the platform;
    # in a dry run the publisher only marks it sent, as approve says
    outage = world.reply_to("hannah_writes")["id"]
    with world.store() as store:
        store.approve(outage, "bob")
        store.claim_for_posting(dry_run=False)
        store.mark_failed(outage, "x refused it", retryable=False)
    result = world.run("queue", "retry", str(outage), "--as", "alice")
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"reply {outage} is approved again; the next publisher run marks it sent "
        "without posting it (dry run)\n"
    )


def test_a_blank_rejection_reason_is_no_reason(world: World) -> None:
    # `--reason "  "` was kept as spaces: `queue show` said "rejected because:   "
    question = world.reply_to("mesh_curious")["id"]
    assert (
        world.run("queue", "reject", str(question), "--as", "bob", "--reason", "  ").exit_code == 0
    )
    with world.store() as store:
        assert store.reply(question).reject_reason is None
    assert "rejected because" not in world.run("queue", "show", str(question)).output


def in_doubt(world: World, handle: str, approver: str = "bob") -> int:
    """The reply to `handle`'s post, approved by `approver` and left `unknown` by a
    publisher run that could not tell whether it went out."""
    reply = world.reply_to(handle)["id"]
    with world.store() as store:
        store.approve(reply, approver)
        store.claim_for_posting(dry_run=False)
        store.mark_unknown(reply, "timed out")
    return int(reply)


def test_approving_a_reply_in_doubt_says_how_to_settle_it(world: World) -> None:
    # "it is already unknown" left the agent with no way forward
    outage = in_doubt(world, "hannah_writes")
    settle = (
        f"check the platform, then `earful queue mark-sent {outage}` if it went out, "
        f"`earful queue retry {outage}` if it did not, or `earful queue reject --not-posted "
        f"{outage}` "
        "if it did not and should not\n"
    )
    result = world.run("queue", "approve", str(outage), "--as", "alice")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"earful: reply {outage} cannot be ")
    assert result.stderr.endswith(f"(approved by bob at {_at(world, outage)}); {settle}")
    with world.store() as store:
        assert store.reply(outage).status == "unknown"


def test_rejecting_a_reply_in_doubt_settles_it_as_not_posted(world: World) -> None:
    # found not posted, and not to be sent: mark-sent and retry were the only ways out
    outage = in_doubt(world, "hannah_writes")
    # not without saying it was looked for: a bulk reject must not settle it unseen
    unsaid = world.run("queue", "reject", str(outage), "--as", "alice")
    assert unsaid.exit_code == 1
    assert f"`earful queue reject --not-posted {outage}`" in unsaid.stderr
    with world.store() as store:
        assert store.reply(outage).status == "unknown"
    result = world.run(
        "queue", "reject", str(outage), "--not-posted", "--as", "alice", "--reason", "outage over"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"rejected reply {outage}: recorded that it was not posted; Earful will not post it\n"
    )
    with world.store() as store:
        settled = store.reply(outage)
        assert (settled.status, settled.reject_reason) == ("rejected", "outage over")
        (last, *_) = store.audit_log(subject=f"reply:{outage}")
    assert (last.actor, last.action) == ("alice", "reject")
    assert json.loads(last.detail or "{}") == {"reason": "outage over", "not_posted": True}
    # nothing waits for a person now, and nothing is posted
    published = world.run("publish")
    assert published.exit_code == 0 and "no approved replies to post" in published.stdout


def test_a_second_retry_names_the_retry_that_came_first_not_the_approval(
    world: World,
) -> None:
    # "cannot be retried: it was already approved by bob at <the first approval>": the
    # approval did not block it, alice's retry did
    outage = in_doubt(world, "hannah_writes")
    assert world.run("queue", "retry", str(outage), "--as", "alice").exit_code == 0
    with world.store() as store:
        (retried, *_) = store.audit_log(subject=f"reply:{outage}")
    again = world.run("queue", "retry", str(outage), "--as", "carol")
    assert again.exit_code == 1
    assert again.stderr == (
        f"earful: reply {outage} cannot be retried: it is already approved "
        f"(retried by alice at {shown_time(retried.at)})\n"
    )


def _at(world: World, reply_id: int) -> str:
    with world.store() as store:
        return shown_time(store.reply(reply_id).decided_at)


def test_callbacks_in_a_narrow_terminal_show_some_of_each_task(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # at 30 columns each task was a lone "…"; the header's TASK stood a column right
    monkeypatch.setenv("COLUMNS", "30")
    header, first, *_ = world.run("callbacks", "list").stdout.splitlines()
    assert header.index("TASK") == first.index("Contact")
    assert len(first[first.index("Contact") :]) == 20


def test_approving_a_draft_in_a_resolved_case_says_the_case_was_resolved(world: World) -> None:
    # a resolve leaves the case's drafts in the queue: the agent approving one was not
    # told the customer had been dealt with
    outage = world.reply_to("hannah_writes")
    assert world.run("case", "resolve", str(outage["case_id"]), "--as", "bob").exit_code == 0
    result = world.run("queue", "approve", str(outage["id"]), "--as", "alice")
    assert result.exit_code == 0, result.output
    with world.store() as store:
        resolved_at = shown_time(store.case(outage["case_id"]).resolved_at)
    assert result.stderr == (
        f"note: its case {outage['case_id']} was resolved at {resolved_at}; "
        "the reply goes out all the same\n"
    )
    other = world.reply_to("mesh_curious")["id"]
    assert world.run("queue", "approve", str(other), "--as", "alice").stderr == ""


def test_two_people_approving_at_once_one_wins_the_other_is_told_who(world: World) -> None:
    reply = str(world.reply_to("hannah_writes")["id"])
    agents = {
        name: subprocess.Popen(
            [str(EARFUL), "queue", "approve", reply, "--as", name, "-c", str(world.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alice", "bob")
    }
    outcomes = {name: (p.communicate(timeout=60), p.returncode) for name, p in agents.items()}
    (winner,) = [name for name, (_, code) in outcomes.items() if code == 0]
    (loser,) = [name for name, (_, code) in outcomes.items() if code != 0]
    (_, err), code = outcomes[loser]
    assert code == 1
    assert f"reply {reply} cannot be approved: it was already approved by {winner} at" in err
    with world.store() as store:
        assert store.reply(int(reply)).decided_by == winner
        assert [e.actor for e in store.audit_log(subject=f"reply:{reply}")] == [winner]


def test_an_edit_over_the_platforms_limit_is_refused(world: World) -> None:
    reply = str(world.reply_to("hannah_writes")["id"])
    result = world.run("queue", "approve", reply, "--edit", "x" * 400)
    assert result.exit_code == 1 and f"reply {reply} not approved" in result.output
    with world.store() as store:
        assert store.reply(int(reply)).status == "pending"


# -- cases ---------------------------------------------------------------------------------


def case_of(world: World, handle: str) -> int:
    case_id: int = world.reply_to(handle)["case_id"]
    return case_id


def test_case_show_gives_its_state_posts_drafts_tasks_and_history(world: World) -> None:
    case_id = case_of(world, "hannah_writes")
    reply = world.reply_to("hannah_writes")["id"]
    for name in ("alice", "bob"):
        assert add_user(world.config, name, "agent").exit_code == 0
    assert world.run("case", "assign", str(case_id), "alice", "--as", "bob").exit_code == 0
    resolve = ("case", "resolve", str(case_id), "--note", "refunded", "--as", "bob")
    assert world.run(*resolve).exit_code == 0
    result = world.run("case", "show", str(case_id))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"case {case_id} · resolved · assigned to alice"
    assert lines[1] == "x · @hannah_writes · interesting_bad · topic outage · urgency 55"
    assert lines[2].startswith("opened ") and " · resolved " in lines[2]
    assert f"@hannah_writes: {OUTAGE}" in result.output
    assert any(line.startswith(f"  reply {reply} · reply · pending: ") for line in lines)
    (task,) = [line for line in lines if line.startswith("  callback ")]
    assert "(done by bob at " in task and "Contact @hannah_writes" in task
    history = lines[lines.index("history:") + 1 :]
    assert [line.split(" UTC ")[1] for line in history] == [
        "bob assign: to alice",
        "bob resolve: refunded",
    ]
    # a draft names its case, which is what `earful case` takes
    shown = world.run("queue", "show", str(reply)).output
    assert f"case {case_id} · resolved · assigned to alice" in shown
    view = world.json("case", "show", str(case_id))
    assert {"case", "mentions", "replies", "callbacks", "history"} <= set(view)
    assert view["case"]["assignee"] == "alice" and view["mentions"][0]["text"] == OUTAGE
    assert view["history"][0]["action"] == "resolve"  # newest first, as the console's API


def test_a_case_is_assigned_taken_back_and_never_given_to_a_viewer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = str(case_of(world, "hannah_writes"))
    for name, role in (("alice", "agent"), ("vera", "viewer")):
        assert add_user(world.config, name, role).exit_code == 0
    monkeypatch.setenv("EARFUL_USER", "alice")  # who assigns, for the commands below
    assigned = world.run("case", "assign", case_id, "alice")
    assert assigned.exit_code == 0 and assigned.output == f"case {case_id} assigned to alice\n"
    again = world.run("case", "assign", case_id, "alice")
    assert again.output == f"case {case_id} is assigned to alice already: nothing changed\n"
    with world.store() as store:
        store.assign_case(int(case_id), "bob", "alice")  # nor through the store itself
        history = store.audit_log(subject=f"case:{case_id}")
        assert [e.action for e in history].count("assign") == 1
    pooled = world.run("case", "assign", case_id, "--nobody")
    assert pooled.output == f"case {case_id} is back in the pool: nobody has it (it was alice's)\n"
    # a viewer or a typo is a usage mistake, exit 2 as for --as (it was 1, a runtime
    # failure, as for a case someone else changed first)
    viewer = world.run("case", "assign", case_id, "vera")
    assert viewer.exit_code == 2
    assert viewer.stderr.endswith(
        "Error: Invalid value for USER: 'vera' is a viewer: cases go to an enabled agent or admin\n"
    )
    nobody_there = world.run("case", "assign", case_id, "zed")
    assert nobody_there.exit_code == 2
    assert "'zed' is no console account (earful user list)" in nobody_there.stderr
    assert world.run("case", "assign", case_id).exit_code == 2  # to whom?
    assert world.run("case", "assign", case_id, "alice", "--nobody").exit_code == 2
    assert world.run("case", "assign", case_id, "a b").exit_code == 2
    pooled_again = world.run("case", "assign", case_id, "--nobody")
    assert pooled_again.output == f"case {case_id} is in the pool already: nothing changed\n"
    with world.store() as store:
        assert store.case(int(case_id)).assignee is None


def test_a_lead_lists_the_drafts_and_tasks_each_person_has_and_those_nobody_took(
    world: World,
) -> None:
    # the listings had no filter by who has the case and never said who had it; the
    # tasks' "assignee" was null whoever had their case
    for name in ("alice", "bob"):
        assert add_user(world.config, name, "agent").exit_code == 0
    case_id = str(case_of(world, "hannah_writes"))
    assert world.run("case", "assign", case_id, "alice", "--as", "bob").exit_code == 0
    assert world.run("user", "disable", "alice").exit_code == 0  # home sick

    def handles(*args: str) -> list[str]:
        return sorted(r["author_handle"] for r in world.json(*args))

    assert handles("queue", "list", "--assignee", "alice") == ["hannah_writes"]
    assert "hannah_writes" not in handles("queue", "list", "--unassigned")
    assert handles("queue", "list", "--assignee", "bob") == []
    for listing in ("queue", "callbacks"):  # a typo is not "no drafts", "no open callbacks"
        typo = world.run(listing, "list", "--assignee", "alcie")
        assert typo.exit_code == 2 and "'alcie' is no console account" in typo.output
        both = world.run(listing, "list", "--assignee", "alice", "--unassigned")
        assert both.exit_code == 2 and "not both" in both.output  # the later one won
    assert handles("callbacks", "list", "--assignee", "alice") == ["hannah_writes"]
    assert handles("callbacks", "list", "--unassigned") == ["angry_al"]
    tasks = {t["author_handle"]: t["assignee"] for t in world.json("callbacks", "list")}
    assert tasks == {"hannah_writes": "alice", "angry_al": None}
    header, *rows = world.run("callbacks", "list").output.splitlines()
    assert header.split()[3:6] == ["TAKEN", "BY", "TASK"]
    assert {row.split()[3] for row in rows} == {"alice", "-"}
    listed = world.run("queue", "list", "--assignee", "alice").output
    queue_header, *queue_rows = listed.splitlines()
    assert "TAKEN BY" in queue_header and queue_rows[0].split()[6] == "alice"
    with world.store() as store:  # a name given before there were accounts
        store.conn.execute("UPDATE cases SET assignee = 'ghost' WHERE assignee IS NULL")
    assert "angry_al" in handles("callbacks", "list", "--assignee", "ghost")


def test_a_sick_agents_open_cases_are_handed_on_in_one_command(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # disabling an agent left their cases "taken by" someone who could not work them,
    # and nothing said so; moving them on took one `case assign` per case
    for name, role in (("alice", "agent"), ("bob", "agent"), ("vera", "viewer")):
        assert add_user(world.config, name, role).exit_code == 0
    monkeypatch.setenv("EARFUL_USER", "bob")
    cases = sorted(case_of(world, h) for h in ("hannah_writes", "angry_al"))
    for case_id in cases:
        assert world.run("case", "assign", str(case_id), "alice").exit_code == 0
    disabled = world.run("user", "disable", "alice")
    assert disabled.exit_code == 0
    ids = ", ".join(str(c) for c in cases[::-1])  # most urgent first: angry_al's
    assert disabled.output.splitlines()[1] == (
        f"alice still has 2 open cases ({ids}): hand them on with "
        "`earful case handover alice NAME` (or --nobody, back to the pool)"
    )
    assert world.run("case", "handover", "alice", "vera").exit_code == 2  # a viewer
    to_whom = world.run("case", "handover", "alice")  # named as its usage names it
    assert to_whom.exit_code == 2 and "Give TO, or --nobody" in to_whom.output
    handed = world.run("case", "handover", "alice", "bob")
    assert handed.exit_code == 0
    assert handed.output == f"handed 2 of alice's open cases to bob: {ids}\n"
    with world.store() as store:
        assert [store.case(c).assignee for c in cases] == ["bob", "bob"]
        assert [e.actor for e in store.audit_log(subject=f"case:{cases[0]}")][:1] == ["bob"]
    again = world.run("case", "handover", "alice", "bob")
    assert again.output == "alice has no open cases: nothing changed\n"
    typo = world.run("case", "handover", "alcie", "bob")  # not "nothing changed"
    assert typo.exit_code == 2 and "'alcie' is no console account" in typo.output
    pooled = world.run("case", "handover", "bob", "--nobody")
    assert pooled.output == f"handed 2 of bob's open cases back to the pool: {ids}\n"
    demoted = world.run("user", "role", "bob", "viewer")
    assert demoted.output == "bob is now viewer; their sessions have ended\n"  # nothing left


def test_the_team_report_says_what_each_person_holds_and_has_decided(
    world: World,
) -> None:
    # a lead had no figure per person: neither who holds what, nor who decided what
    for name, role in (("alice", "agent"), ("bob", "agent"), ("vera", "viewer")):
        assert add_user(world.config, name, role).exit_code == 0
    outage = world.reply_to("hannah_writes")
    urgent = world.reply_to("angry_al")
    assert (
        world.run("case", "assign", str(urgent["case_id"]), "alice", "--as", "bob").exit_code == 0
    )
    edit = ("queue", "approve", str(outage["id"]), "--edit", "So sorry - DM us?", "--yes")
    assert world.run(*edit, "--as", "alice").exit_code == 0
    praise = world.reply_to("rhi_jones")["id"]
    assert world.run("queue", "reject", str(praise), "--as", "bob").exit_code == 0
    team = {m["name"]: m for m in world.json("team")}
    assert set(team) == {"alice", "bob"}  # a viewer who did nothing is left out
    alice, bob = team["alice"], team["bob"]
    assert (alice["open_cases"], alice["pending_drafts"], alice["open_callbacks"]) == (1, 1, 1)
    assert (alice["approved"], alice["edited"], alice["rejected"]) == (1, 1, 0)
    assert (bob["open_cases"], bob["approved"], bob["rejected"]) == (0, 0, 1)
    assert alice["median_decision_seconds"] is not None and alice["median_decision_seconds"] >= 0
    assert world.run("user", "disable", "alice").exit_code == 0
    lines = world.run("team").output.splitlines()
    assert lines[1].split()[:5] == ["NAME", "CASES", "DRAFTS", "TASKS", "APPROVED"]
    (row,) = [line for line in lines if line.startswith("alice ")]
    assert row.split()[1:8] == ["1", "1", "1", "1", "1", "0", "0"]
    assert row.endswith("(disabled)")  # her case is to be handed on


def test_the_team_report_counts_a_case_resolved_as_its_last_resolve_stands(
    world: World,
) -> None:
    # a resolve undone counted for its maker, and a case resolved again counted twice,
    # as a rejection undone does not
    for name in ("alice", "bob"):
        assert add_user(world.config, name, "agent").exit_code == 0
    twice, undone = (str(case_of(world, h)) for h in ("hannah_writes", "angry_al"))
    for action, case_id, who in (
        ("resolve", twice, "alice"),
        ("reopen", twice, "bob"),
        ("resolve", twice, "bob"),
        ("resolve", undone, "alice"),
        ("reopen", undone, "alice"),
    ):
        assert world.run("case", action, case_id, "--as", who).exit_code == 0
    team = {m["name"]: m["resolved"] for m in world.json("team")}
    assert team == {"alice": 0, "bob": 1}


def test_the_team_report_does_not_count_tasks_a_rejection_closed_as_called(
    world: World,
) -> None:
    # `queue reject --close-task` (a false alarm: nobody should call) counted each
    # task it closed as one its rejecter had called
    assert add_user(world.config, "bob", "agent").exit_code == 0
    false_alarm = str(world.reply_to("hannah_writes")["id"])
    assert world.run("queue", "reject", false_alarm, "--close-task", "--as", "bob").exit_code == 0
    (called,) = [t["id"] for t in world.json("callbacks", "list")]
    assert world.run("callbacks", "done", str(called), "--as", "bob").exit_code == 0
    (bob,) = world.json("team")
    assert (bob["rejected"], bob["callbacks_done"]) == (1, 1)


def test_once_there_are_accounts_only_an_enabled_agent_or_admin_decides(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a viewer, a disabled account or a typo approved, and was audited, under a name
    # that cannot decide
    reply = str(world.reply_to("hannah_writes")["id"])
    case_id = str(case_of(world, "hannah_writes"))
    assert world.run("queue", "approve", reply, "--as", "anyone").exit_code == 0  # no accounts
    assert world.run("queue", "reopen", reply, "--as", "anyone").exit_code == 1  # approved
    for name, role in (("ana", "agent"), ("vera", "viewer"), ("dis", "agent")):
        assert add_user(world.config, name, role).exit_code == 0
    assert world.run("user", "disable", "dis").exit_code == 0
    other = str(world.reply_to("mesh_curious")["id"])
    for who, said in (
        ("vera", "'vera' is a viewer"),
        ("dis", "'dis' is disabled"),
        ("anna", "'anna' is no console account (earful user list)"),
    ):
        for command in (("queue", "approve", other), ("case", "escalate", case_id)):
            refused = world.run(*command, "--as", who)
            assert refused.exit_code == 2, (who, command, refused.output)
            assert said in refused.output and "--as" in refused.output
    with world.store() as store:
        assert store.reply(int(other)).status == "pending"
        assert store.case(int(case_id)).status != "escalated"
    monkeypatch.setenv("EARFUL_USER", "vera")
    from_env = world.run("queue", "approve", other)
    assert from_env.exit_code == 2 and "$EARFUL_USER" in from_env.output
    monkeypatch.delenv("EARFUL_USER")
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(var, "sysop")
    as_login = world.run("queue", "approve", other)
    assert as_login.exit_code == 2
    assert "your login name 'sysop' is no console account" in as_login.output
    assert "pass --as NAME or set EARFUL_USER" in as_login.output
    assert world.run("queue", "approve", other, "--as", "ana").exit_code == 0


def test_case_show_names_a_post_without_a_handle_as_of_an_unknown_author(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, [])
    feed_entry = mention("Lumenet to raise prices in January", handle=None)
    with Store.open(load_config(config).db_path) as store:
        store.ingest("feed", [complaint(feed_entry, callback=False)], {})
        (case,) = store.db.execute("SELECT id FROM cases").fetchall()
    shown = earful("case", "show", str(case[0]), "-c", str(config)).output
    assert " · (unknown author) · " in shown
    assert " (unknown author): Lumenet to raise prices in January" in shown
    assert " @:" not in shown


def test_case_show_says_when_its_history_is_cut(world: World) -> None:
    case_id = case_of(world, "hannah_writes")
    assert add_user(world.config, "ana", "agent").exit_code == 0
    with world.store() as store:
        for n in range(26):
            store.assign_case(case_id, "ana", None if n % 2 else "ana")  # each a change
    shown = world.run("case", "show", str(case_id)).output
    assert shown.count(" ana assign") == 26
    assert "(the latest 50 changes; the console's Audit page has them all)" not in shown
    with world.store() as store:
        for n in range(30):
            store.assign_case(case_id, "ana", None if n % 2 else "ana")
    shown = world.run("case", "show", str(case_id)).output
    assert "(the latest 50 changes; the console's Audit page has them all)" in shown


def test_a_posted_id_with_spaces_or_control_characters_is_refused(world: World) -> None:
    reply = str(world.reply_to("hannah_writes")["id"])
    assert world.run("queue", "approve", reply).exit_code == 0
    for bad in ("12\x1b[2J", "my id with spaces"):
        refused = world.run("queue", "mark-sent", reply, "--posted-id", bad)
        assert refused.exit_code == 2 and "printable text without spaces" in refused.output
    with world.store() as store:
        assert store.reply(int(reply)).status == "approved"
    assert world.run("queue", "mark-sent", reply, "--posted-id", " 1234 ").exit_code == 0
    with world.store() as store:
        assert store.reply(int(reply)).posted_id == "1234"


def test_escalating_a_case_queues_one_alert_saying_who_and_why(world: World) -> None:
    case_id = case_of(world, "hannah_writes")

    def alerts() -> list[dict[str, Any]]:
        return [a for a in world.json("alerts", "list") if a["author_handle"] == "hannah_writes"]

    assert alerts() == []
    result = world.run("case", "escalate", str(case_id), "--as", "alice", "--note", " VIP ")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"case {case_id} escalated; the alert stays in the store")
    (alert,) = alerts()
    assert alert["body"].startswith(f"Escalated by alice (55/100): case {case_id}, @hannah_writes")
    assert alert["body"].endswith("\nWhy: VIP") and alert["reason"] == "escalated by alice"
    again = world.run("case", "escalate", str(case_id), "--as", "bob")
    assert again.exit_code == 1
    assert again.stderr.startswith(
        f"earful: case {case_id} cannot be escalated: it is escalated "
        "(last change: escalate by alice at "
    )
    assert len(alerts()) == 1
    with world.store() as store:
        assert store.case(case_id).status == "escalated"
    # the urgent complaint's case was escalated when it came in
    urgent = world.run("case", "escalate", str(case_of(world, "angry_al")))
    assert urgent.exit_code == 1 and "it is escalated" in urgent.stderr


@pytest.mark.parametrize(
    ("escalation", "said"),
    [
        ("", "the alert stays in the store: no [escalation] webhook_url is set, so nobody is told"),
        (
            '[escalation]\nwebhook_url = "${EARFUL_T_UNSET_HOOK}"\n',
            "senior staff are alerted if the daemon has [escalation] webhook_url "
            "(it is empty in this shell)",
        ),
        ('[escalation]\nwebhook_url = "http://127.0.0.1:9/hook"\n', "senior staff are alerted"),
    ],
)
def test_escalating_says_whether_anyone_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, escalation: str, said: str
) -> None:
    # "senior staff are alerted" with no webhook had an agent wait for a call that
    # would never come: the alert only waited in the store
    monkeypatch.delenv("EARFUL_T_UNSET_HOOK", raising=False)
    w = World(write_config(tmp_path, POSTS, extra=escalation))
    assert w.run("poll").exit_code == 0
    case_id = case_of(w, "hannah_writes")
    result = w.run("case", "escalate", str(case_id))
    assert result.exit_code == 0, result.output
    assert result.output == f"case {case_id} escalated; {said} (earful alerts list shows it)\n"


def test_resolving_closes_the_cases_tasks_and_reopening_opens_them_again(world: World) -> None:
    case_id = case_of(world, "hannah_writes")

    def open_tasks() -> list[str]:
        return sorted(t["author_handle"] for t in world.json("callbacks", "list"))

    (task,) = [t["id"] for t in world.json("callbacks", "list") if t["case_id"] == case_id]
    resolved = world.run("case", "resolve", str(case_id), "--as", "alice", "--note", "sorted")
    assert resolved.exit_code == 0, resolved.output
    assert resolved.output == (
        f"case {case_id} resolved; closed 1 open callback task with it ({task}); "
        f"earful case reopen {case_id} undoes it\n"
    )
    assert open_tasks() == ["angry_al"]
    twice = world.run("case", "resolve", str(case_id), "--as", "bob")
    assert twice.exit_code == 1
    assert f"case {case_id} cannot be resolved: it is resolved (last change: resolve by alice" in (
        twice.stderr
    )
    reopened = world.run("case", "reopen", str(case_id))
    assert reopened.exit_code == 0, reopened.output
    assert reopened.output == f"case {case_id} is open again; callback task {task} is open again\n"
    assert open_tasks() == ["angry_al", "hannah_writes"]
    again = world.run("case", "reopen", str(case_id))
    assert again.exit_code == 1 and f"case {case_id} cannot be reopened: it is open" in again.stderr
    # a case with no open task says so by saying nothing of tasks
    quiet = world.run("case", "resolve", str(case_of(world, "mesh_curious")))
    assert quiet.exit_code == 0 and "callback" not in quiet.output


def test_a_case_is_not_reopened_beside_a_newer_one(world: World) -> None:
    case_id = case_of(world, "hannah_writes")
    assert world.run("case", "resolve", str(case_id)).exit_code == 0
    # hannah complains again in the same conversation: a new case opens
    again = x_post(6, "still down, lumenet. no call back either", "hannah_writes")
    again["post"]["data"]["conversation_id"] = POSTS[0]["post"]["data"]["id"]
    with (world.config.parent / "mentions.jsonl").open("a", encoding="utf-8") as replayed:
        replayed.write(json.dumps(again) + "\n")
    assert world.run("poll").exit_code == 0
    refused = world.run("case", "reopen", str(case_id))
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"earful: case {case_id} cannot be reopened: a newer case is open for the same "
        "author and conversation; work that one\n"
    )
    with world.store() as store:
        assert store.case(case_id).status == "resolved"


@pytest.mark.parametrize(
    "step",
    [("show",), ("assign", "--nobody"), ("escalate",), ("resolve",), ("reopen",)],
    ids=lambda step: step[0],
)
def test_an_unknown_case_exits_1(world: World, step: tuple[str, ...]) -> None:
    result = world.run("case", step[0], "999999", *step[1:])
    assert result.exit_code == 1
    assert result.stderr == "earful: no case with id 999999\n"


# -- publish, stats, export, search --------------------------------------------------------


def test_publish_in_dry_run_marks_approved_replies_sent(world: World) -> None:
    reply = world.reply_to("hannah_writes")["id"]
    world.run("queue", "approve", str(reply), "--as", "alice")
    result = world.run("publish")
    assert result.exit_code == 0
    assert "publish (dry-run): 1 marked sent without posting (dry run)" in result.output
    with world.store() as store:
        sent = store.reply(reply)
        assert (sent.status, sent.dry_run, sent.posted_id) == ("sent", 1, None)
    # nothing left to post
    assert world.json("publish") == {
        "outcomes": {},
        "waiting": 0,
        "next_at": None,
        "unsettled": {"failed": 0, "unknown": 0},
    }
    assert "publish (dry-run): no approved replies to post" in world.run("publish").output
    # alice approved it; the publisher, not she, sent it
    again = world.run("queue", "approve", str(reply), "--as", "bob")
    assert again.exit_code == 1
    assert f"reply {reply} cannot be approved: it is already sent (approved by alice at" in (
        again.stderr
    )


def test_publish_names_the_approved_replies_still_waiting_for_their_retry(world: World) -> None:
    # "no approved replies to post" while one waited for its retry after a 429
    reply = world.reply_to("hannah_writes")["id"]
    world.run("queue", "approve", str(reply), "--as", "alice")
    later = datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC)
    with world.store() as store:
        (claim,) = store.claim_for_posting(dry_run=True)
        store.release_claims([claim.id], until=later, note="rate-limited")
    result = world.run("publish")
    assert result.exit_code == 0, result.output
    assert (
        "publish (dry-run): nothing due; 1 approved reply waiting to be tried again "
        "(the first at 2099-01-02 03:04:05 UTC)" in result.output
    )
    shown = world.json("publish")
    assert (shown["outcomes"], shown["waiting"]) == ({}, 1)
    assert shown["next_at"].startswith("2099-01-02T03:04:05")


def test_a_database_deleted_while_in_use_is_not_silently_started_over(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # The daemon (here: a store still open) keeps writing to its log; the file is
    # deleted under it. A restart must not make a new, empty database beside the log.
    db = load_config(world.config).db_path
    holder = Store.open(db)
    holder.ingest("x", [], {"offset": 99})  # a write the log holds
    db.unlink()
    try:
        again = world.run("poll")
        assert again.exit_code == 1
        assert (
            f"the database {db}" in again.stderr
            and "is gone but its write-ahead log" in again.stderr
        )
        assert not db.exists()
    finally:
        holder.close()
    for leftover in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        leftover.unlink(missing_ok=True)
    with caplog.at_level(logging.INFO, logger="earful.pipeline"):
        fresh = world.run("poll")  # the log moved away: starting over is a choice made
    assert fresh.exit_code == 0
    assert f"made a new, empty database at {db}" in caplog.text


@pytest.mark.parametrize("command", ["poll", "publish"])
def test_a_missing_storage_folder_is_not_made(tmp_path: Path, command: str) -> None:
    path = write_config(tmp_path, POSTS, extra='[storage]\npath = "typo/earful.db"\n')
    result = earful(command, "-c", str(path))
    assert result.exit_code == 2
    assert f"storage.path: there is no folder {tmp_path / 'typo'}" in result.stderr
    assert not (tmp_path / "typo").exists()


def test_polling_one_source_needs_only_its_own_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hn = '[[sources]]\nname = "hn"\ntype = "hackernews"\nbase_url = "${EARFUL_TEST_HN_URL}"\n'
    path = write_config(tmp_path, POSTS, extra=hn)
    monkeypatch.delenv("EARFUL_TEST_HN_URL", raising=False)
    assert earful("poll", "-c", str(path)).exit_code == 2  # every source: hn's var too
    assert earful("poll", "--source", "replayed", "-c", str(path)).exit_code == 0
    refused = earful("poll", "--source", "hn", "-c", str(path))
    assert refused.exit_code == 2
    assert "sources[1].base_url: environment variable EARFUL_TEST_HN_URL is not set" in (
        refused.stderr
    )


def test_poll_polls_every_source_named_by_a_repeated_source_option(tmp_path: Path) -> None:
    # `--source a --source b` polled b alone, and said nothing of a
    again = 'name = "again"\ntype = "replay"\npath = "mentions.jsonl"\n'
    path = write_config(tmp_path, POSTS, extra="[[sources]]\n" + again)
    polled = earful("poll", "--source", "again", "--source", "replayed", "-c", str(path), "--json")
    assert polled.exit_code == 0, polled.output
    assert [s["source"] for s in json.loads(polled.stdout)] == ["replayed", "again"]
    refused = earful("poll", "--source", "replayed", "--source", "nope", "-c", str(path))
    assert refused.exit_code == 2 and "no source named 'nope'" in refused.stderr


def test_poll_of_an_x_mentions_source_with_no_account_is_a_config_mistake(
    tmp_path: Path,
) -> None:
    # `poll --source xm` reads the other sources leniently; it used to poll xm and fail
    # at run time ("poll failed: xm: ... needs the brand account"), exit 1
    xm = '[[sources]]\nname = "xm"\ntype = "x"\nbearer_token = "${X_BEARER_TOKEN}"\n'
    path = write_config(tmp_path, POSTS, extra=xm)
    env = {"X_BEARER_TOKEN": "abcdefgh-token"}
    refused = earful("poll", "--source", "xm", "-c", str(path), env=env)
    assert refused.exit_code == 2, refused.output
    assert 'sources[1].handle: mode = "mentions" follows the brand account' in refused.stderr
    # the other source is still polled alone, and check names the mistake too
    assert earful("poll", "--source", "replayed", "-c", str(path), env=env).exit_code == 0
    assert earful("check", "-c", str(path), env=env).exit_code == 2


def queued(folder: Path, extra: str = "") -> tuple[Path, list[dict[str, Any]]]:
    """A config replaying POSTS (and `extra`) in `folder`, polled once: its path and
    the queue it left."""
    path = write_config(folder, POSTS, extra=extra)
    assert earful("poll", "--source", "replayed", "-c", str(path)).exit_code == 0
    return path, json.loads(earful("queue", "list", "-c", str(path), "--json").stdout)


def test_approving_a_thank_you_posted_as_a_like_says_the_text_is_not_posted(
    tmp_path: Path,
) -> None:
    x = (
        '[[sources]]\nname = "brand-x"\ntype = "x"\nhandle = "LumenetHelp"\n'
        'bearer_token = "b"\nconsumer_key = "k"\nconsumer_secret = "k"\n'
        'access_token = "1234-t"\naccess_token_secret = "s"\nthanks_as = "like"\n'
    )
    path, listed = queued(tmp_path, x)
    thanks = next(r["id"] for r in listed if r["kind"] == "thanks")
    reply = next(r["id"] for r in listed if r["kind"] == "reply")
    liked = earful("queue", "approve", str(thanks), "-c", str(path), "--as", "alice")
    assert liked.exit_code == 0
    assert 'a thank-you on x is a like of the post (thanks_as = "like"' in liked.stderr
    answered = earful("queue", "approve", str(reply), "-c", str(path), "--as", "alice")
    assert answered.exit_code == 0 and "like" not in answered.stderr


def test_publish_settles_a_reply_a_killed_run_left_in_sending(world: World) -> None:
    reply = world.reply_to("hannah_writes")["id"]
    world.run("queue", "approve", str(reply), "--as", "alice")
    with world.store() as store:
        store.claim_for_posting(dry_run=True)  # ... and that `earful publish` was killed
    result = world.run("publish")
    assert result.exit_code == 0, result.output
    with world.store() as store:
        assert store.reply(reply).status == "sent"


def test_publish_leaves_posting_to_a_running_daemon(world: World) -> None:
    reply = world.reply_to("hannah_writes")["id"]
    world.run("queue", "approve", str(reply), "--as", "alice")
    db = load_config(world.config).db_path
    with locks.held(locks.daemon_lock(db), "the test's daemon"):
        result = world.run("publish")
    assert result.exit_code == 1
    assert "a daemon is running on" in result.stderr and "posts approved replies itself" in (
        result.stderr
    )
    with world.store() as store:
        assert store.reply(reply).status == "approved"


def test_a_daemon_is_seen_through_a_symlink_to_its_database(world: World) -> None:
    # A second config naming the same file through a symlink is the same database:
    # the one-daemon rule must hold for it too.
    reply = world.reply_to("hannah_writes")["id"]
    world.run("queue", "approve", str(reply), "--as", "alice")
    db = load_config(world.config).db_path
    alias = db.parent / "alias" / "other.db"
    alias.parent.mkdir()
    alias.symlink_to(db)
    other = write_config(alias.parent, POSTS, extra=f'[storage]\npath = "{alias}"\n')
    with locks.held(locks.daemon_lock(db), "the test's daemon"):
        result = earful("publish", "-c", str(other))
    assert result.exit_code == 1 and "a daemon is running on" in result.stderr
    with world.store() as store:
        assert store.reply(reply).status == "approved"


def test_publish_exits_1_when_a_reply_fails(world: World) -> None:
    # live mode with no X account set up: the approved reply cannot be posted
    config = Path(world.config)
    config.write_text(
        config.read_text(encoding="utf-8") + '[publish]\nmode = "live"\n', encoding="utf-8"
    )
    world.run("queue", "approve", str(world.reply_to("hannah_writes")["id"]), "--as", "alice")
    result = world.run("publish")
    assert result.exit_code == 1, result.output
    assert "1 reply failed or in doubt" in result.stderr
    assert "1 failed" in result.stdout


def test_publish_exits_1_while_a_reply_an_earlier_run_left_in_doubt_waits(world: World) -> None:
    # a cron job heard of the reply in doubt once, from the run that left it; the next
    # runs exited 0 with "no approved replies to post"
    reply = world.reply_to("hannah_writes")["id"]
    world.run("queue", "approve", str(reply), "--as", "alice")
    with world.store() as store:
        (claim,) = store.claim_for_posting(dry_run=False)
        store.mark_unknown(claim.id, "the platform did not answer")
    result = world.run("publish")
    assert result.exit_code == 1, result.output
    assert "publish (dry-run): no approved replies to post" in result.stdout
    assert (
        "1 reply failed or in doubt from an earlier run, waits for a person "
        "(earful queue list --status failed, or --status unknown)" in result.stderr
    )
    shown = world.run("publish", "--json")
    assert shown.exit_code == 1
    assert json.loads(shown.stdout)["unsettled"] == {"failed": 0, "unknown": 1}
    # settled by a person: nothing waits, exit 0
    assert world.run("queue", "mark-sent", str(reply), "--as", "alice").exit_code == 0
    assert world.run("publish").exit_code == 0


def test_stats_text_and_json(world: World) -> None:
    world.run("queue", "approve", str(world.reply_to("hannah_writes")["id"]))
    world.run("publish")
    stats = world.json("stats")
    assert stats["mentions"] == 5
    assert stats["by_disposition"] == {
        "interesting_bad": 2,
        "interesting_good": 1,
        "question": 1,
        "ignore": 1,
    }
    assert stats["net_sentiment"] == -20.0  # 20% praise - 40% complaints
    assert stats["by_platform"] == {"x": 5}
    assert stats["replied_cases"] == 1 and stats["median_first_reply_seconds"] > 0
    assert stats["replies_by_status"]["sent"] == 1
    text = world.run("stats").output
    assert "mentions: 5 (0 the brand's own posts, 0 spam)\nnet sentiment: -20.0" in text
    # the words the console's stats page uses, in its order; --json keeps its keys
    assert (
        "\nby disposition: complaint 2, praise 1, question 1, other (chatter, spam, own posts) 1\n"
        in text
    )
    assert "interesting_" not in text
    assert "median time to first reply to a complaint: " in text and "(over 1 case)" in text
    assert "median time to first reply to a complaint: n/a" not in text


def test_prune_deletes_old_settled_posts_and_a_dry_run_only_counts(world: World) -> None:
    dry = world.run("prune", "--older-than", "1d", "--dry-run")
    assert dry.exit_code == 0, dry.output
    # the passer-by's post is noise; the other four wait for a person
    assert dry.output.startswith("would delete 1 post from before ")
    assert "would keep 4 older posts: their cases still have work" in dry.output
    assert world.json("stats")["mentions"] == 5

    done = world.json("prune", "--older-than", "1d")
    assert done["dry_run"] is False and done["cutoff"].endswith("Z")
    assert (done["mentions"], done["kept"], done["cases"], done["replies"]) == (1, 4, 0, 0)
    assert world.json("stats")["mentions"] == 4
    again = world.run("prune", "--older-than", "1d")
    assert again.output.startswith("deleted 0 posts from before ")


def test_prune_takes_its_age_from_the_config_or_asks_for_one(tmp_path: Path) -> None:
    for folder in ("bare", "kept", "short"):
        (tmp_path / folder).mkdir()
    bare = World(write_config(tmp_path / "bare", POSTS))
    asked = bare.run("prune")
    assert asked.exit_code == 2
    assert "say how old: --older-than 400d, or set keep_for in [storage]" in asked.output
    too_short = bare.run("prune", "--older-than", "5h")
    assert too_short.exit_code == 2 and "expected at least 1 day" in too_short.output

    kept = World(write_config(tmp_path / "kept", POSTS, extra='[storage]\nkeep_for = "1d"\n'))
    assert kept.run("poll").exit_code == 0
    assert kept.json("prune", "--dry-run")["mentions"] == 1  # the noise, as above

    short = World(write_config(tmp_path / "short", POSTS, extra='[storage]\nkeep_for = "2h"\n'))
    refused = short.run("prune")
    assert refused.exit_code == 2
    assert "storage.keep_for" in refused.output and "at least 1 day" in refused.output


def test_stats_over_a_window_of_days_are_the_consoles_figures(world: World) -> None:
    # the five posts are from 2026-11-18: in a 366-day window, not in today's
    window = world.json("stats", "--days", "366")
    assert window["mentions"] == 5 and window["net_sentiment"] == -20.0
    assert window["days"] == 366 and len(window["daily"]["days"]) == 366
    # the keys stats --json has mean the same over a window: counts, not daily lists
    everything = world.json("stats")
    for key in ("by_disposition", "by_topic", "by_platform", "net_sentiment", "replied_cases"):
        assert window[key] == everything[key], key
    assert sum(window["daily"]["by_disposition"]["interesting_bad"]) == 2
    text = world.run("stats", "--days", "366").output
    assert text.startswith("366 UTC days, ")
    assert (
        "by disposition: complaint 2, praise 1, question 1, other (chatter, spam, own posts) 1"
        in text
    )
    today = world.json("stats", "--days", "1")
    assert (today["mentions"], today["net_sentiment"]) == (0, None)
    one_day = world.run("stats", "--days", "1", "--until", "2026-11-18").output
    assert one_day.startswith("1 UTC day, 2026-11-18\n")
    assert "net sentiment: n/a" in world.run("stats", "--days", "1").output
    assert world.run("stats", "--days", "367").exit_code == 2
    # a window that ended before today: a week's report, run on any day after it
    that_day = world.json("stats", "--days", "1", "--until", "2026-11-18")
    assert (that_day["mentions"], that_day["first_day"], that_day["last_day"]) == (
        5,
        "2026-11-18",
        "2026-11-18",
    )
    assert world.json("stats", "--days", "7", "--until", "2026-11-17")["mentions"] == 0
    alone = world.run("stats", "--until", "2026-11-18")
    assert alone.exit_code == 2 and "give its length with --days N" in alone.output


def test_stats_of_a_single_post_say_post_not_posts(tmp_path: Path) -> None:
    one = World(write_config(tmp_path, POSTS[:1]))
    assert one.run("poll").exit_code == 0
    for args in ((), ("--days", "1", "--until", "2026-11-18")):
        text = one.run("stats", *args).output
        assert "(% praise - % complaints of the 1 post by others, spam left out)" in text, args
        assert "over 0 cases" in text and "mentions: 1 (" in text


def test_export_praise_as_csv_has_permalinks(world: World) -> None:
    result = world.run("export", "praise", "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
    (row,) = rows
    assert row["permalink"] == "https://x.com/rhi_jones/status/2125000000000000002"
    assert row["text"] == PRAISE and row["author_handle"] == "rhi_jones"
    assert len(row["score"].partition(".")[2]) <= 4  # 0.9808, not 0.9807999999999999


def test_export_json_to_a_file(world: World, tmp_path: Path) -> None:
    out = tmp_path / "mentions.json"
    result = world.run("export", "mentions", "--format", "json", "-o", str(out))
    assert result.exit_code == 0 and f"wrote 5 mentions to {out}" in result.output
    records = json.loads(out.read_text(encoding="utf-8"))
    assert [r["text"] for r in records] == [p["post"]["data"]["text"] for p in POSTS]
    assert {"id", "platform", "url", "author_handle", "disposition", "topic"} <= set(records[0])
    replies = json.loads(world.run("export", "replies", "--format", "json").stdout)
    assert {r["status"] for r in replies} == {"pending"}


def test_exports_take_a_first_day_and_praise_only_the_starred(world: World) -> None:
    # the five posts are from 2026-11-18
    def ids(*args: str) -> list[int]:
        result = world.run("export", *args, "--format", "json")
        assert result.exit_code == 0, result.output
        return [row["id"] for row in json.loads(result.stdout)]

    assert len(ids("mentions", "--since", "2026-11-18")) == 5
    assert ids("mentions", "--since", "2026-11-19") == []
    assert ids("praise", "--starred") == []
    with world.store() as store:
        (praised,) = ids("praise")
        store.star_praise(praised, "marketing")
    assert ids("praise", "--starred") == [praised]
    # a report's days: the posts are from 2026-11-18
    assert len(ids("mentions", "--since", "2026-11-18", "--until", "2026-11-18")) == 5
    assert ids("mentions", "--until", "2026-11-17") == []
    assert ids("praise", "--until", "2026-11-18") == [praised]
    backwards = world.run("export", "mentions", "--since", "2026-11-19", "--until", "2026-11-18")
    assert backwards.exit_code == 2
    assert "--until 2026-11-18 is before --since 2026-11-19" in backwards.output
    wrong = world.run("export", "mentions", "--starred")
    assert wrong.exit_code == 2 and "--starred is for praise" in wrong.output
    assert world.run("export", "mentions", "--since", "18/11/2026").exit_code == 2
    # the calendar's ends: an OverflowError traceback, not a usage error
    for option, far in (("--until", "9999-12-31"), ("--since", "0001-01-01")):
        beyond = world.run("export", "mentions", option, far)
        assert beyond.exit_code == 2 and "expected a day from 1970-01-01" in beyond.output
    assert world.run("stats", "--days", "7", "--until", "0001-01-01").exit_code == 2


def exported(world: World, *args: str) -> list[dict[str, Any]]:
    result = world.run("export", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    records: list[dict[str, Any]] = json.loads(result.stdout)
    return records


def test_exports_carry_what_rebuilds_the_reports(world: World) -> None:
    mentions = exported(world, "mentions")
    praised = next(m for m in mentions if m["disposition"] == "interesting_good")
    assert isinstance(praised["labels"], list) and "praise" in praised["labels"]
    assert {m["own_post"] for m in mentions} == {False} and {m["spam"] for m in mentions} == {False}
    (row,) = [r for r in csv.DictReader(io.StringIO(world.run("export", "mentions").stdout))
              if r["id"] == str(praised["id"])]  # fmt: skip
    assert json.loads(row["labels"]) == praised["labels"] and row["own_post"] == "0"
    # a reply names its post and case, and the post's time, to join the mentions export
    reply = world.reply_to("hannah_writes")
    (found,) = [r for r in exported(world, "replies") if r["id"] == reply["id"]]
    post = next(m for m in mentions if m["id"] == found["mention_id"])
    assert post["author_handle"] == "hannah_writes" and found["case_id"] == post["case_id"]
    assert found["posted_at"] == post["created_at"] != found["created_at"]


def test_replies_since_a_day_are_those_drafted_or_sent_from_it(world: World) -> None:
    # the posts are from 2026-11-18, their drafts from today: a week's replies
    replies = exported(world, "replies")
    day = min(datetime.fromisoformat(r["created_at"]).date() for r in replies)
    assert len(exported(world, "replies", "--since", day.isoformat())) == len(replies) > 0
    later = max(datetime.fromisoformat(r["created_at"]) for r in replies) + timedelta(days=1)
    assert exported(world, "replies", "--since", later.date().isoformat()) == []
    assert exported(world, "mentions", "--since", day.isoformat()) == []


def test_flags_are_true_and_false_in_json_and_1_and_0_in_csv(world: World) -> None:
    # jq counts 0 as true: `select(.starred)` must not pick every row
    (praise,) = json.loads(world.run("export", "praise", "--format", "json").stdout)
    assert praise["starred"] is False
    with Store.open(load_config(world.config).db_path) as store:
        store.star_praise(praise["id"], "alice")
    (praise,) = json.loads(world.run("export", "praise", "--format", "json").stdout)
    assert praise["starred"] is True
    (row,) = csv.DictReader(io.StringIO(world.run("export", "praise").stdout))
    assert row["starred"] == "1"
    assert '"dry_run": null' in world.run("queue", "list", "--json").stdout


def test_csv_cells_a_spreadsheet_would_run_are_exported_as_text(tmp_path: Path) -> None:
    formulas = ['=HYPERLINK("http://evil.example","refund here")', "+cmd|' /C calc'!A0"]
    posts = [x_post(i + 1, f, f"user{i}") for i, f in enumerate(formulas)]
    path = write_config(tmp_path, posts)
    assert earful("poll", "-c", str(path)).exit_code == 0
    result = earful("export", "mentions", "--format", "csv", "-c", str(path))
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
    assert sorted(r["text"] for r in rows) == sorted("'" + f for f in formulas)
    as_json = earful("export", "mentions", "--format", "json", "-c", str(path)).stdout
    assert sorted(r["text"] for r in json.loads(as_json)) == sorted(formulas)  # exact


def test_an_export_to_a_terminal_cannot_drive_it(tmp_path: Path) -> None:
    hostile = "refund now \x1b[2J\x1b]0;owned\x07 \u202eevil"
    path = write_config(tmp_path, [x_post(1, hostile, "mallory")])
    assert earful("poll", "-c", str(path)).exit_code == 0
    main, terminal = pty.openpty()  # the export's stdout is a terminal, as for a person
    try:
        done = subprocess.run(
            [str(EARFUL), "export", "mentions", "-c", str(path)],
            stdout=terminal,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
        os.close(terminal)
        shown = b""
        while chunk := _read_or_empty(main):
            shown += chunk
    finally:
        os.close(main)
    assert done.returncode == 0, done.stderr
    assert b"\x1b" not in shown and "\u202e".encode() not in shown
    assert b"\\u001b[2J" in shown and b"\\u202eevil" in shown
    piped = earful("export", "mentions", "--format", "json", "-c", str(path)).stdout
    assert json.loads(piped)[0]["text"] == hostile  # not a terminal: the exact text


def _read_or_empty(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # Linux reports the end of a closed terminal as EIO
        return b""


def test_export_into_a_missing_folder_is_a_clear_error(world: World, tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "folder.csv"
    result = world.run("export", "praise", "-o", str(out))
    assert result.exit_code == 2
    assert f"Error: {out}: there is no folder {out.parent}" in result.output


def test_a_list_cut_short_says_so(world: World) -> None:
    result = world.run("queue", "list", "--limit", "1")
    assert result.exit_code == 0
    assert "(the first 1 shown; there are more: --limit N)" in result.stderr
    assert len(result.stdout.splitlines()) == 2  # the header and one draft
    assert "there are more" not in world.run("queue", "list").stderr
    cut = world.run("queue", "list", "--limit", "1", "--json")
    assert len(json.loads(cut.stdout)) == 1 and "there are more" in cut.stderr
    assert world.run("queue", "list", "--limit", "0").exit_code == 2
    assert "there are more" in world.run("callbacks", "list", "--limit", "1").stderr


def test_who_decides_when_the_user_has_no_login_name(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a container's user id with no account and no $USER: getpass has no name to give
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME", "EARFUL_USER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("os.getuid", lambda: 54_321)
    reply = world.reply_to("hannah_writes")
    result = world.run("queue", "approve", str(reply["id"]))
    assert result.exit_code == 2 and "pass --as NAME or set EARFUL_USER" in result.output
    assert world.run("queue", "approve", str(reply["id"]), "--as", "ana").exit_code == 0


def test_search_says_when_nothing_matches(world: World) -> None:
    result = world.run("search", "zeppelin")
    assert result.exit_code == 0 and result.output == "no stored mentions match 'zeppelin'\n"
    assert world.run("search", "  ").exit_code == 2


def test_search_finds_stored_posts(world: World) -> None:
    result = world.run("search", "log in")
    assert result.exit_code == 0 and "@hannah_writes" in result.output
    # the draft's id is there, the one `queue show` takes (not the mention's own)
    header, line = world.run("search", "hold").output.splitlines()[:2]
    assert header.split()[:2] == ["MENTION", "DRAFT"]
    draft = world.reply_to("angry_al")
    assert line.split()[:2] == [str(draft["mention_id"]), str(draft["id"])]
    assert draft["mention_id"] != draft["id"]
    assert "@angry_al" in world.run("queue", "show", str(draft["id"])).output
    (found,) = world.json("search", "hold")
    assert found["author_handle"] == "angry_al"
    assert world.json("search", 'unbalanced "quote') == []


# -- exit codes ------------------------------------------------------------------------------


def test_version_names_the_database_schema_it_upgrades_to() -> None:
    # beside `earful check`'s "schema version N, upgraded to M at the next start"
    result = earful("--version")
    assert result.exit_code == 0
    assert result.output.endswith(f" (database schema version {SCHEMA_VERSION})\n")


def test_exit_code_1_for_a_runtime_error(world: World) -> None:
    result = world.run("queue", "show", "999")
    assert result.exit_code == 1
    assert result.output == "earful: no reply with id 999\n"


def test_a_database_from_a_newer_earful_is_a_clear_error(world: World) -> None:
    db = load_config(world.config).db_path
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    result = world.run("stats")
    assert result.exit_code == 1
    assert result.output.startswith(f"earful: cannot use the database {db} (storage.path in ")
    assert "schema version 99, newer than this Earful understands" in result.output
    # after a downgrade, the way back the docs give (docs/operating.md, Upgrading)
    assert "`earful restore` the backup taken before the upgrade" in result.output


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, POSTS)
    (tmp_path / "earful.db").write_bytes(b"my shopping list\n" * 100)
    for command in (["queue", "list"], ["poll"], ["run"]):
        result = earful(*command, "-c", str(path))
        assert result.exit_code == 1, command
        assert f"earful: cannot use the database {tmp_path / 'earful.db'}" in result.output
        assert "file is not a database" in result.output and "Traceback" not in result.output


def test_another_programs_database_is_refused_not_filled_with_earfuls_tables(
    tmp_path: Path,
) -> None:
    # storage.path mistyped to the shop's invoices.db: `earful stats` printed an empty
    # report and wrote Earful's fifteen tables into it
    path = write_config(tmp_path, POSTS, extra='[storage]\npath = "invoices.db"\n')
    conn = sqlite3.connect(tmp_path / "invoices.db")
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.commit()
    conn.close()
    for command in (["stats"], ["poll"]):
        result = earful(*command, "-c", str(path))
        assert result.exit_code == 1, command
        assert "it is not an Earful database (it holds other tables: invoices)" in result.output
    conn = sqlite3.connect(tmp_path / "invoices.db")
    tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    assert tables == ["invoices"]


def test_a_secret_a_command_does_not_need_is_listed_as_such_beside_a_real_mistake(
    tmp_path: Path,
) -> None:
    # fixing one typo, a newcomer was also told to set a webhook `stats` never uses
    extra = '\n[publish]\ninterval = "soon"\n[escalation]\nwebhook_url = "${EARFUL_T_HOOK}"\n'
    path = write_config(tmp_path, POSTS, extra=extra)
    result = earful("stats", "-c", str(path))
    assert result.exit_code == 2
    assert "publish.interval: expected a duration" in result.output
    assert (
        "escalation.webhook_url: environment variable EARFUL_T_HOOK is not set "
        "(needed by run and alerts send only)" in result.output
    )


def test_the_config_may_come_before_the_command(world: World, tmp_path: Path) -> None:
    # `earful -c FILE stats` is what most tools take: "No such option: -c" before
    before = earful("-c", str(world.config), "stats", "--json")
    assert before.exit_code == 0, before.output
    assert json.loads(before.stdout) == json.loads(world.run("stats", "--json").stdout)
    nested = earful("-c", str(world.config), "queue", "list", "--json")
    assert nested.exit_code == 0 and json.loads(nested.stdout)
    # after the command wins
    wrong = earful("-c", str(tmp_path / "nope.toml"), "stats", "-c", str(world.config))
    assert wrong.exit_code == 0, wrong.output


def test_approving_a_reply_no_source_can_post_says_so(tmp_path: Path) -> None:
    # live mode, posts replayed from X, no X source with posting keys: "it will be
    # posted" was a promise the publisher could only break
    path, listed = queued(tmp_path, '\n[publish]\nmode = "live"\n')
    result = earful("queue", "approve", str(listed[0]["id"]), "-c", str(path))
    assert result.exit_code == 0
    assert "note: no x source has posting credentials" in result.stderr
    assert "it cannot be posted as things are (see the note below)" in result.stdout
    assert "will be posted" not in result.stdout
    # in dry-run mode nothing is posted anyway: no note
    (tmp_path / "dry").mkdir()
    dry, listed = queued(tmp_path / "dry")
    quiet = earful("queue", "approve", str(listed[0]["id"]), "-c", str(dry))
    assert quiet.exit_code == 0 and "note:" not in quiet.stderr


def test_approving_in_a_shell_without_the_posting_tokens_does_not_say_it_cannot_be_posted(
    tmp_path: Path,
) -> None:
    # an agent's shell has no platform tokens; the daemon has them: "reply by hand and
    # mark it sent" there would have the customer answered twice
    x_source = (
        '\n[publish]\nmode = "live"\n\n[[sources]]\nname = "brand_x"\ntype = "x"\n'
        'bearer_token = "${EARFUL_T_BEARER}"\nconsumer_key = "${EARFUL_T_CK}"\n'
        'consumer_secret = "${EARFUL_T_CS}"\naccess_token = "${EARFUL_T_AT}"\n'
        'access_token_secret = "${EARFUL_T_ATS}"\n'
    )
    path, listed = queued(tmp_path, x_source)
    result = earful("queue", "approve", str(listed[0]["id"]), "-c", str(path))
    assert result.exit_code == 0, result.output
    assert "note:" not in result.stderr and "cannot be posted" not in result.stdout
    assert "if the daemon has the x source's credentials" in result.stdout


def test_a_command_that_reads_never_makes_a_database(tmp_path: Path) -> None:
    # A typo in storage.path must not show an empty queue from a new, empty database.
    path = write_config(tmp_path, POSTS, extra='[storage]\npath = "typo/earfl.db"\n')
    for command in (["queue", "list"], ["stats"], ["search", "down"], ["callbacks", "list"]):
        result = earful(*command, "-c", str(path))
        assert result.exit_code == 2, command
        assert "storage.path: there is no database at" in result.output, command
        assert "typo" in result.output and "earful poll" in result.output
    assert not (tmp_path / "typo").exists()


def add_user(path: Path, name: str, role: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["user", "add", name, "--role", role, "--password-stdin", "-c", str(path)],
        input="correct horse battery\n",
    )


def test_the_first_account_may_come_before_the_first_run(tmp_path: Path) -> None:
    path = write_config(tmp_path, POSTS)
    result = add_user(path, "ana", "admin")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "earful.db").exists()
    assert earful("poll", "-c", str(path)).exit_code == 0


def test_a_bad_account_name_is_a_usage_error(tmp_path: Path) -> None:
    result = add_user(write_config(tmp_path, POSTS), "a b", "viewer")
    assert result.exit_code == 2 and "Invalid value for NAME: a name must be" in result.output


def test_exit_code_2_for_a_usage_error(world: World) -> None:
    assert world.run("queue", "list", "--status", "lost").exit_code == 2
    assert world.run("export", "everything").exit_code == 2


GOOD = """\
[brand]
name = "Lumenet"

[[sources]]
name = "replayed"
type = "replay"
path = "mentions.jsonl"
interval = "90s"
"""


# kind of mistake -> (text replaced, its replacement; "" appends), environment, message
MISTAKES: dict[str, tuple[tuple[str, str], dict[str, str], str]] = {
    "bad duration": (
        ("", '\n[publish]\ninterval = "soon"\n'),
        {},
        'publish.interval: expected a duration like "90s" or "5m", got \'soon\'',
    ),
    "bad type": (
        ("", "\n[console]\nhost = 8080\n"),
        {},
        "console.host: expected a valid string, got 8080",
    ),
    "missing key": (('path = "mentions.jsonl"\n', ""), {}, "sources[0].path: missing (required)"),
    "unknown key": (("", '\n[storage]\npth = "x.db"\n'), {}, "storage.pth: unknown key"),
    "unset env var": (
        ('"mentions.jsonl"', '"${REPLAY_FILE}"'),
        {},
        "sources[0].path: environment variable REPLAY_FILE is not set",
    ),
    "bad env var value": (
        ('"90s"', '"${POLL_EVERY}"'),
        {"POLL_EVERY": "often"},
        'sources[0].interval: expected a duration like "90s" or "5m", '
        "got (the value of $POLL_EVERY)",
    ),
    "out of range": (
        ("", "\n[responders]\nescalate_at = 101\n"),
        {},
        "responders.escalate_at: expected less than or equal to 100",
    ),
    "bad source key": (
        ('type = "replay"', 'type = "replay"\nbatch = "lots"'),
        {},
        "sources[0].batch: expected a valid integer",
    ),
    "invalid toml": (("[brand]", "[brand"), {}, "not valid TOML"),
}


@pytest.mark.parametrize(("change", "env", "expected"), MISTAKES.values(), ids=MISTAKES.keys())
def test_each_config_mistake_exits_2_with_the_key_path(
    tmp_path: Path, change: tuple[str, str], env: dict[str, str], expected: str
) -> None:
    old, new = change
    text = GOOD.replace(old, new) if old else GOOD + new
    path = tmp_path / "earful.toml"
    path.write_text(text, encoding="utf-8")
    # `poll` loads the config as `run` does, and ends even if the config were fine
    result = earful("poll", "-c", str(path), env={"REPLAY_FILE": None, **env})
    assert result.exit_code == 2
    assert f"earful: {path}: {expected}" in result.output, result.output
    assert not (tmp_path / "earful.db").exists()  # start-up stopped before anything


# The daemon's environment holds the platforms' tokens; an agent's shell does not.
WITH_CREDENTIALS = (
    GOOD
    + """
[[sources]]
name = "brand-x"
type = "x"
handle = "lumenet"
bearer_token = "${X_BEARER_TOKEN}"
consumer_key = "${X_CONSUMER_KEY}"

[escalation]
webhook_url = "${EARFUL_SLACK_WEBHOOK}"
"""
)


@pytest.mark.parametrize(
    "command",
    [
        ("stats",),
        ("queue", "list"),
        ("alerts", "list"),
        ("callbacks", "list"),
        ("search", "outage"),
        ("export", "praise"),
        ("classify", "the app is down again"),
    ],
)
def test_commands_that_only_read_or_decide_need_no_platform_tokens(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = tmp_path / "earful.toml"
    path.write_text(WITH_CREDENTIALS, encoding="utf-8")
    with Store.open(tmp_path / "earful.db"):
        pass  # the daemon made it
    result = earful(*command, "-c", str(path), env=_UNSET_CREDENTIALS)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "command", [("poll",), ("run", "--no-console"), ("publish",), ("alerts", "send")]
)
def test_commands_that_poll_post_or_alert_refuse_an_unset_token(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = tmp_path / "earful.toml"
    path.write_text(WITH_CREDENTIALS, encoding="utf-8")
    result = earful(*command, "-c", str(path), env=_UNSET_CREDENTIALS)
    assert result.exit_code == 2
    for expected in (
        "sources[1].bearer_token: environment variable X_BEARER_TOKEN is not set",
        "sources[1].consumer_key: environment variable X_CONSUMER_KEY is not set",
        "escalation.webhook_url: environment variable EARFUL_SLACK_WEBHOOK is not set",
    ):
        assert f"{path}: {expected}" in result.output, result.output
    assert not (tmp_path / "earful.db").exists()


def test_an_unset_token_is_reported_with_the_mistake_that_stops_a_reading_command(
    tmp_path: Path,
) -> None:
    path = tmp_path / "earful.toml"
    path.write_text(WITH_CREDENTIALS + 'min_urgency = "high"\n', encoding="utf-8")
    result = earful("stats", "-c", str(path), env=_UNSET_CREDENTIALS)
    assert result.exit_code == 2
    assert "escalation.min_urgency: expected a valid integer" in result.output
    assert "sources[1].bearer_token: environment variable X_BEARER_TOKEN" in result.output


def test_an_unset_variable_outside_sources_and_escalation_stops_every_command(
    tmp_path: Path,
) -> None:
    path = tmp_path / "earful.toml"
    path.write_text(GOOD + '\n[storage]\npath = "${EARFUL_DB}"\n', encoding="utf-8")
    result = earful("stats", "-c", str(path), env={"EARFUL_DB": None})
    assert result.exit_code == 2
    assert f"earful: {path}: storage.path: environment variable EARFUL_DB is not set" in (
        result.output
    )


def test_the_tokens_that_are_set_are_used_and_kept_secret_by_reading_commands(
    tmp_path: Path,
) -> None:
    path = tmp_path / "earful.toml"
    path.write_text(WITH_CREDENTIALS, encoding="utf-8")
    # the other credentials are not in the environment at all
    config = load_config(path, env={"X_BEARER_TOKEN": "bearer-s3cr3t-value"}, credentials=())
    assert "bearer-s3cr3t-value" in config.secret_values()
    assert not config.escalation.webhook_url
    # its posting key is unset: the X source is left out, and still named
    assert [s.name for s in config.sources] == ["replayed"]
    assert config.named_sources == (("replayed", "replay"), ("brand-x", "x"))


_UNSET_CREDENTIALS: dict[str, str | None] = {
    "X_BEARER_TOKEN": None,
    "X_CONSUMER_KEY": None,
    "EARFUL_SLACK_WEBHOOK": None,
}

# Sources whose own checks fail on an empty token ("mentions mode needs access_token")
SOURCE_CHECKS = """
[[sources]]
name = "mastodon-mentions"
type = "mastodon"
base_url = "https://mastodon.example"
mode = "mentions"
access_token = "${MASTODON_TOKEN}"
stream = true

[[sources]]
name = "bluesky"
type = "bluesky"
identifier = "lumenet.bsky.social"
app_password = "${BSKY_APP_PASSWORD}"
"""


def test_a_source_whose_own_checks_need_the_unset_token_is_left_out_quietly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "earful.toml"
    path.write_text(GOOD + SOURCE_CHECKS, encoding="utf-8")
    with Store.open(tmp_path / "earful.db"):
        pass
    env: dict[str, str | None] = {
        "MASTODON_TOKEN": None,
        "BSKY_APP_PASSWORD": None,
        "REPLAY_FILE": None,
    }
    listed = earful("sources", "-c", str(path), "--json", env=env)
    assert listed.exit_code == 0, listed.output
    assert [(r["name"], r["type"]) for r in json.loads(listed.output)] == [
        ("replayed", "replay"),
        ("mastodon-mentions", "mastodon"),
        ("bluesky", "bluesky"),
    ]
    refused = earful("poll", "-c", str(path), env=env)
    assert refused.exit_code == 2
    for expected in (
        "sources[1].access_token: environment variable MASTODON_TOKEN is not set",
        "sources[2].app_password: environment variable BSKY_APP_PASSWORD is not set",
    ):
        assert expected in refused.output, refused.output
    # what follows from the unset token is not a second thing to fix
    assert "needs `access_token`" not in refused.output


def test_each_command_needs_only_the_credentials_it_uses(tmp_path: Path) -> None:
    path = tmp_path / "earful.toml"
    path.write_text(WITH_CREDENTIALS.replace('consumer_key = "${X_CONSUMER_KEY}"\n', ""))
    with Store.open(tmp_path / "earful.db"):
        pass
    tokens = {"X_BEARER_TOKEN": "bearer-0123456789"}
    # publishing posts with the platforms' tokens, not the webhook
    published = earful("publish", "-c", str(path), env={**_UNSET_CREDENTIALS, **tokens})
    assert published.exit_code == 0, published.output
    # sending alerts uses the webhook, not the platforms' tokens
    hook = {"EARFUL_SLACK_WEBHOOK": "https://hooks.example/services/T0/B0/abcdef"}
    sent = earful("alerts", "send", "-c", str(path), env={**_UNSET_CREDENTIALS, **hook})
    assert sent.exit_code == 0, sent.output
    refused = earful("alerts", "send", "-c", str(path), env={**_UNSET_CREDENTIALS, **tokens})
    assert refused.exit_code == 2
    assert "escalation.webhook_url: environment variable EARFUL_SLACK_WEBHOOK" in refused.output
    assert "X_BEARER_TOKEN" not in refused.output


def test_a_left_out_source_keeps_its_place_and_its_name_is_checked(tmp_path: Path) -> None:
    twice = GOOD.replace('name = "replayed"', 'name = "brand-x"') + (
        '\n[[sources]]\nname = "brand-x"\ntype = "x"\nbearer_token = "${X_BEARER_TOKEN}"\n'
    )
    path = tmp_path / "earful.toml"
    path.write_text(twice, encoding="utf-8")
    result = earful("stats", "-c", str(path), env={"X_BEARER_TOKEN": None})
    assert result.exit_code == 2
    assert "sources[1].name: duplicate source name 'brand-x'" in result.output


def test_a_missing_config_file_exits_2_and_suggests_init(tmp_path: Path) -> None:
    result = earful("stats", "-c", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "file not found (run `earful init` to write a starter config)" in result.output


def test_the_installed_command_exits_0_1_and_2(world: World, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(EARFUL), *args], capture_output=True, text=True, timeout=60, check=False
        )

    ok = run("stats", "--json", "-c", str(world.config))
    assert ok.returncode == 0 and json.loads(ok.stdout)["mentions"] == 5
    missing = run("queue", "approve", "999", "-c", str(world.config))
    assert missing.returncode == 1 and missing.stderr == "earful: no reply with id 999\n"
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace('"90s"', '"soon"'), encoding="utf-8")
    refused = run("run", "-c", str(bad))
    assert refused.returncode == 2
    assert f"earful: {bad}: sources[0].interval: expected a duration" in refused.stderr


# -- check ---------------------------------------------------------------------------


def test_check_says_what_run_would_start_with_and_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, POSTS)
    result = earful("check", "-c", str(config))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{config}: ready to run"
    assert "  sources: replayed (replay, every 1m)" in lines
    assert any(
        line.startswith("  rules: default: ") and "examples holding" in line for line in lines
    )
    assert "  publish: dry-run (approved replies are marked sent, not posted)" in lines
    assert any("none yet (the first start makes it)" in line for line in lines)
    assert not (tmp_path / "earful.db").exists()  # checked, not made
    report = json.loads(earful("check", "-c", str(config), "--json").stdout)
    assert report["database"] == {"path": str(tmp_path / "earful.db"), "version": None,
                                  "current": SCHEMA_VERSION}  # fmt: skip
    assert report["sources"]["list"] == [{"name": "replayed", "type": "replay", "interval": 60.0}]


@pytest.mark.parametrize(
    ("console", "warned"),
    [
        ('host = "0.0.0.0"', True),
        ('host = "192.0.2.7"', True),
        ('host = "0.0.0.0"\nsecure_cookie = true', False),  # a TLS proxy in front
        ('host = "::1"', False),
        ('host = "localhost"', False),
        ("", False),  # 127.0.0.1
        ('host = "0.0.0.0"\nenabled = false', False),
    ],
)
def test_check_warns_of_a_console_served_to_the_network_over_plain_http(
    tmp_path: Path, console: str, warned: bool
) -> None:
    config = write_config(tmp_path, POSTS)
    config.write_text(
        config.read_text().replace("[console]\nport = 0\n", f"[console]\nport = 0\n{console}\n")
    )
    result = earful("check", "-c", str(config))
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("  warning: ")]
    if warned:
        assert warning and "over plain HTTP" in warning[0] and "secure_cookie" in warning[0]
    else:
        assert warning == []


def test_check_refuses_what_run_would_refuse(tmp_path: Path) -> None:
    # a ${VAR} the daemon needs and the environment lacks: a config mistake, exit 2
    config = write_config(
        tmp_path, POSTS, extra='\n[escalation]\nwebhook_url = "${EARFUL_TEST_HOOK}"\n'
    )
    unset = earful("check", "-c", str(config), env={"EARFUL_TEST_HOOK": None})
    assert unset.exit_code == 2 and "EARFUL_TEST_HOOK" in unset.output
    # a database from a newer Earful: exit 1, naming both versions
    config = write_config(tmp_path, POSTS)
    with sqlite3.connect(tmp_path / "earful.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer = earful("check", "-c", str(config))
    assert newer.exit_code == 1
    assert f"schema version {SCHEMA_VERSION + 1}, from a newer Earful" in newer.output
    (tmp_path / "earful.db").write_bytes(b"not a database at all, just words" * 100)
    garbage = earful("check", "-c", str(config))
    assert garbage.exit_code == 1 and "is not a database Earful can use" in garbage.output


def test_check_refuses_a_replay_file_it_cannot_read(tmp_path: Path) -> None:
    config = write_config(tmp_path, POSTS)
    replayed = tmp_path / "mentions.jsonl"
    replayed.unlink()
    missing = earful("check", "-c", str(config))
    assert missing.exit_code == 2
    assert missing.stderr == (
        f"earful: {config}: sources[0].path: expected a JSON Lines file to replay; "
        f"replay file {replayed} does not exist (check the source's path; "
        "a relative path starts from the config file's folder)\n"
    )
    replayed.mkdir()
    folder = earful("check", "-c", str(config))
    assert folder.exit_code == 2
    assert f"sources[0].path: expected a JSON Lines file to replay; cannot read {replayed}" in (
        folder.stderr.replace("replay file ", "")
    )
    assert not (tmp_path / "earful.db").exists()
    # what the daemon would meet: a source failing each poll, the others polled
    polled = earful("poll", "-c", str(config))
    assert polled.exit_code == 1 and f"cannot read replay file {replayed}" in polled.stderr


def test_check_names_an_old_database_to_be_upgraded(world: World) -> None:
    with sqlite3.connect(load_config(world.config).db_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    result = world.run("check")
    assert result.exit_code == 0, result.output
    assert f"schema version {SCHEMA_VERSION - 1}, upgraded to {SCHEMA_VERSION}" in result.output


def test_an_older_daemons_database_is_not_upgraded_from_under_it(world: World) -> None:
    db = load_config(world.config).db_path
    for file in database_files(db):
        file.unlink(missing_ok=True)
    at_version(db, SCHEMA_VERSION - 1).close()
    # the older Earful's daemon, still running after `pip install --upgrade`
    with locks.daemon_lock(db).open("a") as older:
        fcntl.flock(older, fcntl.LOCK_EX)
        for command in (("sources",), ("stats",), ("queue", "list")):
            result = world.run(*command)
            assert result.exit_code == 1, (command, result.output)
            assert "a daemon is running on it (an older Earful" in result.output
            assert "Nothing was changed: stop the daemon" in result.output
        assert stored_version(db) == SCHEMA_VERSION - 1
        # check still passes (the config is fine) but says the daemon is in the way
        checked = world.run("check")
        assert checked.exit_code == 0, checked.output
        assert "a daemon is running on it now (the older Earful's" in checked.output
    # once it is stopped, the new version upgrades the database, though a command
    # holding the daemon's lock itself (publish, as the new daemon) is the one to do it
    published = world.run("publish")
    assert published.exit_code == 0, published.output
    assert stored_version(db) == SCHEMA_VERSION


@pytest.mark.parametrize(("level", "prawcore"), [("info", "40"), ("debug", "0")])
def test_prawcores_retry_warnings_are_left_to_debug(
    world: World, level: str, prawcore: str
) -> None:
    # Earful logs a source's failure once, and its recovery; prawcore warned at each
    # retry of a 503 and at each routine token refresh
    script = (
        "import logging, sys\n"
        "from earful.cli.base import _setup_logging\n"
        "from earful.config import load_config\n"
        "_setup_logging(load_config(sys.argv[1]), sys.argv[2])\n"
        "print(logging.getLogger('prawcore').level)\n"
    )
    run = subprocess.run(
        [str(EARFUL.parent / "python"), "-c", script, str(world.config), level],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert run.stdout.strip() == prawcore


def test_check_reads_the_database_without_making_its_log_files(world: World) -> None:
    db = load_config(world.config).db_path
    before = sorted(p.name for p in db.parent.iterdir())
    result = world.run("check")
    assert result.exit_code == 0, result.output
    assert f"schema version {SCHEMA_VERSION}" in result.output
    assert sorted(p.name for p in db.parent.iterdir()) == before


def test_check_takes_any_path_sqlite_takes(tmp_path: Path) -> None:
    # "//" at the start of a path is no URI authority to a file name
    config = write_config(tmp_path, POSTS, extra=f'\n[storage]\npath = "/{tmp_path}/earful.db"\n')
    assert earful("poll", "-c", str(config)).exit_code == 0
    result = earful("check", "-c", str(config))
    assert result.exit_code == 0, result.output
    assert f"schema version {SCHEMA_VERSION}" in result.output
    (tmp_path / "earful.db").unlink()
    for extra in ("-wal", "-shm"):
        (tmp_path / f"earful.db{extra}").unlink(missing_ok=True)
    (tmp_path / "earful.db").touch()
    assert "empty (the first start sets it up)" in earful("check", "-c", str(config)).output
