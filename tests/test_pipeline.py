"""Exactly-once ingest: fetch -> judge -> store with the cursor in one transaction, so
a crash anywhere before the commit re-fetches the page and stores it once.

The crashes are real: a SQLite trigger that aborts the transaction half-way through
a batch, and `earful run` killed with SIGKILL while it works through a replay."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from factories import EARFUL
from replayfiles import count, mixed_posts, stored, wait_for, write_config, x_post

from earful.config import load_config
from earful.pipeline import Stages, build_stages, judge_batch, poll
from listener.base import Cursor, FetchResult, SourceDown
from listener.mention import Mention
from listener.replay import ReplaySource
from storage.store import Store


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> Stages:
    return build_stages(load_config(write_config(tmp_path_factory.mktemp("stages"), [])))


def replay(config_path: Path, batch: int) -> ReplaySource:
    return ReplaySource("replayed", config_path.parent / "mentions.jsonl", batch=batch)


async def drain(source: ReplaySource, store: Store, stages: Stages) -> int:
    """Poll until the replay has nothing more; the number of polls."""
    polls = 1
    while (await poll(source, store, stages)).fetched:
        polls += 1
    return polls


def assert_stored_once_with_verdicts(store: Store, expected: int) -> None:
    conn = store.conn
    assert conn.execute("SELECT count(*) FROM mentions").fetchone()[0] == expected
    assert (
        conn.execute(
            "SELECT count(DISTINCT platform || ':' || native_id) FROM mentions"
        ).fetchone()[0]
        == expected
    )
    assert conn.execute("SELECT count(*) FROM verdicts").fetchone()[0] == expected
    orphans = "SELECT count(*) FROM mentions m LEFT JOIN verdicts v ON v.mention_id = m.id "
    assert conn.execute(orphans + "WHERE v.mention_id IS NULL").fetchone()[0] == 0
    # a page fetched again never drafts a second reply to the same post
    twice = "SELECT count(*) FROM (SELECT 1 FROM replies GROUP BY mention_id HAVING count(*) > 1)"
    assert conn.execute(twice).fetchone()[0] == 0


def cursor_at_end(config_path: Path, lines: int) -> dict[str, int]:
    size = (config_path.parent / "mentions.jsonl").stat().st_size
    return {"offset": size, "line": lines, "lap": 0}


# -- a crash inside the transaction ------------------------------------------------------


async def test_crash_half_way_through_a_batch_stores_nothing_of_it_and_restart_resumes(
    tmp_path: Path, stages: Stages
) -> None:
    path = write_config(tmp_path, [x_post(n, f"lumenet down again #{n}") for n in range(15)])
    db = tmp_path / "earful.db"
    with Store.open(db) as store:
        # The 8th reply ever written aborts its transaction, as a crash would: the
        # first batch of 5 commits, the second dies after 2 of its replies.
        store.conn.execute(
            "CREATE TRIGGER crash BEFORE INSERT ON replies "
            "WHEN (SELECT count(*) FROM replies) >= 7 "
            "BEGIN SELECT RAISE(ABORT, 'injected crash'); END"
        )
        source = replay(path, batch=5)
        await poll(source, store, stages)
        committed = store.cursor("replayed")
        with pytest.raises(sqlite3.IntegrityError, match="injected crash"):
            await poll(source, store, stages)
        assert count(db, "SELECT count(*) FROM mentions") == 5
        assert count(db, "SELECT count(*) FROM replies") == 5
        assert committed is not None and committed["line"] == 5
        assert store.cursor("replayed") == committed

    # restart: a new process opens the file; the cause of the crash is gone
    with Store.open(db) as store:
        store.conn.execute("DROP TRIGGER crash")
        await drain(replay(path, batch=5), store, stages)
        assert_stored_once_with_verdicts(store, 15)
        assert count(db, "SELECT count(*) FROM replies") == 15
        assert store.cursor("replayed") == cursor_at_end(path, 15)


def wal_state(wal: Path) -> tuple[int, int]:
    try:
        st = wal.stat()
    except FileNotFoundError:
        return (0, 0)
    return (st.st_size, st.st_mtime_ns)


def committed_state(db: Path) -> tuple[int, int, Cursor | None]:
    """Mentions, verdicts and the cursor as a reader sees them after the crash."""
    conn = sqlite3.connect(db)
    try:
        mentions = conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
        verdicts = conn.execute("SELECT count(*) FROM verdicts").fetchone()[0]
        row = conn.execute("SELECT cursor FROM cursors WHERE source = 'replayed'").fetchone()
        return mentions, verdicts, json.loads(row[0]) if row else None
    finally:
        conn.close()


async def test_kill_9_while_polling_then_restart_stores_every_mention_once(
    tmp_path: Path, stages: Stages
) -> None:
    total = 1500
    path = write_config(tmp_path, mixed_posts(total), batch=120, interval="10ms")
    db = tmp_path / "earful.db"
    wal = Path(f"{db}-wal")
    # a different moment of death each run, said in the failure so it can be replayed
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    kills = 3
    for round_ in range(kills):
        before = stored(db)
        with (tmp_path / f"run{round_}.log").open("wb") as log:
            proc = subprocess.Popen(
                [str(EARFUL), "run", "-c", str(path), "--log-level", "warning"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_for(
                    lambda: stored(db) > before or before == total or proc.poll() is not None,  # noqa: B023
                    "the daemon to commit a batch",
                )
                assert proc.poll() is None, (tmp_path / f"run{round_}.log").read_text()
                if round_ % 2:
                    time.sleep(rng.uniform(0.0, 0.15))
                else:
                    # the moment the next transaction writes to the log (size and
                    # time: after a checkpoint the log is rewritten from its start)
                    seen = wal_state(wal)
                    wait_for(
                        lambda: wal_state(wal) != seen or stored(db) == total,  # noqa: B023
                        "the next commit",
                    )
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        mentions, verdicts, cursor = committed_state(db)
        # what was committed is whole: each stored mention has its verdict and the
        # cursor points just past the last stored line (every line is a new post)
        assert verdicts == mentions >= before, f"seed {seed}"
        assert cursor is not None and cursor["line"] == mentions, f"seed {seed}"

    with Store.open(db) as store:
        await drain(replay(path, batch=500), store, stages)
        assert_stored_once_with_verdicts(store, total)
        assert store.cursor("replayed") == cursor_at_end(path, total)


# -- pages, again and again --------------------------------------------------------------


async def test_replay_polled_past_its_end_stores_each_line_once_and_parks_the_cursor(
    tmp_path: Path, stages: Stages, store: Store
) -> None:
    path = write_config(tmp_path, mixed_posts(23))
    source = replay(path, batch=5)
    for _ in range(9):  # five pages hold the file; the rest find nothing new
        await poll(source, store, stages)
    assert_stored_once_with_verdicts(store, 23)
    assert store.cursor("replayed") == cursor_at_end(path, 23)
    assert store.stats().by_disposition == {
        "interesting_bad": 6,
        "interesting_good": 6,
        "question": 6,
        "ignore": 5,
    }


class Repeating:
    """A platform that serves the same page on every fetch (a lost cursor update,
    a proxy cache, a platform ignoring since_id)."""

    def __init__(self, result: FetchResult) -> None:
        self.name = "repeating"
        self.result = result
        self.fetches = 0

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        self.fetches += 1
        return self.result

    async def aclose(self) -> None:
        return None


def test_two_batches_judged_at_once_draft_to_an_author_once(tmp_path: Path, stages: Stages) -> None:
    # Two sources (or `earful poll` beside the daemon) judge a complaint each by
    # @ana before either is stored: both saw no contact, both drafted. The store
    # looks again in the transaction that writes.
    import factories

    with Store.open(tmp_path / "earful.db") as store:
        first = judge_batch(
            [factories.mention("lumenet is down again", native_id="1")], store, stages
        )
        second = judge_batch(
            [factories.mention("still no lumenet internet, day 3", native_id="2")], store, stages
        )
        assert first[0].drafts and second[0].drafts  # each judged alone would draft
        store.ingest("a", first, None)
        store.ingest("b", second, None)
        replies = store.conn.execute("SELECT count(*) FROM replies").fetchone()[0]
        # one reply to her; the second post (a conversation of its own) keeps a task
        # for its own case, as a follow-up: no case is left with no work in it
        cases = store.conn.execute("SELECT case_id FROM callbacks ORDER BY id").fetchall()
        assert replies == 1 and len({c for (c,) in cases}) == len(cases) == 2
        assert count(tmp_path / "earful.db", "SELECT count(*) FROM mentions") == 2


def test_a_complaint_after_a_thank_you_is_drafted_for_and_not_the_other_way(
    tmp_path: Path, stages: Stages
) -> None:
    # A thank-you to @ana (even one an agent rejects) must not hide the complaint
    # she posts an hour later: a case with no draft and no task is seen by nobody.
    import factories

    with Store.open(tmp_path / "earful.db") as store:
        praise = factories.mention("love lumenet, fastest broadband I've had", native_id="1")
        complaint = factories.mention("lumenet charged me twice, no refund", native_id="2")
        more = factories.mention("lumenet you are the best, fixed in a day", native_id="3")
        for post, kinds in ((praise, ["thanks"]), (complaint, ["reply", "callback"]), (more, [])):
            judged = judge_batch([post], store, stages)
            store.ingest("replayed", judged, None)
            assert [d.kind.value for d in judged[0].drafts] == kinds, post.text
        # judged by two writers before either stored: the store weighs them again
        for first, second, kept in (("4", "5", ["reply", "callback"]), ("7", "6", [])):
            bob = {
                n: factories.mention(text, native_id=n, handle=f"bob{first}")
                for n, text in (
                    ("4", "love lumenet, fastest broadband I've had"),
                    ("5", "lumenet charged me twice, no refund"),
                    ("6", "love lumenet, fastest broadband I've had"),
                    ("7", "lumenet charged me twice, no refund"),
                )
            }
            early = judge_batch([bob[first]], store, stages)
            late = judge_batch([bob[second]], store, stages)
            assert early[0].drafts and late[0].drafts  # each judged alone would draft
            store.ingest("a", early, None)
            store.ingest("b", late, None)
            drafted = store.conn.execute(
                "SELECT kind FROM replies JOIN mentions m ON m.id = mention_id "
                "WHERE m.native_id = ? UNION ALL SELECT 'callback' FROM callbacks "
                "JOIN mentions m ON m.id = mention_id WHERE m.native_id = ?",
                (second, second),
            ).fetchall()
            assert [k for (k,) in drafted] == kept


def test_a_complaint_within_the_cooldown_reaches_a_person_without_a_second_reply(
    tmp_path: Path, stages: Stages
) -> None:
    # After an apology to @ana, her churn threat an hour later in a new thread gets no
    # second reply, but it must not sit unseen in a case with no draft and no task.
    import factories

    def tasks(store: Store, handle: str = "ana") -> list[tuple[int, str, str, int]]:
        """(id, post's native id, status, urgency) of the author's callback tasks."""
        rows = store.conn.execute(
            "SELECT c.id, m.native_id, c.status, c.urgency FROM callbacks c "
            "JOIN mentions m ON m.id = c.mention_id WHERE m.author_handle = ? ORDER BY c.id",
            (handle,),
        )
        return [tuple(r) for r in rows]

    def urgency_of(store: Store, native_id: str) -> int:
        return int(
            store.conn.execute(
                "SELECT v.urgency FROM verdicts v JOIN mentions m ON m.id = v.mention_id "
                "WHERE m.native_id = ?",
                (native_id,),
            ).fetchone()[0]
        )

    def ingest(store: Store, *posts: Mention) -> list[list[str]]:
        judged = judge_batch(posts, store, stages)
        store.ingest("replayed", judged, None)
        return [[d.kind.value for d in j.drafts] for j in judged]

    def last_contact(store: Store) -> str:
        return str(store.conn.execute("SELECT last_draft_at FROM contacts").fetchone()[0])

    with Store.open(tmp_path / "earful.db") as store:
        first = factories.mention("lumenet internet down again since last night", native_id="1")
        assert ingest(store, first) == [["reply", "callback"]]
        contacted = last_contact(store)
        (reply,) = store.replies()
        threat = factories.mention(
            "that's it, cancelling lumenet and switching to fibrely, absolutely furious",
            native_id="2",
            conversation_id="another thread",
        )
        assert ingest(store, threat) == [["follow_up"]]
        louder = urgency_of(store, "2")
        assert louder > urgency_of(store, "1")
        # no second reply: her pending apology rises to the threat's urgency, and the
        # threat's own case (another thread) gets its task: no case is left with none
        assert [(r.id, r.urgency) for r in store.replies()] == [(reply.id, louder)]
        assert [(t[1], t[2], t[3]) for t in tasks(store)] == [
            ("1", "open", urgency_of(store, "1")),
            ("2", "open", louder),
        ]
        # in the same thread, a follow-up raises that case's open task
        same = factories.mention(
            "still nothing, absolutely livid, lumenet", native_id="3", conversation_id="1"
        )
        assert ingest(store, same) == [["follow_up"]]
        assert len(tasks(store)) == 2
        assert tasks(store)[0][3] == max(urgency_of(store, "1"), urgency_of(store, "3"))
        # that task done: the next complaint in the thread is a task of its own again
        store.complete_callback(tasks(store)[0][0], "alice")
        store.reject(reply.id, "alice", reason="answered by phone")
        again = factories.mention(
            "lumenet still down, nobody called", native_id="4", conversation_id="1"
        )
        assert ingest(store, again) == [["follow_up"]]
        assert [(t[1], t[2]) for t in tasks(store)] == [("1", "done"), ("2", "open"), ("4", "open")]
        assert not store.replies()  # still no second reply within the cooldown
        assert last_contact(store) == contacted  # a follow-up does not restart it
        # two in one batch, one thread, nothing open there: one task
        bob = [
            factories.mention(text, native_id=n, handle="bob", conversation_id="b")
            for n, text in (
                ("5", "lumenet broadband down all day"),
                ("6", "lumenet still down, no update"),
                ("7", "lumenet down a third time, cancelling"),
            )
        ]
        assert ingest(store, bob[0]) == [["reply", "callback"]]
        store.complete_callback(tasks(store, "bob")[0][0], "alice")
        assert ingest(store, *bob[1:]) == [["follow_up"], ["follow_up"]]
        assert [(t[1], t[2]) for t in tasks(store, "bob")] == [("5", "done"), ("6", "open")]
        # a follow-up raises the reply the author will get, never a thank-you
        thanked = factories.mention(
            "love lumenet, fastest broadband ever", native_id="8", handle="cy"
        )
        assert ingest(store, thanked) == [["thanks"]]
        moan = factories.mention("lumenet down again, furious", native_id="9", handle="cy")
        assert ingest(store, moan) == [["reply", "callback"]]
        rant = factories.mention(
            "lumenet cancelling my contract, done, switching to fibrely",
            native_id="10",
            handle="cy",
        )
        assert ingest(store, rant) == [["follow_up"]]
        cys = {r.kind: r.urgency for r in store.replies() if r.author_handle == "cy"}
        assert cys["reply"] == urgency_of(store, "10") > cys["thanks"]


async def page(tmp_path: Path, posts: int) -> FetchResult:
    path = write_config(tmp_path, mixed_posts(posts))
    return await replay(path, batch=posts).fetch(None)


async def test_the_same_page_delivered_twice_is_stored_once(
    tmp_path: Path, stages: Stages, store: Store
) -> None:
    source = Repeating(await page(tmp_path, 8))
    first = await poll(source, store, stages)
    second = await poll(source, store, stages)
    assert (first.fetched, first.new, first.ingest.stored) == (8, 8, 8)
    assert (second.fetched, second.new, second.ingest.stored) == (8, 0, 0)
    assert_stored_once_with_verdicts(store, 8)
    assert count(store_path(store), "SELECT count(*) FROM replies") == first.ingest.replies


async def test_a_post_repeated_within_one_page_is_stored_once(
    tmp_path: Path, stages: Stages, store: Store
) -> None:
    result = await page(tmp_path, 3)
    doubled = replace(result, mentions=result.mentions + result.mentions[:2])
    summary = await poll(Repeating(doubled), store, stages)
    assert (summary.fetched, summary.new) == (5, 3)
    assert_stored_once_with_verdicts(store, 3)


async def test_a_page_judged_twice_before_either_commit_is_stored_once(
    tmp_path: Path, stages: Stages, store: Store
) -> None:
    # two pollers racing: both judge the page as new, the second commit finds it stored
    result = await page(tmp_path, 6)
    first = judge_batch(result.mentions, store, stages)
    second = judge_batch(result.mentions, store, stages)
    assert len(first) == len(second) == 6
    assert store.ingest("replayed", first, result.cursor).stored == 6
    late = store.ingest("replayed", second, result.cursor)
    assert (late.stored, late.duplicates, late.replies, late.callbacks) == (0, 6, 0, 0)
    assert_stored_once_with_verdicts(store, 6)


def store_path(store: Store) -> Path:
    return Path(store.conn.execute("PRAGMA database_list").fetchone()["file"])


# -- a failing fetch ------------------------------------------------------------------


class FailsHalfWay:
    """Reads a page from the replay, then the connection drops before it returns."""

    def __init__(self, inner: ReplaySource) -> None:
        self.name = inner.name
        self.inner = inner
        self.fail = True

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        result = await self.inner.fetch(cursor)
        if self.fail:
            raise SourceDown(f"connection reset after {len(result.mentions)} posts")
        return result

    async def aclose(self) -> None:
        return None


async def test_a_source_raising_mid_fetch_writes_nothing_and_keeps_the_cursor(
    tmp_path: Path, stages: Stages, store: Store
) -> None:
    path = write_config(tmp_path, mixed_posts(10))
    source = FailsHalfWay(replay(path, batch=4))
    source.fail = False
    await poll(source, store, stages)
    before = store.cursor("replayed")
    source.fail = True
    with pytest.raises(SourceDown, match="connection reset after 4 posts"):
        await poll(source, store, stages)
    assert store.cursor("replayed") == before
    assert_stored_once_with_verdicts(store, 4)
    source.fail = False
    await drain(source.inner, store, stages)
    assert_stored_once_with_verdicts(store, 10)
