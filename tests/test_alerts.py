"""Escalation alerts reach a Slack-compatible webhook once: urgent complaints go in
through the real pipeline (replay source, rules, responders, SQLite), and an
aiohttp.web receiver on 127.0.0.1 plays the webhook and records what arrives."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import factories
import pytest
import sqlite_utils
from aiohttp import web
from click.testing import CliRunner

from earful.alerts import ALERT_ID_HEADER, deliver_due, reconcile_alerts
from earful.app import build_runtime, source_context
from earful.cli import cli
from earful.config import Config, ConfigError, EscalationConfig, load_config
from earful.daemon import Daemon
from earful.http import SharedSession
from earful.pipeline import build_stages, poll
from earful.slack import REASONS_SHOWN, SECTION_LIMIT, clipped, escape
from earful.sources import build_source
from responders.drafts import Draft, DraftKind
from responders.escalation import person_escalation
from storage.db import connect, shown_time
from storage.records import Judged
from storage.schema import MIGRATIONS, SCHEMA_VERSION
from storage.store import Store, StoreError

SECRET = "T0000/B0000/s3cr3tXYZtoken"
URGENT = "Acme internet down AGAIN!!! been on hold 2 hours, cancel my account"
PRAISE = "love my new acme router, thanks for the quick install!"
HOSTILE = (
    URGENT
    + " <!channel> <!here> <@U024BE7LH> <script>alert(1)</script> & "
    + "<https://evil.example/login|Acme support> `code` *bold*\x07\u202e"
)


# -- the receiver ---------------------------------------------------------------------


@dataclass
class Receiver:
    """Answers each POST with the next scripted reply: (status, body, headers), or
    "hang" to never answer. Past the script it answers 200 "ok" as Slack does."""

    url: str = ""
    script: list[Any] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            {
                "path": request.path,
                "headers": dict(request.headers),
                "json": json.loads(await request.text()),
            }
        )
        self.arrived.set()
        reply = self.script.pop(0) if self.script else (200, "ok", {})
        if reply == "hang":
            await self.release.wait()
            reply = (200, "ok", {})
        status, body, headers = reply
        return web.Response(status=status, text=body, headers=headers)

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()
    app = web.Application()
    app.router.add_post("/services/{secret:.*}", got.handle)
    # no access log: it is the fake receiver's, and would print the secret path
    runner = web.AppRunner(app, shutdown_timeout=1, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    got.url = f"http://127.0.0.1:{port}/services/{SECRET}"
    yield got
    got.release.set()
    await runner.cleanup()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


# -- config and the pipeline ------------------------------------------------------------


def x_post(
    n: int, text: str, handle: str = "ana", *, conversation: str | None = None
) -> dict[str, Any]:
    tweet_id = str(2124000000000000000 + n)
    tweet = {
        "id": tweet_id,
        "text": text,
        "author_id": f"u{n}",
        "created_at": "2026-11-24T11:00:00.000Z",
        "conversation_id": conversation or tweet_id,
    }
    users = [
        {
            "id": f"u{n}",
            "username": handle,
            "name": "Ana Lima",
            "public_metrics": {"followers_count": 1234},
        }
    ]
    return {"platform": "x", "post": {"data": tweet, "includes": {"users": users}}}


def write_config(
    tmp_path: Path,
    posts: list[dict[str, Any]],
    escalation: str = "",
    *,
    sources: int = 1,
) -> Path:
    (tmp_path / "mentions.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8"
    )
    tables = "".join(
        f'[[sources]]\nname = "replay{i}"\ntype = "replay"\npath = "mentions.jsonl"\nbatch = 50\n'
        for i in range(sources)
    )
    path = tmp_path / "earful.toml"
    path.write_text(
        '[brand]\nname = "Acme"\nkeywords = ["acme"]\n\n'
        + tables
        + "\n[responders]\nescalate_at = 60\n\n[escalation]\n"
        + escalation,
        encoding="utf-8",
    )
    return path


def load(path: Path, receiver: Receiver | None = None, **env: str) -> Config:
    if receiver is not None:
        env.setdefault("TEST_WEBHOOK", receiver.url)
    return load_config(path, env=env)


def settings(extra: str = "") -> str:
    """The [escalation] keys every test uses, with `extra` lines overriding them."""
    keys = {"webhook_url": '"${TEST_WEBHOOK}"', "retry_after": '"30s"', "timeout": '"5s"'}
    for line in extra.splitlines():
        key, value = line.split(" = ", 1)
        keys[key] = value
    return "".join(f"{k} = {v}\n" for k, v in keys.items())


async def ingest(config: Config, store: Store) -> None:
    """Poll every configured source once through the real pipeline."""
    stages = build_stages(config)
    http = SharedSession()
    try:
        for s in config.sources:
            source = build_source(s, source_context(config, http))
            await poll(source, store, stages)
            await source.aclose()
    finally:
        await http.aclose()


@dataclass
class World:
    """A config, a store on a clock the test moves, the receiver and a session."""

    tmp_path: Path
    receiver: Receiver
    session: aiohttp.ClientSession
    clock: Clock = field(default_factory=Clock)
    stores: list[Store] = field(default_factory=list)

    async def start(
        self,
        posts: list[dict[str, Any]],
        extra: str = "",
        *,
        sources: int = 1,
        url: str | None = None,
    ) -> tuple[Config, Store]:
        """Write the config, open the store, ingest the posts."""
        path = write_config(self.tmp_path, posts, settings(extra), sources=sources)
        config = load_config(path, env={"TEST_WEBHOOK": url or self.receiver.url})
        store = Store.open(config.db_path, clock=self.clock)
        self.stores.append(store)
        await ingest(config, store)
        return config, store

    async def urgent(self, extra: str = "") -> tuple[Config, Store]:
        """One urgent complaint, its alert pending."""
        config, store = await self.start([x_post(1, URGENT)], extra)
        assert [a.status for a in store.alert_list()] == ["pending"]
        return config, store

    async def deliver(self, config: Config, store: Store) -> dict[str, int]:
        return (await deliver_due(store, config.escalation, self.session)).outcomes


@pytest.fixture
async def world(tmp_path: Path, receiver: Receiver) -> AsyncIterator[World]:
    async with aiohttp.ClientSession() as session:
        w = World(tmp_path, receiver, session)
        yield w
        for store in w.stores:
            store.close()


# -- delivery ----------------------------------------------------------------------------


async def test_an_urgent_complaint_reaches_the_webhook_once_with_the_expected_json(
    world: World,
) -> None:
    config, store = await world.start([x_post(1, URGENT), x_post(2, PRAISE, handle="bo")])

    first = await world.deliver(config, store)
    again = await world.deliver(config, store)

    assert (first, again) == ({"sent": 1}, {})
    (request,) = world.receiver.requests
    assert request["path"] == f"/services/{SECRET}"
    assert len(request["headers"][ALERT_ID_HEADER]) == 32
    (alert,) = store.alert_list()
    assert (alert.status, alert.attempts, alert.sent_at) == ("sent", 1, "2026-11-24T12:00:00.000Z")
    verdict = store.verdict(alert.mention_id)
    assert verdict.urgency >= 60

    message = request["json"]
    assert set(message) == {"text", "blocks", "unfurl_links", "unfurl_media"}
    assert message["text"].startswith(f"Urgent ({verdict.urgency}/100)")
    assert "@ana" in message["text"]
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["header", "section", "section", "section", "context"]
    header, facts, post, why, context = message["blocks"]
    assert header["text"] == {
        "type": "plain_text",
        "text": f"Urgent {verdict.topic} on X · urgency {verdict.urgency}/100",
    }
    assert [f["text"] for f in facts["fields"]] == [
        "*Platform*\nX",
        "*Author*\n@ana (Ana Lima) · 1,234 followers",
        f"*Urgency*\n{verdict.urgency}/100",
        f"*Topic*\n{verdict.topic}",
    ]
    assert post["text"] == {"type": "mrkdwn", "text": "> " + URGENT}
    assert why["text"]["text"].startswith(f"*Why*\n• urgency {verdict.urgency} &gt;= 60\n")
    shown = verdict.reasons[:REASONS_SHOWN]
    for reason in shown:
        assert f"• {reason['rule']}: " in why["text"]["text"]
    if len(verdict.reasons) > REASONS_SHOWN:
        assert f"• and {len(verdict.reasons) - REASONS_SHOWN} more" in why["text"]["text"]
    permalink = f"https://x.com/ana/status/{2124000000000000001}"
    assert context["elements"][0]["text"] == f"<{permalink}|Open the post> · Earful alert 1"


async def test_a_500_is_retried_after_the_backoff_and_delivered_once(world: World) -> None:
    config, store = await world.urgent()
    world.receiver.script = [(500, "rollup_error", {})]

    first = await world.deliver(config, store)
    waiting = store.alert(1)
    world.clock.advance(29)
    too_soon = await world.deliver(config, store)
    world.clock.advance(1)
    second = await world.deliver(config, store)

    assert (first, too_soon, second) == ({"retry": 1}, {}, {"sent": 1})
    assert (waiting.status, waiting.last_error) == ("pending", "HTTP 500: rollup_error")
    assert waiting.next_attempt_at == "2026-11-24T12:00:30.000Z"
    payloads = world.receiver.payloads
    assert len(payloads) == 2 and payloads[0] == payloads[1]
    alert = store.alert(1)
    assert (alert.status, alert.attempts, alert.last_error) == ("sent", 2, None)


async def test_while_the_receiver_is_down_only_the_failed_alert_is_tried(world: World) -> None:
    # Slack down during an outage: one alert finds out when it is back, the others
    # keep their attempts instead of each failing in turn
    posts = [x_post(1, URGENT), x_post(2, URGENT, handle="bo"), x_post(3, URGENT, handle="cy")]
    config, store = await world.start(posts)
    world.receiver.script = [(503, "service_unavailable", {})] * 2

    outcomes = [await world.deliver(config, store)]
    for seconds in (15, 15, 15, 45):  # the daemon's rounds; retries at 30 s, then 60 s more
        world.clock.advance(seconds)
        outcomes.append(await world.deliver(config, store))

    assert outcomes == [{"retry": 1}, {}, {"retry": 1}, {}, {"sent": 3}]
    assert len(world.receiver.requests) == 5
    assert sorted(a.attempts for a in store.alert_list("sent")) == [1, 1, 3]


async def test_persistent_failure_ends_failed_after_max_attempts_with_the_reason(
    world: World,
) -> None:
    config, store = await world.urgent("max_attempts = 3")
    world.receiver.script = [(503, "service_unavailable", {})] * 10
    outcomes = []
    for _ in range(6):
        outcomes.append(await world.deliver(config, store))
        world.clock.advance(3600)

    assert outcomes == [{"retry": 1}, {"retry": 1}, {"failed": 1}, {}, {}, {}]
    assert len(world.receiver.requests) == 3
    alert = store.alert(1)
    assert (alert.status, alert.attempts) == ("failed", 3)
    assert alert.last_error == "HTTP 503: service_unavailable"


async def test_a_gateways_error_page_is_named_not_quoted(world: World) -> None:
    config, store = await world.urgent()
    page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>" + "x" * 600
    world.receiver.script = [(502, page, {})]  # served as text/plain

    await world.deliver(config, store)

    assert store.alert(1).last_error == "HTTP 502: an HTML error page: 502 Bad Gateway"


async def test_backoff_doubles_and_honours_retry_after(world: World) -> None:
    config, store = await world.urgent()
    world.receiver.script = [(502, "", {}), (429, "rate_limited", {"Retry-After": "600"})]

    await world.deliver(config, store)
    world.clock.advance(30)
    await world.deliver(config, store)

    alert = store.alert(1)
    assert alert.last_error == "HTTP 429: rate_limited"
    # 30s then 60s of our own backoff, but the receiver asked for 600s
    assert alert.next_attempt_at == "2026-11-24T12:10:30.000Z"


@pytest.mark.parametrize(
    ("status", "said"),
    [(403, "invalid_token"), (404, "no_service"), (410, "channel_is_archived"), (302, "")],
)
async def test_a_refusal_fails_at_once_with_the_receivers_reason(
    world: World, status: int, said: str
) -> None:
    config, store = await world.urgent()
    world.receiver.script = [(status, said, {"Location": "http://127.0.0.1:1/elsewhere"})]

    assert await world.deliver(config, store) == {"failed": 1}
    alert = store.alert(1)
    assert (alert.status, alert.last_error) == (
        "failed",
        f"HTTP {status}: {said or '(no reason given)'}",
    )
    assert len(world.receiver.requests) == 1


async def test_a_timeout_leaves_the_alert_unknown_and_never_resends_it(world: World) -> None:
    config, store = await world.urgent('timeout = "200ms"')
    world.receiver.script = ["hang"]

    first = await world.deliver(config, store)
    world.clock.advance(3600)
    later = await world.deliver(config, store)

    assert (first, later) == ({"unknown": 1}, {})
    assert len(world.receiver.requests) == 1
    alert = store.alert(1)
    assert alert.status == "unknown"
    assert alert.last_error is not None
    assert alert.last_error.startswith("no answer within 0.2s; it may have been delivered")
    assert "earful alerts mark-sent 1" in alert.last_error


async def test_a_timeout_is_retried_when_the_receiver_drops_duplicates(world: World) -> None:
    # a second's timeout: the retry's "ok" must come back within it on a busy machine
    config, store = await world.urgent('timeout = "1s"\nreceiver_dedupes = true')
    world.receiver.script = ["hang"]

    first = await world.deliver(config, store)
    world.clock.advance(30)
    second = await world.deliver(config, store)

    assert (first, second) == ({"retry": 1}, {"sent": 1})
    keys = {r["headers"][ALERT_ID_HEADER] for r in world.receiver.requests}
    assert len(world.receiver.requests) == 2 and len(keys) == 1


async def test_an_unreachable_receiver_is_retried(world: World) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/{SECRET}"
    config, store = await world.start([x_post(1, URGENT)], url=url)

    assert await world.deliver(config, store) == {"retry": 1}
    alert = store.alert(1)
    assert alert.status == "pending"
    assert alert.last_error is not None
    assert alert.last_error.startswith(f"cannot connect: Cannot connect to host 127.0.0.1:{port}")
    assert SECRET not in alert.last_error


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A webhook host whose handshake never completes: a listening socket whose
    queue is full, so later connections are never answered (a firewall dropping
    packets, a dead route)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)  # never accepted
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}/services/{SECRET}"
    for filler in fillers:
        filler.close()
    server.close()


async def test_a_receiver_that_never_answers_the_connection_is_retried(
    world: World, black_hole: str
) -> None:
    # The request never left: retried, not `unknown` for a person as a timeout
    # after sending is; the round stops there instead of waiting on every alert.
    config, store = await world.start(
        [x_post(1, URGENT, handle="ana"), x_post(2, URGENT, handle="bo")],
        'timeout = "2s"',
        url=black_hole,
    )
    assert await world.deliver(config, store) == {"retry": 1}
    assert [a.status for a in store.alert_list()] == ["pending", "pending"]
    (tried,) = [a for a in store.alert_list() if a.last_error is not None]
    assert tried.attempts == 1 and "connect" in (tried.last_error or "")


async def test_a_second_poll_of_the_same_mention_raises_no_second_alert(world: World) -> None:
    # Two sources that see the same post (a search and a mentions feed, say).
    config, store = await world.start([x_post(1, URGENT)], sources=2)
    await world.deliver(config, store)
    # both sources again, from the top of a rewritten file
    (world.tmp_path / "mentions.jsonl").write_text(json.dumps(x_post(1, URGENT)) + "\n")
    await ingest(config, store)
    await world.deliver(config, store)

    assert len(world.receiver.requests) == 1
    assert [a.status for a in store.alert_list()] == ["sent"]


async def test_a_crash_while_sending_leaves_the_alert_unknown_at_start_up(world: World) -> None:
    config, store = await world.urgent()
    claimed = store.claim_alert()  # ... and the process dies before the answer
    assert claimed is not None and claimed.status == "sending"

    settled = reconcile_alerts(store, config.escalation)

    assert settled.outcomes == {"unknown": 1}
    assert await world.deliver(config, store) == {}
    assert world.receiver.requests == []
    alert = store.alert(1)
    assert alert.status == "unknown"
    assert alert.last_error is not None
    assert alert.last_error.startswith("found in sending at start-up")


async def test_a_crash_while_sending_is_resent_to_a_deduplicating_receiver(
    world: World,
) -> None:
    config, store = await world.urgent("receiver_dedupes = true")
    store.claim_alert()

    settled = reconcile_alerts(store, config.escalation)

    assert settled.outcomes == {"released": 1}
    assert await world.deliver(config, store) == {"sent": 1}
    assert store.alert(1).attempts == 2


async def test_alerts_below_min_urgency_are_skipped_not_sent(world: World) -> None:
    config, store = await world.urgent("min_urgency = 100")
    urgency = store.alert(1).urgency
    assert urgency < 100

    assert await world.deliver(config, store) == {"skipped": 1}
    assert world.receiver.requests == []
    alert = store.alert(1)
    assert (alert.status, alert.last_error) == (
        "skipped",
        f"urgency {urgency} below escalation.min_urgency 100",
    )
    store.retry_alert(1, "lead")  # a person decides it should go after all
    assert store.alert(1).status == "pending"


async def test_a_skipped_alert_a_person_sends_again_is_sent(world: World) -> None:
    config, store = await world.urgent("min_urgency = 100")
    assert await world.deliver(config, store) == {"skipped": 1}

    store.retry_alert(1, "lead")  # "Send again": the person wants it in the channel

    assert await world.deliver(config, store) == {"sent": 1}
    assert len(world.receiver.requests) == 1
    assert store.alert(1).status == "sent"


async def test_a_second_alert_of_a_case_a_person_sends_again_is_sent(world: World) -> None:
    thread = "2124000000000000001"
    posts = [x_post(n, URGENT + "!" * n, conversation=thread) for n in (1, 2)]
    config, store = await world.start(posts)
    assert await world.deliver(config, store) == {"sent": 1, "skipped": 1}
    (skipped,) = store.alert_list("skipped")

    store.retry_alert(skipped.id, "lead")

    assert await world.deliver(config, store) == {"sent": 1}
    assert store.alert(skipped.id).status == "sent"


async def test_a_case_a_person_escalates_alerts_whatever_its_urgency(world: World) -> None:
    config, store = await world.start(
        [x_post(1, "@LumenetHelp my bill is wrong this month, charged twice")], "min_urgency = 100"
    )
    assert store.alert_list() == []  # nothing Earful itself would alert on
    case = store.case(1)
    text = person_escalation(
        case_id=case.id,
        urgency=case.urgency,
        platform="x",
        author=case.author_handle,
        url="https://x.com/p/1",
        actor="alice",
        note="a journalist is asking",
    )
    store.escalate_case(case.id, "alice", note="a journalist is asking", alert=text)

    assert await world.deliver(config, store) == {"sent": 1}
    (request,) = world.receiver.requests
    said = json.dumps(request)
    assert "Escalated by alice" in said and "Why: a journalist is asking" in said
    assert store.alert(1).status == "sent"


async def test_one_alert_per_case_not_one_per_angry_post(world: World) -> None:
    thread = "2124000000000000001"
    posts = [x_post(n, URGENT + "!" * n, conversation=thread) for n in (1, 2, 3)]
    posts.append(x_post(4, URGENT, handle="bo"))  # someone else: a case of their own
    config, store = await world.start(posts)

    outcomes = await world.deliver(config, store)

    assert outcomes == {"sent": 2, "skipped": 2}
    assert len(world.receiver.requests) == 2
    skipped = store.alert_list("skipped")
    assert {a.author_handle for a in skipped} == {"ana"}
    assert all(
        a.last_error is not None and a.last_error.startswith("case 1 already escalated by alert ")
        for a in skipped
    )


async def test_one_alert_per_author_while_their_alerted_case_is_open(world: World) -> None:
    # an outage: a key customer posts again and again, each tweet a case of its own
    posts = [x_post(n, URGENT + "!" * n) for n in (1, 2, 3)]
    posts.append(x_post(4, URGENT, handle="bo"))  # someone else is news
    config, store = await world.start(posts)

    outcomes = await world.deliver(config, store)

    assert outcomes == {"sent": 2, "skipped": 2}
    assert len({a.case_id for a in store.alert_list("skipped")}) == 2  # not one case
    first = store.alert_list("sent")[-1]
    assert first.author_handle == "ana"
    assert {a.last_error for a in store.alert_list("skipped")} == {
        f"@ana on X already escalated by alert {first.id}, as urgent or more, "
        "in a case not resolved"
    }


async def test_an_alerted_authors_more_urgent_post_alerts_again(world: World) -> None:
    # a grumble paged the channel; the same customer's churn threat is news again,
    # while one no worse than what went out is not
    posts = [x_post(1, "Acme internet down AGAIN!!! been on hold 2 hours")]
    config, store = await world.start(posts)
    assert await world.deliver(config, store) == {"sent": 1}
    with (world.tmp_path / "mentions.jsonl").open("a", encoding="utf-8") as file:
        file.write(json.dumps(x_post(2, URGENT)) + "\n")
        file.write(json.dumps(x_post(3, "Acme internet down AGAIN!!! on hold 2 hours")) + "\n")
    await ingest(config, store)

    assert await world.deliver(config, store) == {"sent": 1, "skipped": 1}
    (second,) = [a for a in store.alert_list("sent") if a.id != 1]
    assert store.mention(second.mention_id).text == URGENT


async def test_an_author_alerts_again_once_their_alerted_case_is_resolved(world: World) -> None:
    config, store = await world.urgent()
    assert await world.deliver(config, store) == {"sent": 1}
    case_id = store.alert(1).case_id
    assert case_id is not None
    store.resolve_case(case_id, "lead")
    with (world.tmp_path / "mentions.jsonl").open("a", encoding="utf-8") as file:
        file.write(json.dumps(x_post(2, URGENT)) + "\n")  # her next tweet
    await ingest(config, store)

    assert await world.deliver(config, store) == {"sent": 1}
    assert len(world.receiver.requests) == 2


async def test_a_person_escalating_another_case_of_an_alerted_author_alerts(
    world: World,
) -> None:
    posts = [x_post(1, URGENT), x_post(2, "@LumenetHelp my bill is wrong, charged twice")]
    config, store = await world.start(posts)
    assert await world.deliver(config, store) == {"sent": 1}
    calm = store.mention(2).case_id
    assert calm is not None
    store.escalate_case(calm, "alice", note="she called us", alert="Escalated by alice")

    assert await world.deliver(config, store) == {"sent": 1}


async def test_two_senders_never_claim_two_alerts_of_one_case(world: World) -> None:
    # `earful alerts send` beside the daemon: one has claimed an alert of the case
    # between the other's skip check and its claim
    thread = "2124000000000000001"
    posts = [x_post(n, URGENT + "!" * n, conversation=thread) for n in (1, 2)]
    _, store = await world.start(posts)
    first = store.claim_alert()
    assert first is not None
    assert store.claim_alert() is None  # its sibling waits, and is then skipped
    store.mark_alert_sent(first.id)
    assert [why for _, why in store.skip_alerts()] == [
        f"case 1 already escalated by alert {first.id}"
    ]


async def test_an_alert_never_tried_within_max_age_is_skipped_as_stale(world: World) -> None:
    config, store = await world.urgent('max_age = "6h"')
    world.clock.advance(6 * 3600 + 1)  # the daemon was down, or the webhook is new

    assert await world.deliver(config, store) == {"skipped": 1}
    assert world.receiver.requests == []
    assert store.alert(1).last_error == "older than escalation.max_age when it was first due"


async def test_an_alert_being_retried_is_not_stale(world: World) -> None:
    config, store = await world.urgent('max_age = "1m"\nretry_after = "5m"')
    world.receiver.script = [(503, "", {})]

    first = await world.deliver(config, store)
    world.clock.advance(300)
    second = await world.deliver(config, store)

    assert (first, second) == ({"retry": 1}, {"sent": 1})


async def test_without_a_webhook_alerts_stay_in_the_store(world: World) -> None:
    config, store = await world.start([x_post(1, URGENT)], 'webhook_url = ""')

    assert await world.deliver(config, store) == {}
    assert [a.status for a in store.alert_list()] == ["pending"]


# -- hostile text --------------------------------------------------------------------


async def test_hostile_text_is_escaped_and_cut_to_slacks_limits(world: World) -> None:
    text = HOSTILE + " & <!everyone>" * 8000  # ~110 kB
    config, store = await world.start([x_post(1, text, handle="<!channel>")])

    await world.deliver(config, store)

    (message,) = world.receiver.payloads
    assert len(json.dumps(message, ensure_ascii=False)) < 12_000
    # nothing from the post can open a Slack control sequence: no "<" but our link's
    assert "<" not in json.dumps([message["text"], message["blocks"][:4]], ensure_ascii=False)
    header, facts, post, why, context = message["blocks"]
    assert len(header["text"]["text"]) <= 150
    assert all(len(f["text"]) <= 2000 for f in facts["fields"])
    assert len(post["text"]["text"]) <= SECTION_LIMIT
    assert post["text"]["text"].endswith("…")
    assert post["text"]["text"].startswith(
        "> " + escape(URGENT) + " &lt;!channel&gt; &lt;!here&gt; &lt;@U024BE7LH&gt; "
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; "
        "&lt;https://evil.example/login|Acme support&gt; `code` *bold*\\u0007\\u202e"
    )
    assert "*Author*\n@&lt;!channel&gt; (Ana Lima)" in facts["fields"][1]["text"]
    assert len(why["text"]["text"]) <= SECTION_LIMIT
    # the permalink carries the hostile handle too, escaped inside the link
    assert context["elements"][0]["text"].startswith("<https://x.com/&lt;!channel&gt;/status/")


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("a & b", 20, "a &amp; b"),
        ("&&&&", 12, "&amp;&amp;…"),  # never "&amp;&am…": an entity is never cut
        ("one\ntwo", 20, "one\ntwo"),
        ("x" * 10, 10, "x" * 10),
        ("x" * 11, 10, "x" * 9 + "…"),
    ],
)
def test_clipping_never_cuts_an_entity_or_exceeds_the_limit(
    text: str, limit: int, expected: str
) -> None:
    assert clipped(text, limit) == expected
    assert len(clipped(text, limit)) <= limit


def test_quoting_marks_every_line_of_the_post() -> None:
    assert clipped("line one\n<!here> two", 100, quote=True) == "> line one\n> &lt;!here&gt; two"


# -- secrets and config --------------------------------------------------------------


async def test_the_webhook_url_never_appears_in_logs_or_the_store(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    posts = [x_post(n, URGENT, handle=f"user{n}") for n in range(1, 5)]
    config, store = await world.start(posts, 'timeout = "1s"')  # the "ok"s come within it
    world.receiver.script = [(500, f"error at {world.receiver.url}", {}), (404, "no", {}), "hang"]

    for _ in range(4):
        await world.deliver(config, store)
        world.clock.advance(3600)
    reconcile_alerts(store, config.escalation)

    assert sorted(a.status for a in store.alert_list()) == ["failed", "sent", "sent", "unknown"]
    assert f"to {config.escalation.receiver}" in caplog.text
    assert "s3cr3t" not in caplog.text
    assert "s3cr3t" not in "\n".join(store.conn.iterdump())


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            'webhook_url = "hooks.slack.com/services/T0/B0/s3cr3t"',
            "escalation.webhook_url: expected an http(s) URL like https://hooks.slack.com/",
        ),
        ("webhook_url = 42", "escalation.webhook_url: expected a valid string"),
        (
            'webhook_url = "${EARFUL_SLACK_WEBHOOK}"',
            "escalation.webhook_url: environment variable EARFUL_SLACK_WEBHOOK is not set",
        ),
        ('timeout = "soon"', 'escalation.timeout: expected a duration like "90s" or "5m"'),
        ('retry_after = "-1s"', 'escalation.retry_after: expected a duration like "90s"'),
        ("max_attempts = 0", "escalation.max_attempts: expected greater than or equal to 1"),
        ("min_urgency = 101", "escalation.min_urgency: expected less than or equal to 100"),
        ("receiver_dedupes = 'maybe'", "escalation.receiver_dedupes: expected a valid boolean"),
        ('webhok_url = "https://hooks.slack.com/x"', "escalation.webhok_url: unknown key"),
    ],
)
def test_config_mistakes_name_the_key_and_exit_2(
    tmp_path: Path, section: str, expected: str
) -> None:
    path = write_config(tmp_path, [], section + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems
    assert "s3cr3t" not in str(caught.value)

    # `alerts send` needs the webhook: an unset ${VAR} there stops it too
    result = CliRunner().invoke(cli, ["alerts", "send", "-c", str(path)], env={})
    assert result.exit_code == 2
    assert expected in result.output
    assert "s3cr3t" not in result.output


def test_min_urgency_defaults_to_escalate_at_and_an_empty_url_means_off(tmp_path: Path) -> None:
    path = write_config(tmp_path, [], 'webhook_url = "${EARFUL_SLACK_WEBHOOK:-}"\n')
    escalation = load_config(path, env={}).escalation
    assert (escalation.webhook_url, escalation.min_urgency) == (None, 60)
    on = load_config(
        path, env={"EARFUL_SLACK_WEBHOOK": f"https://hooks.slack.com/services/{SECRET}"}
    )
    assert on.escalation.receiver == "hooks.slack.com"


# -- the commands and the daemon ------------------------------------------------------


def run_cli(*args: str, env: dict[str, str]) -> Any:
    return CliRunner().invoke(cli, list(args), env=env)


async def test_the_alert_commands_send_list_retry_and_mark_sent(
    tmp_path: Path, receiver: Receiver
) -> None:
    posts = [x_post(1, URGENT), x_post(2, URGENT, handle="bo")]
    path = write_config(tmp_path, posts, settings())
    env = {"TEST_WEBHOOK": receiver.url}
    polled = await asyncio.to_thread(run_cli, "poll", "-c", str(path), "--json", env=env)
    assert polled.exit_code == 0, polled.output
    receiver.script = [(200, "ok", {}), (404, "no_service", {})]

    sent = await asyncio.to_thread(run_cli, "alerts", "send", "-c", str(path), "--json", env=env)
    listed = await asyncio.to_thread(run_cli, "alerts", "list", "-c", str(path), "--json", env=env)
    failed = await asyncio.to_thread(
        run_cli, "alerts", "list", "-c", str(path), "--status", "failed", env=env
    )

    # one refused: exit 1, so that a cron job notices
    assert sent.exit_code == 1, sent.output
    assert "earful: 1 alert not delivered (earful alerts list shows why)" in sent.stderr
    assert json.loads(sent.stdout) == {
        "receiver": receiver.url.split("/")[2],
        "outcomes": {"sent": 1, "failed": 1},
        "waiting": 0,
        "next_at": None,
    }
    rows = json.loads(listed.output)
    assert sorted(r["status"] for r in rows) == ["failed", "sent"]
    assert {"id", "status", "urgency", "text", "url", "reasons", "last_error"} <= set(rows[0])
    assert "HTTP 404: no_service" in failed.output
    failed_id = next(r["id"] for r in rows if r["status"] == "failed")

    retried = await asyncio.to_thread(
        run_cli, "alerts", "retry", str(failed_id), "-c", str(path), "--as", "lead", env=env
    )
    again = await asyncio.to_thread(run_cli, "alerts", "send", "-c", str(path), env=env)
    twice = await asyncio.to_thread(
        run_cli, "alerts", "mark-sent", str(failed_id), "-c", str(path), env=env
    )

    assert retried.exit_code == 0 and "will be sent" in retried.output
    assert again.exit_code == 0 and "sent 1" in again.output
    assert twice.exit_code == 1
    assert f"alert {failed_id} cannot be confirmed sent: it is sent" in twice.output
    assert len(receiver.requests) == 3


async def test_alerts_send_names_the_alerts_held_back_while_the_receiver_is_failing(
    tmp_path: Path, receiver: Receiver
) -> None:
    # "nothing due" read as if no alert were pending, in the middle of an outage
    posts = [x_post(1, URGENT), x_post(2, URGENT, handle="bo")]
    path = write_config(tmp_path, posts, settings('retry_after = "1h"'))
    env = {"TEST_WEBHOOK": receiver.url}
    assert (await asyncio.to_thread(run_cli, "poll", "-c", str(path), env=env)).exit_code == 0
    receiver.script = [(503, "service_unavailable", {})]
    host = receiver.url.split("/")[2]

    first = await asyncio.to_thread(run_cli, "alerts", "send", "-c", str(path), env=env)
    second = await asyncio.to_thread(run_cli, "alerts", "send", "-c", str(path), env=env)
    held = await asyncio.to_thread(run_cli, "alerts", "send", "-c", str(path), "--json", env=env)

    with Store.open(load_config(path, env=env).db_path) as store:
        (retry,) = [a for a in store.alert_list("pending") if a.attempts == 1]
    later = (
        f"2 alerts waiting for the receiver (the next try at {shown_time(retry.next_attempt_at)})"
    )
    assert first.exit_code == 1
    assert first.stdout == f"alerts to {host}: retry 1; {later}\n"
    assert second.exit_code == 0 and second.stdout == f"alerts to {host}: nothing sent; {later}\n"
    assert json.loads(held.stdout) == {
        "receiver": host,
        "outcomes": {},
        "waiting": 2,
        "next_at": retry.next_attempt_at,
    }
    assert len(receiver.requests) == 1


def test_sending_without_a_webhook_is_a_config_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, [])
    result = run_cli("alerts", "send", "-c", str(path), env={})
    assert result.exit_code == 2
    assert "escalation.webhook_url: not set: alerts stay in the store; set it in" in result.output

    path = write_config(tmp_path, [], 'webhook_url = "${EARFUL_T_HOOK:-}"\n')
    result = run_cli("alerts", "send", "-c", str(path), env={})
    assert result.exit_code == 2
    assert 'escalation.webhook_url: empty (a "${VAR:-}" whose variable' in result.output


def test_marking_an_alert_that_does_not_exist_fails(tmp_path: Path) -> None:
    path = write_config(tmp_path, [])
    assert run_cli("poll", "-c", str(path), env={}).exit_code == 0  # makes the database
    result = run_cli("alerts", "mark-sent", "7", "-c", str(path), env={})
    assert result.exit_code == 1
    assert "no alert with id 7" in result.output


async def test_the_daemon_sends_an_alert_for_an_urgent_complaint(
    tmp_path: Path, receiver: Receiver
) -> None:
    path = write_config(
        tmp_path, [x_post(1, URGENT), x_post(2, PRAISE)], settings('interval = "50ms"\n')
    )
    runtime = build_runtime(load(path, receiver))
    stop = asyncio.Event()
    daemon = Daemon(runtime)
    task = asyncio.create_task(daemon.run(stop))
    try:
        await asyncio.wait_for(receiver.arrived.wait(), timeout=30)
    finally:
        stop.set()
        await task
    assert len(receiver.requests) == 1
    with Store.open(load(path, receiver).db_path) as store:
        assert [a.status for a in store.alert_list()] == ["sent"]


def test_store_transitions_are_guarded(store: Store) -> None:
    with pytest.raises(StoreError, match="no alert with id 3"):
        store.mark_alert_sent(3)
    assert store.claim_alert() is None


def test_migration_2_keeps_the_alerts_a_version_1_database_holds(db_path: Path) -> None:
    conn = connect(db_path)
    conn.execute("BEGIN")
    MIGRATIONS[0](sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    with Store(conn) as v1:
        # rows as a version-1 Earful wrote them (today's ingest writes version-3 tables)
        v1.conn.execute(
            "INSERT INTO mentions (id, platform, native_id, source, text, created_at, "
            "fetched_at) VALUES (1, 'x', '1', 'replay', 'down again', "
            "'2026-11-20T09:00:00.000Z', '2026-11-20T09:00:01.000Z')"
        )
        v1.conn.execute(
            "INSERT INTO verdicts VALUES (1, 'interesting_bad', -0.6, -0.9, '[]', 'outage', "
            "90, 40, NULL, '[]', '[]', NULL)"
        )
        v1.conn.execute(
            "INSERT INTO alerts (mention_id, body, reason, status, attempts, created_at) "
            "VALUES (1, 'Urgent', 'urgency 90 >= 80', 'failed', 2, '2026-11-20T09:00:00.000Z')"
        )

    with Store.open(db_path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        alert = store.alert(1)
        assert (alert.status, alert.attempts, alert.reason) == ("failed", 2, "urgency 90 >= 80")
        assert (alert.next_attempt_at, alert.claimed_at) == (None, None)
        store.retry_alert(1, "lead")
        assert store.claim_alert() is not None
        assert store.alert(1).status == "sending"


def test_the_commented_example_section_documents_the_defaults(tmp_path: Path) -> None:
    example = (Path(__file__).parent.parent / "config.example.toml").read_text(encoding="utf-8")
    lines = example[example.index("# [escalation]") :].split("\n\n", 1)[0].splitlines()
    section = "\n".join(line.removeprefix("# ") for line in lines if not line.startswith("#  "))
    path = tmp_path / "earful.toml"
    path.write_text('[brand]\nname = "Acme"\n' + section + "\n", encoding="utf-8")
    url = f"https://hooks.slack.com/services/{SECRET}"

    documented = load_config(path, env={"EARFUL_SLACK_WEBHOOK": url}).escalation

    assert documented == EscalationConfig(webhook_url=url, min_urgency=80)


def test_an_alert_a_rule_asked_for_is_sent_whatever_its_urgency(store: Store) -> None:
    m = factories.mention("escalate this one")
    verdict = dataclasses.replace(factories.verdict(urgency=30), actions=("escalate",))
    draft = Draft(DraftKind.ESCALATION, "Urgent", m.key, "rule asked to escalate")
    low = factories.mention("and not this one")
    low_draft = Draft(DraftKind.ESCALATION, "Urgent", low.key, "urgency 30 >= 20")
    store.ingest(
        "replay",
        [Judged(m, verdict, (draft,)), Judged(low, factories.verdict(urgency=30), (low_draft,))],
        None,
    )

    skipped = store.skip_alerts(min_urgency=80)

    assert skipped == [(2, "urgency 30 below escalation.min_urgency 80")]
    assert store.alert(1).status == "pending"
