"""The figures marketing reports from: who counts in net sentiment, which day an
undated post counts on, and what the time to first reply measures. The same in
`earful stats` (Store.stats) and the console's charts (queries.series)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from consolekit import Clock
from factories import at_version, complaint, mention, praise, verdict
from replayfiles import write_config, x_post

from earful.cli import cli
from listener.mention import Brand, Mention
from responders.drafts import Draft, DraftKind
from rules import Disposition, judge, load_ruleset
from storage import queries
from storage.records import Judged
from storage.schema import SCHEMA_VERSION
from storage.store import FIRST_ASKED, Store, first_sent

ACME = Brand("Acme", ("acme",), {"x": "AcmeHelp"})
RULES = load_ruleset(brand=ACME)

COMPLAINT = "acme internet has been down since 6am"
PRAISE = "love the new acme router, brilliant, thank you"
OWN = "We're aware the app is down and working on it"
SPAM = "GIVEAWAY! follow + RT to win a free router, DM for promo code"


def judged(m: Mention) -> Judged:
    """Judged by the shipped rules, as the pipeline judges: an own post or spam is
    whatever the engine says it is, not what a test builds."""
    return Judged(m, judge(m, RULES), ())


def five_posts(at: datetime) -> list[Judged]:
    """Two complaints and a praise by customers, one post of the brand's own, one spam."""
    return [
        judged(mention(COMPLAINT, native_id="1", handle="ana", created_at=at)),
        judged(mention(COMPLAINT, native_id="2", handle="bo", created_at=at)),
        judged(mention(PRAISE, native_id="3", handle="cy", created_at=at)),
        judged(mention(OWN, native_id="4", handle="AcmeHelp", created_at=at)),
        judged(mention(SPAM, native_id="5", handle="promo_bot", created_at=at)),
    ]


def test_the_posts_are_what_their_names_say() -> None:
    kinds = [
        (j.verdict.disposition.value, j.verdict.is_own_post, j.verdict.is_spam)
        for j in five_posts(datetime(2026, 11, 20, tzinfo=UTC))
    ]
    assert kinds == [
        ("interesting_bad", False, False),
        ("interesting_bad", False, False),
        ("interesting_good", False, False),
        ("ignore", True, False),
        ("ignore", False, True),
    ]


# -- finding: the brand's own posts and spam are no one's sentiment ------------------


def test_stats_leave_the_brands_own_posts_and_spam_out_of_net_sentiment(store: Store) -> None:
    store.ingest("x", five_posts(datetime(2026, 11, 20, tzinfo=UTC)), None)
    s = store.stats()
    assert (s.mentions, s.own_posts, s.spam) == (5, 1, 1)  # nothing disappears
    assert s.by_platform == {"x": 5}
    # (1 praise - 2 complaints) / 3 posts by others; counting all five gave -20.0
    assert s.net_sentiment == pytest.approx(-33.3)


def test_the_charts_leave_them_out_too(db_path: Path) -> None:
    clock = Clock()
    store = Store.open(db_path, clock=clock)
    store.ingest("x", five_posts(clock.now), None)
    s = queries.series(store, days=7)
    assert (s.mentions, s.own_posts, s.spam) == (5, 1, 1)
    assert s.by_disposition["ignore"][-1] == 2  # the bars still show every post
    assert s.net_sentiment[-1] == pytest.approx(-33.3)
    # the window's own figure weighs each day by its posts, not each day alike
    two_days_ago = clock.now - timedelta(days=2)
    praised = mention(PRAISE, native_id="6", handle="di", created_at=two_days_ago)
    store.ingest("x", [judged(praised)], None)  # a day of one praise post
    week = queries.series(store, days=7)
    assert week.net_sentiment[-3] == 100.0 and week.window_net_sentiment == 0.0


def test_a_day_of_only_own_posts_and_spam_has_no_net_sentiment(db_path: Path) -> None:
    clock = Clock()
    store = Store.open(db_path, clock=clock)
    store.ingest("x", five_posts(clock.now)[3:], None)
    assert queries.series(store, days=1).net_sentiment == [None]
    assert store.stats().net_sentiment is None


def test_earful_stats_says_what_net_sentiment_counts(tmp_path: Path) -> None:
    from click.testing import CliRunner

    posts = [
        x_post(1, "lumenet internet has been down since 6am", "ana"),
        x_post(2, "lumenet internet down again, useless", "bo"),
        x_post(3, "love lumenet, brilliant service, thank you", "cy"),
        x_post(4, "We're aware the lumenet app is down", "LumenetHelp"),
        x_post(5, "GIVEAWAY! RT to win a free lumenet router", "promo_bot"),
    ]
    config = write_config(tmp_path, posts)
    text = config.read_text().replace(
        'keywords = ["lumenet"]\n', 'keywords = ["lumenet"]\nhandles = { x = "LumenetHelp" }\n'
    )
    config.write_text(text, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["poll", "-c", str(config)]).exit_code == 0
    result = runner.invoke(cli, ["stats", "-c", str(config), "--json"])
    stats = json.loads(result.stdout)
    assert (stats["mentions"], stats["own_posts"], stats["spam"]) == (5, 1, 1)
    assert stats["net_sentiment"] == pytest.approx(-33.3)
    assert "UTC days" in " ".join(runner.invoke(cli, ["stats", "--help"]).stdout.split())
    out = runner.invoke(cli, ["stats", "-c", str(config)]).stdout
    assert "mentions: 5 (1 the brand's own posts, 1 spam)" in out
    assert "net sentiment: -33.3 (% praise - % complaints of the 3 posts by others" in out


# -- each platform's figures, all-time and over a window -------------------------------


def reddit_posts(at: datetime) -> list[Judged]:
    """On Reddit: two praise posts and a complaint by customers, and a spam."""
    return [
        judged(mention(PRAISE, platform="reddit", native_id="r1", handle="ed", created_at=at)),
        judged(mention(PRAISE, platform="reddit", native_id="r2", handle="fa", created_at=at)),
        judged(mention(COMPLAINT, platform="reddit", native_id="r3", handle="gu", created_at=at)),
        judged(mention(SPAM, platform="reddit", native_id="r4", handle="promo", created_at=at)),
    ]


def test_each_platform_has_its_own_net_sentiment_all_time_and_over_a_window(
    db_path: Path,
) -> None:
    clock = Clock()
    store = Store.open(db_path, clock=clock)
    store.ingest("x", five_posts(clock.now), None)
    store.ingest("reddit", reddit_posts(clock.now - timedelta(days=1)), None)
    # a month ago on Reddit: out of a week's window, in the all-time figures
    old = [
        judged(
            mention(
                COMPLAINT,
                platform="reddit",
                native_id="r0",
                handle="hu",
                created_at=clock.now - timedelta(days=30),
            )
        )
    ]
    store.ingest("reddit", old, None)
    everything = store.stats()
    assert everything.by_platform == {"reddit": 5, "x": 5}
    # X: (1 praise - 2 complaints) / 3 by others; Reddit: (2 - 2) / 4 (spam left out)
    assert everything.net_by_platform == {"reddit": 0.0, "x": pytest.approx(-33.3)}
    week = queries.series(store, days=7)
    assert week.by_platform == {"x": 5, "reddit": 4}  # most first
    # Reddit's week: (2 praise - 1 complaint) / 3 by others
    assert week.net_by_platform == {"x": pytest.approx(-33.3), "reddit": pytest.approx(33.3)}
    # the platforms add up to the window's figures
    assert sum(week.by_platform.values()) == week.mentions == 9


def test_a_week_the_window_cuts_says_how_many_of_its_days_count(db_path: Path) -> None:
    clock = Clock()  # Friday 2026-11-20: a week back is Saturday the 14th
    store = Store.open(db_path, clock=clock)
    week = queries.series(store, days=7)
    assert week.weeks == ("2026-11-09", "2026-11-16")
    assert week.week_days == [2, 5]  # Sat-Sun, then Mon-Fri
    assert queries.series(store, days=5).week_days == [5]


def test_earful_stats_shows_each_platforms_net_sentiment(tmp_path: Path) -> None:
    from click.testing import CliRunner

    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # in the window
    posts = [
        x_post(1, "lumenet internet has been down since 6am", "ana", created_at=today),
        x_post(2, "love lumenet, brilliant service, thank you", "cy", created_at=today),
        x_post(3, "love lumenet, brilliant, thank you so much", "di", created_at=today),
    ]
    config = write_config(tmp_path, posts)
    runner = CliRunner()
    assert runner.invoke(cli, ["poll", "-c", str(config)]).exit_code == 0
    for window in ([], ["--days", "7"]):
        out = runner.invoke(cli, ["stats", "-c", str(config), *window]).stdout
        assert "by platform: x 3 (net +33.3)" in out, out
        data = json.loads(
            runner.invoke(cli, ["stats", "-c", str(config), *window, "--json"]).stdout
        )
        assert data["by_platform"] == {"x": 3}
        assert data["net_by_platform"] == {"x": 33.3}


# -- finding: an undated post counts on the day it was fetched -----------------------


def test_an_undated_post_counts_on_the_day_it_was_fetched(db_path: Path) -> None:
    clock = Clock()
    store = Store.open(db_path, clock=clock)
    undated = dataclasses.replace(mention(PRAISE, native_id="rss-1"), created_at=None)
    store.ingest("rss", [judged(undated)], None)
    s = queries.series(store, days=1)
    assert s.mentions == store.stats().mentions == 1
    assert s.by_disposition["interesting_good"] == [1]


# -- migration 9: the roll-up learns what it did not count ---------------------------

_OWN_REASONS = json.dumps(
    [
        {"rule": "vader", "detail": "compound -0.400", "weight": -0.4},
        {"rule": "own_post", "detail": "posted by the brand's own @AcmeHelp", "weight": 0.0},
    ],
    separators=(",", ":"),  # as storage.db.dumps writes it
)
_PLAIN_REASONS = json.dumps(
    [{"rule": "vader", "detail": "own_post", "weight": 0.1}], separators=(",", ":")
)


def test_migration_9_counts_own_posts_spam_and_undated_posts_already_stored(
    db_path: Path,
) -> None:
    conn = at_version(db_path, 8)
    day, fetched = "2026-11-20T09:00:00.000Z", "2026-11-22T10:00:00.000Z"
    posts = [
        # id, created_at, disposition, labels, reasons
        (1, day, "interesting_bad", '["outage"]', _PLAIN_REASONS),
        (2, day, "ignore", "[]", _OWN_REASONS),
        (3, day, "ignore", '["spam"]', _PLAIN_REASONS),
        (4, None, "interesting_good", "[]", _PLAIN_REASONS),
        (5, None, "ignore", '["spam"]', _PLAIN_REASONS),
    ]
    for id_, created, disposition, labels, reasons in posts:
        conn.execute(
            "INSERT INTO mentions (id, platform, native_id, source, text, created_at, "
            "fetched_at) VALUES (?, 'x', ?, 'x', 'text', ?, ?)",
            (id_, str(id_), created, fetched),
        )
        conn.execute(
            "INSERT INTO verdicts VALUES (?, ?, 0, 0, ?, NULL, 1, 1, NULL, '[]', ?, NULL)",
            (id_, disposition, labels, reasons),
        )
    # the roll-up as v8 kept it: dated posts only, and three ignored posts on the
    # 19th whose mentions were pruned since
    conn.executemany(
        "INSERT INTO mention_days (day, disposition, topic, mentions) VALUES (?, ?, '', ?)",
        [
            ("2026-11-20", "interesting_bad", 1),
            ("2026-11-20", "ignore", 2),
            ("2026-11-19", "ignore", 3),
        ],
    )
    conn.execute("INSERT INTO praise (mention_id) VALUES (4)")
    conn.close()
    with Store.open(db_path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 9
        wall = s.conn.execute("SELECT mention_id, posted_at FROM praise").fetchall()
        assert [tuple(r) for r in wall] == [(4, fetched)]  # undated: when it was fetched
        rows = s.conn.execute(
            "SELECT day, disposition, mentions, own, spam FROM mention_days ORDER BY 1, 2"
        ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("2026-11-19", "ignore", 3, 0, 0),  # pruned: still counted, as others'
        ("2026-11-20", "ignore", 2, 1, 1),
        ("2026-11-20", "interesting_bad", 1, 0, 0),
        ("2026-11-22", "ignore", 1, 0, 1),
        ("2026-11-22", "interesting_good", 1, 0, 0),
    ]


def test_migration_10_counts_each_platform_and_keeps_what_was_pruned(db_path: Path) -> None:
    conn = at_version(db_path, 9)
    day, fetched = "2026-11-20T09:00:00.000Z", "2026-11-22T10:00:00.000Z"
    posts = [
        # id, platform, created_at, disposition, labels, reasons
        (1, "x", day, "interesting_bad", "[]", _PLAIN_REASONS),
        (2, "reddit", day, "interesting_bad", "[]", _PLAIN_REASONS),
        (3, "reddit", day, "ignore", '["spam"]', _PLAIN_REASONS),
        (4, "x", day, "ignore", "[]", _OWN_REASONS),
        (5, "rss", None, "interesting_good", "[]", _PLAIN_REASONS),
    ]
    for id_, platform, created, disposition, labels, reasons in posts:
        conn.execute(
            "INSERT INTO mentions (id, platform, native_id, source, text, created_at, "
            "fetched_at) VALUES (?, ?, ?, 'src', 'text', ?, ?)",
            (id_, platform, str(id_), created, fetched),
        )
        conn.execute(
            "INSERT INTO verdicts VALUES (?, ?, 0, 0, ?, NULL, 1, 1, NULL, '[]', ?, NULL)",
            (id_, disposition, labels, reasons),
        )
    # the roll-up as v9 kept it, counting too a complaint and an own post pruned since
    conn.executemany(
        "INSERT INTO mention_days (day, disposition, topic, mentions, own, spam) "
        "VALUES (?, ?, '', ?, ?, ?)",
        [
            ("2026-11-20", "interesting_bad", 3, 0, 0),
            ("2026-11-20", "ignore", 3, 2, 1),
            ("2026-11-22", "interesting_good", 1, 0, 0),
        ],
    )
    conn.close()
    clock = Clock()
    clock.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    with Store.open(db_path, clock=clock) as s:
        window = queries.series(s, days=7)
        rows = s.conn.execute(
            "SELECT day, disposition, platform, mentions, own, spam FROM mention_days "
            "ORDER BY 1, 2, 3"
        ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("2026-11-20", "ignore", "", 1, 1, 0),  # pruned: still counted, platform unknown
        ("2026-11-20", "ignore", "reddit", 1, 0, 1),
        ("2026-11-20", "ignore", "x", 1, 1, 0),
        ("2026-11-20", "interesting_bad", "", 1, 0, 0),
        ("2026-11-20", "interesting_bad", "reddit", 1, 0, 0),
        ("2026-11-20", "interesting_bad", "x", 1, 0, 0),
        ("2026-11-22", "interesting_good", "rss", 1, 0, 0),  # undated: the day fetched
    ]
    assert window.by_platform == {"reddit": 2, "unknown": 2, "x": 2, "rss": 1}
    assert window.mentions == 7


# -- finding: time to first reply is support's answer to a complaint -----------------


def question(asked: Mention) -> Judged:
    """A question and the answer drafted to it."""
    return Judged(
        asked,
        verdict(Disposition.QUESTION, topic=None),
        (Draft(DraftKind.REPLY, "Hold the button for 10s.", asked.key, "question"),),
    )


def send(store: Store, reply_id: int) -> None:
    """Approved and sent (as a dry run marks it) at the store clock's time."""
    store.approve(reply_id, "alice")
    store.claim_for_posting(dry_run=True)
    store.mark_sent(reply_id, posted_id=None)


def answered_three_ways(store: Store, clock: Clock) -> None:
    """A complaint answered in an hour, a question in ten, a praise thanked in 5 days."""
    posted = clock.now
    asked = mention("how do I reset my router?", native_id="q", handle="qi", created_at=posted)
    store.ingest(
        "x",
        [
            complaint(mention(native_id="c", handle="ana", created_at=posted), callback=False),
            question(asked),
            praise(mention("love it", native_id="p", handle="cy", created_at=posted)),
        ],
        None,
    )
    by_post = {store.reply(r.id).mention_id: r.id for r in store.replies()}
    for mention_id, after in (
        (1, timedelta(hours=1)),
        (2, timedelta(hours=10)),
        (3, timedelta(days=5)),
    ):
        clock.now = posted + after
        send(store, by_post[mention_id])


def test_time_to_first_reply_is_to_complaints_and_thanks_are_timed_apart(db_path: Path) -> None:
    clock = Clock()
    store = Store.open(db_path, clock=clock)
    answered_three_ways(store, clock)
    s = store.stats()
    # all three together were a median of 10 hours, over 3 cases
    assert (s.median_first_reply_seconds, s.replied_cases) == (3600.0, 1)
    assert (s.median_first_thanks_seconds, s.thanked_cases) == (5 * 86400.0, 1)
    c = queries.series(store, days=30)
    assert (c.median_first_reply_seconds, c.replied_cases) == (3600.0, 1)
    assert (c.median_first_thanks_seconds, c.thanked_cases) == (5 * 86400.0, 1)
    assert [w for w in c.first_reply_by_week if w is not None] == [3600.0]
    # a window ending before the thank-you was sent has the reply, not the thank-you
    ended = queries.series(store, days=30, until=(clock.now - timedelta(days=1)).date())
    assert (ended.replied_cases, ended.thanked_cases) == (1, 0)
    assert ended.mentions == 3


def test_a_thread_that_turns_into_a_complaint_is_timed_from_the_complaint(
    db_path: Path,
) -> None:
    # a question answered in an hour; a week later, in the same thread, a complaint
    clock = Clock()
    store = Store.open(db_path, clock=clock)
    asked_at = clock.now
    asked = mention("how do I reset it?", native_id="q", conversation_id="t", created_at=asked_at)
    store.ingest("x", [question(asked)], None)
    (answer,) = store.replies()
    clock.now = asked_at + timedelta(hours=1)
    send(store, answer.id)
    complained_at = asked_at + timedelta(days=7)
    clock.now = complained_at
    later = mention(
        "still broken, useless", native_id="c", conversation_id="t", created_at=complained_at
    )
    store.ingest("x", [complaint(later, callback=False)], None)
    (reply,) = [r for r in store.replies() if r.id != answer.id]
    assert store.reply(reply.id).case_id == store.reply(answer.id).case_id  # one case
    # the complaint is not answered: the question's answer is not its reply
    s = store.stats()
    assert (s.median_first_reply_seconds, s.replied_cases) == (None, 0)
    assert queries.series(store, days=30).replied_cases == 0
    clock.now = complained_at + timedelta(hours=2)
    send(store, reply.id)
    # two hours from the complaint, not a week from the question
    s = store.stats()
    assert (s.median_first_reply_seconds, s.replied_cases) == (7200.0, 1)
    c = queries.series(store, days=30)
    assert (c.median_first_reply_seconds, c.replied_cases) == (7200.0, 1)


def test_first_reply_times_and_handle_searches_read_by_index_without_table_statistics(
    db_path: Path,
) -> None:
    # no ANALYZE figures (a new database, or cron without the daemon's hourly tidy):
    # the first complaint of each case was found by walking every complaint's verdict
    store = Store.open(db_path)
    assert not store.conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).fetchall()

    def plan(sql: str, params: tuple[object, ...] = ()) -> str:
        return "\n".join(r[-1] for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql, params))

    waits = plan(
        f"SELECT julianday({FIRST_ASKED}) FROM replies r WHERE r.status = 'sent' "
        f"AND {first_sent('r')}"
    )
    lines = waits.splitlines()
    assert [line for line in lines if line.startswith(("SEARCH m ", "SCAN m"))] == [
        "SEARCH m USING INDEX mentions_case (case_id=?)"
    ]
    # each of those posts' verdict by its key, not every complaint's
    assert any(line.startswith("SEARCH v ") and "rowid=?" in line for line in lines)
    assert not [line for line in lines if line.startswith("SCAN")]
    handle = plan(
        "SELECT * FROM mentions WHERE author_handle = CAST(? AS TEXT) COLLATE NOCASE", ("ana",)
    )
    assert "USING INDEX mentions_handle" in handle


def test_the_team_report_counts_each_persons_open_work_through_the_cases_index(
    db_path: Path,
) -> None:
    # each person's drafts and tasks were counted by walking every case again for
    # each of them (with no index on the assignee): a year of cases times the team
    store = Store.open(db_path)
    store.ingest("x", [complaint(mention(f"{h}: down", native_id=h, handle=h)) for h in "ab"], None)
    store.add_user("alice", "agent", None, actor="admin")
    for r in store.replies():
        assert r.case_id is not None
        store.assign_case(r.case_id, "admin", "alice")
    (alice,) = queries.team(store)
    assert (alice.open_cases, alice.pending_drafts, alice.open_callbacks) == (2, 2, 2)
    plan = [r[-1] for r in store.conn.execute("EXPLAIN QUERY PLAN " + queries._HELD)]
    # the open cases once (their assignee index since schema v13); each one's drafts
    # and tasks by its key
    assert [line.split()[1] for line in plan if line.startswith("SCAN")] in ([], ["k"]), plan
    assert sum(line.startswith(("SCAN k", "SEARCH k")) for line in plan) == 1, plan
    assert "SEARCH r USING INDEX replies_case (case_id=?)" in plan
    assert "SEARCH t USING INDEX callbacks_case (case_id=?)" in plan


def test_replies_exported_since_a_day_are_those_drafted_or_sent_from_it(db_path: Path) -> None:
    clock = Clock()
    store = Store.open(db_path, clock=clock)
    start = clock.now
    store.ingest("x", [complaint(mention(native_id="old", created_at=start), callback=False)], None)
    clock.now = start + timedelta(days=2)
    store.ingest("x", [complaint(mention(native_id="new", handle="bo"), callback=False)], None)
    old, new = (r.id for r in store.replies())
    clock.now = start + timedelta(days=5)
    send(store, old)  # drafted on day 0, sent on day 5

    def since(days: int) -> list[int]:
        columns, rows = store.export("replies", since=(start + timedelta(days=days)).date())
        return [dict(zip(columns, row, strict=True))["id"] for row in rows]

    assert since(1) == [old, new]  # drafted on day 2, sent on day 5
    assert since(3) == [old]  # sent in the week, though drafted before it
    assert since(6) == []

    def between(first: int, last: int) -> list[int]:
        columns, rows = store.export(
            "replies",
            since=(start + timedelta(days=first)).date(),
            until=(start + timedelta(days=last)).date(),
        )
        return [dict(zip(columns, row, strict=True))["id"] for row in rows]

    # a week's report: drafted or sent in its days, not drafted before and sent after
    assert between(1, 3) == [new]
    assert between(0, 0) == [old] and between(5, 5) == [old]
    assert between(2, 5) == [old, new]


# -- finding: the praise wall is newest first by the post's own time -----------------


def test_the_praise_wall_is_in_the_order_the_posts_were_written(db_path: Path) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    store = Store.open(db_path, clock=clock)
    new = mention(
        "love it", native_id="new", handle="a", created_at=datetime(2026, 11, 30, tzinfo=UTC)
    )
    old = mention(
        "love it", native_id="old", handle="b", created_at=datetime(2026, 11, 24, tzinfo=UTC)
    )
    undated = dataclasses.replace(mention("love it", native_id="rss", handle="c"), created_at=None)
    store.ingest("x", [praise(new)], None)
    store.ingest("x", [praise(old)], None)  # a backfill: an older post stored later
    store.ingest("rss", [praise(undated)], None)  # fetched on the 27th
    wall = queries.praise_wall(store, starred_only=False, limit=10, offset=0)
    assert [p.mention_id for p in wall] == [1, 3, 2]
    store.star_praise(1, "vera")
    store.star_praise(2, "vera")
    starred = queries.praise_wall(store, starred_only=True, limit=10, offset=0)
    assert [p.mention_id for p in starred] == [1, 2]
    assert [
        p.mention_id for p in queries.praise_wall(store, starred_only=False, limit=1, offset=1)
    ] == [3]


# -- finding: an export has each post's date and the link to the brand's reply --------


def exported(store: Store, kind: str) -> list[dict[str, object]]:
    columns, rows = store.export(kind)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_an_undated_post_exports_when_it_was_fetched_the_day_since_goes_by(
    db_path: Path,
) -> None:
    # a feed entry without a date: the praise wall shows when it was fetched and
    # --since goes by that, so the export must carry it or the row has no date at all
    clock = Clock()
    store = Store.open(db_path, clock=clock)
    undated = dataclasses.replace(mention(PRAISE, native_id="rss", handle="c"), created_at=None)
    store.ingest("rss", [praise(undated)], None)
    fetched = store.mention(1).fetched_at
    assert fetched is not None and fetched.startswith("2026-11-20")
    for kind in ("mentions", "praise"):
        (row,) = exported(store, kind)
        assert (row["created_at"], row["fetched_at"]) == (None, fetched)
        assert "fetched_at" in list(row)[-3:]  # added last: columns read by position stay


def test_praise_exports_who_starred_it_and_when(db_path: Path) -> None:
    # a testimonial programme keeps who cleared each quote for use: the wall shows it
    clock = Clock()
    store = Store.open(db_path, clock=clock)
    store.ingest("x", [praise(mention(PRAISE, native_id="1"))], None)
    store.star_praise(1, "vera")
    (row,) = exported(store, "praise")
    assert (row["starred"], row["starred_by"], row["starred_at"]) == (
        True,
        "vera",
        "2026-11-20T12:00:00.000Z",
    )


def test_a_sent_reply_exports_the_link_to_it_as_posted(db_path: Path) -> None:
    store = Store.open(db_path, clock=Clock())
    store.ingest("x", [complaint(mention(COMPLAINT, native_id="1"), callback=False)], None)
    (reply,) = store.replies()
    store.approve(reply.id, "alice")
    store.claim_for_posting(dry_run=False)
    link = "https://x.com/AcmeHelp/status/99"
    store.mark_sent(reply.id, posted_id="99", posted_url=link)
    (row,) = exported(store, "replies")
    assert (row["posted_id"], row["posted_url"]) == ("99", link)
    assert list(row)[-1] == "posted_url"
