"""The console in a real browser: Playwright drives Debian's Chromium against the
console served on 127.0.0.1, over a store filled by the real pipeline.

Screenshots of each view go to test-artifacts/console/ (gitignored)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from consolekit import (
    HOSTILE,
    PASSWORD,
    ingest,
    left_unsettled,
    pending_replies,
    refused_alert,
    reply_for,
    seeded,
    served,
    x_mention,
)
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Page,
    Playwright,
    Request,
    Route,
    expect,
    sync_playwright,
)

from earful.config import Config
from earful.console.passwords import hash_password
from earful.pipeline import build_stages, store_batch
from listener.base import FetchResult
from responders.limits import x_weighted_length
from storage import health, queries
from storage.queries import QueueFilter
from storage.records import ReplyRecord
from storage.store import Store

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "console"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return seeded(tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module")
def base_url(config: Config) -> Iterator[str]:
    with served(config) as url:
        yield url


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
    )
    yield browser
    browser.close()


@pytest.fixture
def db(config: Config) -> Iterator[Store]:
    """The test's own connection to the console's database."""
    with Store.open(config.db_path) as store:
        yield store


class Watched:
    """A page that records dialogs and script errors. Dialogs are dismissed (a
    confirm() answers no) unless `accept` is set."""

    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.context = context
        self.page: Page = context.new_page()
        self.base_url = base_url
        self.dialogs: list[str] = []
        self.dialog_kinds: list[str] = []
        self.errors: list[str] = []
        self.accept = False
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        self.dialog_kinds.append(dialog.type)
        if self.accept:
            dialog.accept()
        else:
            dialog.dismiss()

    def go(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def login(self, name: str, password: str = PASSWORD) -> Page:
        page = self.go("/login")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        return page

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_until(page: Page, ready: Callable[[], object], timeout_ms: int = 5000) -> None:
    """Wait for something the page cannot be asked about (a dialog seen, a request made)."""
    for _ in range(timeout_ms // 50):
        if ready():
            return
        page.wait_for_timeout(50)
    raise AssertionError("timed out waiting")


class OpenAs(Protocol):
    """A fresh browser context's page, logged in as `name` when one is given."""

    def __call__(
        self, name: str | None = None, *, width: int = 1280, zone: str | None = None
    ) -> Watched: ...


@pytest.fixture
def open_as(browser: Browser, base_url: str) -> Iterator[OpenAs]:
    contexts: list[BrowserContext] = []

    def make(name: str | None = None, *, width: int = 1280, zone: str | None = None) -> Watched:
        # `zone`: the viewer's time zone, read in en-GB (a 24-hour clock) so the
        # expected local times are plain to write down
        context = browser.new_context(
            viewport={"width": width, "height": 900},
            timezone_id=zone,
            locale="en-GB" if zone else None,
        )
        contexts.append(context)
        watched = Watched(context, base_url)
        if name:
            watched.login(name)
            expect(watched.page.locator("header .who")).to_contain_text(name)
        return watched

    yield make
    for context in contexts:
        context.close()


def test_login_lands_on_the_queue_most_urgent_first(open_as: OpenAs, db: Store) -> None:
    w = open_as()
    page = w.go("/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)queue$"))
    w.shot("login")
    w.login("alice")
    expect(page).to_have_url(re.compile(r"/queue$"))
    urgencies = [int(u) for u in page.locator("li.queue-item .urgency").all_inner_texts()]
    assert urgencies and urgencies == sorted(urgencies, reverse=True)
    expect(page.locator("#escalated-count")).to_have_text(str(db.stats().escalated_cases))
    w.shot("queue")
    assert not w.errors


def test_wrong_password_is_refused(open_as: OpenAs) -> None:
    w = open_as()
    page = w.login("alice", "not the password")
    expect(page.locator(".error")).to_have_text("Wrong name or password.")


def test_approve_with_an_edit(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[0]
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    edited = "Sorry about this — we're on it and will DM you a callback time. 👍🏽"
    page.locator("#draft-body").fill(edited)
    weighted = f"{x_weighted_length(edited)} / 280 weighted characters"
    expect(page.locator("#char-count")).to_have_text(weighted)
    w.shot("case")
    page.click("#approve")
    expect(page.locator("#reply-status")).to_have_text("approved")
    reply = db.reply(reply_id)
    assert reply.status == "approved" and reply.decided_by == "alice"
    assert reply.body.startswith("Sorry about this")
    assert reply.drafted_body != reply.body
    assert db.audit_log(subject=f"reply:{reply_id}")[0].action == "approve"


def test_the_counter_turns_red_over_the_limit_and_approval_is_refused(
    open_as: OpenAs, db: Store
) -> None:
    reply_id = pending_replies(db)[1]
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    page.locator("#draft-body").fill("é" * 281)
    expect(page.locator("#char-count")).to_have_text("281 / 280 weighted characters")
    expect(page.locator("#char-count")).to_have_class(re.compile("over"))
    page.click("#approve")
    expect(page.locator("#flash")).to_contain_text("x allows 280")
    assert db.reply(reply_id).status == "pending"


def test_reject_with_a_reason(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[2]
    w = open_as("bob")
    page = w.go(f"/drafts/{reply_id}")
    page.fill("#reject-reason", "already answered by phone")
    page.click("#reject")
    expect(page.locator("#reply-status")).to_have_text("rejected")
    expect(page.locator("#decided")).to_contain_text("already answered by phone")
    reply = db.reply(reply_id)
    assert (reply.status, reply.reject_reason, reply.decided_by) == (
        "rejected",
        "already answered by phone",
        "bob",
    )


def _with_open_tasks(db: Store) -> list[int]:
    """Pending replies with an open callback task drafted with them, which no later
    complaint in the case leans on (a rejection then leaves the task open)."""
    return [
        row[0]
        for row in db.conn.execute(
            "SELECT r.id FROM replies r JOIN callbacks k ON k.mention_id = r.mention_id "
            "WHERE r.status = 'pending' AND k.status = 'open' AND NOT EXISTS ("
            "SELECT 1 FROM mentions m JOIN verdicts v ON v.mention_id = m.id "
            "WHERE m.case_id = k.case_id AND m.id > r.mention_id "
            "AND v.disposition = 'interesting_bad') ORDER BY r.id"
        )
    ]


def _task_status(db: Store, reply_id: int) -> str:
    row = db.conn.execute(
        "SELECT k.status FROM replies r JOIN callbacks k ON k.mention_id = r.mention_id "
        "WHERE r.id = ?",
        (reply_id,),
    ).fetchone()
    return str(row[0])


def test_a_rejection_can_close_its_task_and_is_undone_with_it(open_as: OpenAs, db: Store) -> None:
    reply_id = _with_open_tasks(db)[0]
    w = open_as("bob")
    page = w.go(f"/drafts/{reply_id}")
    expect(page.locator("#reopen-row")).to_be_hidden()
    page.fill("#reject-reason", "a joke, not a complaint")
    page.check("#reject-close-task")
    page.click("#reject")
    expect(page.locator("#flash")).to_contain_text("Its callback task is closed.")
    assert db.reply(reply_id).status == "rejected" and _task_status(db, reply_id) == "done"

    page.click("#reopen")
    expect(page.locator("#reply-status")).to_have_text("pending")
    # the page is read afresh, and says what the click did
    expect(page.locator("#flash")).to_have_text(
        re.compile("^Reopened: the draft is pending again. Its callback task is open again.")
    )
    expect(page.locator("#reopen-row")).to_be_hidden()
    expect(page.locator("#reject-close-task")).not_to_be_checked()
    assert _task_status(db, reply_id) == "open"
    page.fill("#reject-reason", "we'll call instead")
    page.click("#reject")  # the box left alone: the call is still to be made
    expect(page.locator("#flash")).to_have_text(
        re.compile("^Rejected. Its callback task stays open: the call is still to be made.")
    )
    assert _task_status(db, reply_id) == "open"
    w.go(f"/drafts/{reply_id}")  # a rejected draft offers the undo when opened later
    expect(page.locator("#reopen-row")).to_be_visible()
    page.click("#reopen")
    expect(page.locator("#reply-status")).to_have_text("pending")
    expect(page.locator("#flash .flash-text")).to_have_text("Reopened: the draft is pending again.")
    page.reload()  # said once, not at every later load
    expect(page.locator("#flash")).to_be_hidden()
    assert not w.errors


def test_two_agents_approve_the_same_draft_one_wins(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[3]
    first, second = open_as("alice"), open_as("bob")
    first.go(f"/drafts/{reply_id}")
    second.go(f"/drafts/{reply_id}")
    first.page.click("#approve")
    expect(first.page.locator("#reply-status")).to_have_text("approved")
    second.page.click("#approve")
    expect(second.page.locator("#flash")).to_contain_text("already approved by alice")
    expect(second.page.locator("#approve")).to_be_disabled()
    assert db.reply(reply_id).decided_by == "alice"


def test_a_viewer_sees_no_decisions_and_gets_403_on_approve(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[4]
    w = open_as("vera")
    page = w.go(f"/drafts/{reply_id}")
    expect(page.locator("#approve")).to_have_count(0)
    status = page.evaluate(
        """async (id) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch('/api/drafts/' + id + '/approve', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
                body: '{}'});
            return r.status;
        }""",
        reply_id,
    )
    assert status == 403
    assert db.reply(reply_id).status == "pending"
    page = w.go("/audit")
    expect(page.locator("#error-status")).to_have_text("403 · Not allowed")
    expect(page.locator("#error-message")).to_have_text(
        "this needs the admin role; you are a viewer"
    )


def test_a_post_without_the_csrf_token_gets_403(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[4]
    w = open_as("alice")
    w.go("/queue")
    status = w.page.evaluate(
        """async (id) => {
            const r = await fetch('/api/drafts/' + id + '/approve', {method: 'POST',
                headers: {'Content-Type': 'application/json'}, body: '{}'});
            return [r.status, (await r.json()).error];
        }""",
        reply_id,
    )
    assert status[0] == 403 and "CSRF" in status[1]
    assert db.reply(reply_id).status == "pending"


def test_hostile_post_text_shows_as_text_and_runs_nothing(open_as: OpenAs, db: Store) -> None:
    reply_id = reply_for(db, "hostile-1")
    w = open_as("alice")
    page = w.go("/queue?q=furious")
    expect(page.locator(f'li[data-id="{reply_id}"] .post-text')).to_contain_text("<script>")
    page = w.go(f"/drafts/{reply_id}")
    text = page.locator("article.focus .post-text").inner_text()
    assert "<script>window.pwned = 1" in text and '<img src=x onerror="window.pwned = 2' in text
    assert page.locator("article.focus img").count() == 0
    assert page.locator("article.focus b").count() == 0
    w.shot("hostile-post")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert w.dialogs == [] and w.errors == []


def test_keyboard_shortcuts(open_as: OpenAs, db: Store) -> None:
    ids = pending_replies(db, platform=None)
    w = open_as("alice")
    page = w.go("/queue")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(page.locator("li.queue-item.selected")).to_have_attribute("data-id", str(ids[0]))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/drafts/{ids[0]}$"))
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/drafts/{ids[1]}$"))
    page.keyboard.press("e")
    page.keyboard.type(" Thanks!")
    page.keyboard.press("Escape")
    page.keyboard.press("m")
    expect(page.locator("#case-assignee")).to_have_text("alice")
    page.keyboard.press("a")
    expect(page.locator("#reply-status")).to_have_text("approved")
    assert db.reply(ids[1]).body.endswith(" Thanks!")
    page.keyboard.press("r")  # decided already: nothing happens
    page.keyboard.press("?")
    expect(page.locator("dialog#help")).to_be_visible()


def test_reject_from_the_keyboard(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[0]
    w = open_as("bob")
    page = w.go(f"/drafts/{reply_id}")
    page.keyboard.press("r")
    expect(page.locator("#reject-reason")).to_be_focused()
    page.keyboard.type("duplicate of a case")
    page.keyboard.press("Enter")
    expect(page.locator("#reply-status")).to_have_text("rejected")
    assert db.reply(reply_id).reject_reason == "duplicate of a case"


def test_a_new_draft_appears_without_reload(open_as: OpenAs, db: Store, config: Config) -> None:
    w = open_as("alice")
    page = w.go("/queue")
    page.evaluate("window.notReloaded = true")
    ingest(
        db,
        build_stages(config),
        "@LumenetHelp lumenet broadband down in Otley, no internet at all. brand new arrival",
        native_id="late-1",
        handle="newcomer",
    )
    reply_id = reply_for(db, "late-1")
    row = page.locator(f'li.queue-item[data-id="{reply_id}"]')
    expect(row).to_be_visible(timeout=10_000)
    expect(row).to_contain_text("brand new arrival")
    expect(row).to_have_class(re.compile("new"))
    assert page.evaluate("window.notReloaded") is True


def pending_in_an_open_case(db: Store) -> tuple[int, int]:
    """A pending reply whose case is open, and that case."""
    for reply_id in pending_replies(db):
        case_id = db.reply(reply_id).case_id
        if case_id is not None and db.case(case_id).status == "open":
            return reply_id, case_id
    raise AssertionError("no pending reply in an open case")


def test_case_escalate_then_resolve(open_as: OpenAs, db: Store) -> None:
    reply_id, case_id = pending_in_an_open_case(db)
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    before = int(page.locator("#escalated-count").inner_text())
    page.fill("#case-note", "a journalist is asking")
    page.click("#escalate")
    expect(page.locator("#case-status")).to_have_text("escalated")
    expect(page.locator("#history")).to_contain_text(
        "alice · case escalate: a journalist is asking"
    )
    # senior staff are told: an alert like the ones Earful raises, saying who and why
    (alert,) = [a for a in db.alerts("pending") if a["case_id"] == case_id]
    assert alert["body"].startswith("Escalated by alice (") and f"case {case_id}" in alert["body"]
    assert alert["body"].endswith("\nWhy: a journalist is asking")
    assert alert["reason"] == "escalated by alice"
    page = w.go("/escalations")
    expect(page.locator(f'a[href="/cases/{case_id}"]')).to_be_visible()
    expect(page.locator("main")).to_contain_text("Why: a journalist is asking")
    expect(page.locator("#escalated-count")).to_have_text(str(before + 1))
    w.shot("escalations")
    page = w.go(f"/drafts/{reply_id}")
    page.keyboard.press("s")  # asks first; the test's dialogs answer no
    wait_until(page, lambda: w.dialogs)
    expect(page.locator("#case-status")).to_have_text("escalated")
    # the question names what resolving also does: the case's open tasks close
    assert w.dialogs[0].startswith(f"Resolve case {case_id}?")
    assert db.case(case_id).status == "escalated"
    w.accept = True
    page.keyboard.press("s")
    expect(page.locator("#case-status")).to_have_text("resolved")
    assert db.case(case_id).status == "resolved"


def test_callbacks_list_marks_done(open_as: OpenAs, db: Store) -> None:
    callback = db.callbacks("open")[0]
    w = open_as("bob")
    page = w.go("/callbacks")
    w.shot("callbacks")
    page.click(f'button.callback-done[data-id="{callback.id}"]')
    expect(page.locator(f'tr[data-callback="{callback.id}"] .status')).to_have_text("done by bob")
    assert db.callbacks("done")[0].done_by == "bob"


def test_praise_wall_star_and_export(open_as: OpenAs, db: Store) -> None:
    w = open_as("vera")
    page = w.go("/praise")
    first = page.locator("article.praise").first
    mention_id = int(first.get_attribute("data-mention") or 0)
    first.locator("button.star").click()
    expect(first.locator("button.star")).to_have_attribute("aria-pressed", "true")
    w.shot("praise")
    page = w.go("/praise?starred=1")
    expect(page.locator("article.praise")).to_have_count(1)
    with page.expect_download() as download:
        page.click("a[href='/praise.csv?starred=1']")  # the starred view's own export
    csv_text = Path(download.value.path()).read_text(encoding="utf-8")
    assert csv_text.startswith("id,platform,permalink")
    assert f"\n{mention_id}," in csv_text
    starred = db.conn.execute("SELECT count(*) FROM praise WHERE starred = 1").fetchone()[0]
    assert len(list(csv.reader(io.StringIO(csv_text)))) == starred + 1  # and the header
    assert starred < db.conn.execute("SELECT count(*) FROM praise").fetchone()[0]


def test_stats_draws_the_charts(open_as: OpenAs) -> None:
    w = open_as("vera")
    page = w.go("/stats")
    expect(page.locator("body")).to_have_attribute("data-charts-ready", "yes")
    assert page.locator("canvas").count() == 4
    w.shot("stats")
    # ten days are never whole weeks: a week the window cuts is labelled so
    page = w.go("/stats?days=10")
    expect(page.locator("body")).to_have_attribute("data-charts-ready", "yes")
    labels = page.evaluate("Chart.getChart(document.getElementById('chart-topics')).data.labels")
    series = json.loads(page.locator("#series-data").text_content() or "")
    assert sum(series["week_days"]) == 10
    assert labels == [
        week if n == 7 else f"{week} ({n} of 7 days)"
        for week, n in zip(series["weeks"], series["week_days"], strict=True)
    ]
    assert any(n < 7 for n in series["week_days"])
    assert not w.errors


def test_admin_reads_the_audit_log(open_as: OpenAs) -> None:
    w = open_as("root")
    page = w.go("/audit")
    expect(page.locator("#audit")).to_contain_text("approve")
    w.shot("audit")


def test_login_is_rate_limited(open_as: OpenAs) -> None:
    w = open_as()
    for _ in range(5):
        page = w.login("lockme", "wrong password")
        expect(page.locator(".error")).to_have_text("Wrong name or password.")
    page = w.login("lockme")  # the right password, but too late
    expect(page.locator(".error")).to_contain_text("Too many failed attempts")
    other = open_as("alice")  # other accounts are not locked out
    expect(other.page).to_have_url(re.compile(r"/queue$"))


def test_logout_ends_the_session(open_as: OpenAs) -> None:
    w = open_as("alice")
    w.go("/queue").click("header .who button")
    expect(w.page).to_have_url(re.compile(r"/login$"))
    expect(w.go("/queue")).to_have_url(re.compile(r"/login\?next="))


def test_an_unknown_reply_is_checked_and_marked_sent(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[-1]
    left_unsettled(db, reply_id, "unknown", "the daemon stopped while sending")
    w = open_as("alice")
    page = w.go("/queue")
    page.click("#unknown-link")
    expect(page).to_have_url(re.compile(r"/queue\?status=unknown$"))
    page.click(f"li.queue-item[data-id='{reply_id}'] a")
    expect(page.locator("#settle-why")).to_contain_text("may or may not be on x")
    expect(page.locator("#settle-why")).to_contain_text("the daemon stopped while sending")
    w.shot("settle")
    page.fill("#posted-id", "1800000000000000001")
    page.click("#mark-sent")
    reply = settled(w, db, reply_id, "sent", "alice")
    assert reply.posted_id == "1800000000000000001"


def settled(w: Watched, db: Store, reply_id: int, status: str, actor: str) -> ReplyRecord:
    """The draft's page shows the reply `status` with nothing left to settle, and the
    audit log names `actor`: the reply as stored."""
    expect(w.page.locator("#reply-status")).to_have_text(status)
    expect(w.page.locator("#retry")).to_be_disabled()
    assert db.audit_log(subject=f"reply:{reply_id}")[0].actor == actor
    assert not w.errors
    reply = db.reply(reply_id)
    assert reply.status == status
    return reply


def test_an_unknown_reply_found_not_posted_is_rejected_as_such(open_as: OpenAs, db: Store) -> None:
    # neither "mark sent" nor "send again" fits a reply found not posted and not wanted
    reply_id = pending_replies(db)[-1]
    left_unsettled(db, reply_id, "unknown", "the daemon stopped while sending")
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    page.click("#reject-unposted")  # no reason yet: asked for, nothing done
    expect(page.locator("#flash")).to_contain_text("Type why it should not be sent")
    assert db.reply(reply_id).status == "unknown"
    page.fill("#unposted-reason", "the outage is over")
    page.click("#reject-unposted")
    expect(page.locator("#flash")).to_contain_text("recorded that it was not posted")
    assert settled(w, db, reply_id, "rejected", "alice").reject_reason == "the outage is over"


def test_a_failed_reply_is_sent_again(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[-1]
    left_unsettled(db, reply_id, "failed", "429 too many requests, 5 attempts")
    w = open_as("bob")
    page = w.go(f"/drafts/{reply_id}")
    expect(page.locator("#settle-why")).to_contain_text("x refused this reply")
    page.click("#retry")
    expect(page.locator("#reply-status")).to_have_text("approved")
    expect(page.locator("#flash")).to_contain_text("posts it on its next run")
    assert db.reply(reply_id).status == "approved"
    viewer = open_as("vera").go(f"/drafts/{reply_id}")
    expect(viewer.locator("#settle")).to_have_count(0)  # approved now: nothing to settle


def test_a_failed_alert_is_sent_again_from_the_escalations_page(open_as: OpenAs, db: Store) -> None:
    alert_id = refused_alert(db, "webhook answered 404")  # one of the demo's escalations
    viewer = open_as("vera").go("/escalations")
    expect(viewer.locator(f"#alert-status-{alert_id}")).to_have_text("failed")
    expect(viewer.locator("button.alert-retry")).to_have_count(0)
    w = open_as("bob")
    page = w.go("/escalations")
    expect(page.locator("#escalations")).to_contain_text("webhook answered 404")
    w.shot("escalations-failed-alert")
    page.click(f"button.alert-retry[data-alert='{alert_id}']")
    expect(page.locator(f"#alert-status-{alert_id}")).to_have_text("pending")
    expect(page.locator("#flash")).to_contain_text("goes out again")
    assert db.alert(alert_id).status == "pending"
    assert not w.errors


def test_an_admin_adds_promotes_and_disables_an_account(open_as: OpenAs, db: Store) -> None:
    admin = open_as("root")
    page = admin.go("/queue")
    page.click("header nav a[href='/users']")
    page.fill("#new-name", "zoe")
    page.select_option("#new-role", "viewer")
    page.fill("#new-password", PASSWORD)
    page.click("#add-user button[type=submit]")
    row = page.locator("#accounts tr[data-name='zoe']")
    expect(row).to_contain_text("enabled")
    zoe = open_as("zoe")
    expect(zoe.go("/drafts/1").locator("#approve")).to_have_count(0)  # a viewer
    row.locator("select.user-role").select_option("agent")
    expect(page.locator("#flash")).to_contain_text("zoe is now agent; their sessions have ended")
    assert db.user("zoe").role == "agent"
    # her session ended with the old role: she logs in again, and works as an agent
    expect(zoe.go("/drafts/1")).to_have_url(re.compile(r"/login\?next="))
    expect(zoe.page.locator("#login-notice")).to_have_text("Your session has ended: log in again.")
    zoe.page.fill("input[name=name]", "zoe")
    zoe.page.fill("input[name=password]", PASSWORD)
    zoe.page.click("button[type=submit]")
    expect(zoe.page.locator("#approve")).to_have_count(1)
    row.locator("button.user-toggle").click()
    expect(row.locator(".status")).to_have_text("disabled")
    admin.shot("accounts")
    expect(zoe.go("/queue")).to_have_url(re.compile(r"/login\?next="))  # session ended
    assert db.user("zoe").disabled
    agent = open_as("alice")
    expect(agent.page.locator("header nav a[href='/users']")).to_have_count(0)
    assert not admin.errors


def _session_digest(context: BrowserContext) -> str:
    """The stored digest of the session cookie this browser holds."""
    (token,) = [c["value"] for c in context.cookies() if c["name"] == "earful_session"]
    return hashlib.sha256(token.encode()).hexdigest()


def test_a_login_past_its_lifetime_goes_to_the_login_form_saying_why(
    open_as: OpenAs, db: Store
) -> None:
    w = open_as("alice")
    page = w.go("/queue")
    # logged in eight days ago (and used all along): past the 7-day session_lifetime
    eight_days_ago = (datetime.now(UTC) - timedelta(days=8)).isoformat(timespec="milliseconds")
    with db.conn:
        db.conn.execute(
            "UPDATE sessions SET created_at = ? WHERE token_hash = ?",
            (eight_days_ago.replace("+00:00", "Z"), _session_digest(w.context)),
        )
    # the queue's own polling finds the session over and takes the page to the login
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fqueue$"))
    expect(page.locator("#login-notice")).to_have_text(
        "A login lasts at most 7d, however much it is used: log in again."
    )
    w.shot("login-after-lifetime")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/queue$"))
    assert not w.errors


def test_log_out_everywhere_ends_the_sessions_on_other_devices_too(
    open_as: OpenAs, db: Store
) -> None:
    laptop, phone, colleague = open_as("bob"), open_as("bob", width=390), open_as("alice")
    laptop.go("/stats")
    page = phone.go("/praise")
    page.click("#logout-everywhere")
    expect(page).to_have_url(re.compile(r"/login\?ended=everywhere$"))
    expect(page.locator("#login-notice")).to_have_text(
        "You are logged out on every browser and device."
    )
    # the laptop's next click goes to the login form, which says the session ended
    laptop.page.click("header nav a[href='/queue']")
    expect(laptop.page).to_have_url(re.compile(r"/login\?next=/queue$"))
    expect(laptop.page.locator("#login-notice")).to_have_text(
        "Your session has ended: log in again."
    )
    expect(colleague.go("/stats")).to_have_url(re.compile(r"/stats$"))  # not theirs
    entry = db.audit_log(subject="user:bob")[0]
    assert (entry.action, entry.actor) == ("user-logout-everywhere", "bob")
    assert not (laptop.errors or phone.errors)


def test_an_admin_logs_someone_out_everywhere_from_the_accounts_page(
    open_as: OpenAs, db: Store
) -> None:
    vera = open_as("vera")
    vera.go("/praise")
    admin = open_as("root")
    page = admin.go("/users")
    page.locator("#accounts tr[data-name='vera'] button.user-logout").click()
    expect(page.locator("#flash")).to_have_text(
        re.compile(r"vera is logged out everywhere \(\d+ sessions? ended\)\.")
    )
    vera.page.click("header nav a[href='/stats']")
    expect(vera.page).to_have_url(re.compile(r"/login\?next=/stats$"))
    expect(vera.page.locator("#login-notice")).to_have_text("Your session has ended: log in again.")
    assert not (admin.errors or vera.errors)


def test_disabling_an_agent_who_has_cases_says_so_and_the_queue_finds_them(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    # a lead disabling an agent was told only "sessions ended": the agent's cases
    # stayed "taken by" someone gone, and no filter found them
    case_id = db.reply(fresh_draft(db, config, "sick-agent-1")).case_id
    assert case_id is not None
    db.add_user("sick", "agent", hash_password(PASSWORD), actor="tests")  # the others stay
    db.assign_case(case_id, "root", "sick")
    admin = open_as("root")
    page = admin.go("/users")
    page.locator("#accounts tr[data-name='sick'] button.user-toggle").click()
    flash = page.locator("#flash")
    expect(flash).to_contain_text(f"sick still has 1 open case ({case_id}): hand them on")
    expect(flash).to_have_class("warn")  # work left behind, not a plain success
    admin.go("/queue")
    page.select_option("select[name=assignee]", "sick")
    page.click("#filters button[type=submit]")
    expect(page.locator("#queue li.queue-item")).to_have_count(1)
    expect(page.locator("#queue li.queue-item")).to_contain_text("taken by sick")
    page.locator("#queue li.queue-item a").first.click()
    page.select_option("#assignee", "bob")
    page.click("#assign")
    expect(page.locator("#case-assignee")).to_have_text("bob")
    assert db.case(case_id).assignee == "bob"
    assert not admin.errors


def test_hostile_text_is_stored_intact(db: Store) -> None:
    reply = db.reply(reply_for(db, "hostile-1"))
    assert reply.text == HOSTILE


# -- review fixes ----------------------------------------------------------------------


def _record_posts(page: Page, part: str) -> list[str]:
    """The URLs of the POSTs the page sends whose URL holds `part`."""
    sent: list[str] = []

    def seen(request: Request) -> None:
        if request.method == "POST" and part in request.url:
            sent.append(request.url)

    page.on("request", seen)
    return sent


def test_a_double_click_or_a_repeated_key_decides_once(open_as: OpenAs, db: Store) -> None:
    w = open_as("alice")
    approvals = _record_posts(w.page, "/approve")
    rejections = _record_posts(w.page, "/reject")
    flash = w.page.locator("#flash")

    page = w.go(f"/drafts/{pending_replies(db)[0]}")
    page.dblclick("#approve")
    expect(page.locator("#reply-status")).to_have_text("approved")
    page.wait_for_timeout(300)  # time for a second request, were there one
    assert len(approvals) == 1
    expect(flash).to_have_class("ok")
    expect(flash.locator(".flash-text")).to_have_text("Approved. Press j for the next draft.")

    # `a` twice, faster than any answer can come back
    page = w.go(f"/drafts/{pending_replies(db)[0]}")
    page.evaluate(
        "() => { for (let i = 0; i < 2; i++) document.dispatchEvent("
        "new KeyboardEvent('keydown', {key: 'a', bubbles: true})); }"
    )
    expect(page.locator("#reply-status")).to_have_text("approved")
    page.wait_for_timeout(300)
    assert len(approvals) == 2
    expect(flash).to_have_class("ok")

    # Enter twice in the reason
    reply_id = pending_replies(db)[0]
    page = w.go(f"/drafts/{reply_id}")
    page.fill("#reject-reason", "answered on the phone")
    page.evaluate(
        "() => { const input = document.getElementById('reject-reason');"
        " for (let i = 0; i < 2; i++) input.dispatchEvent("
        "new KeyboardEvent('keydown', {key: 'Enter', bubbles: true})); }"
    )
    expect(page.locator("#reply-status")).to_have_text("rejected")
    page.wait_for_timeout(300)
    assert len(rejections) == 1
    expect(flash).to_have_class("ok")
    assert [e.action for e in db.audit_log(subject=f"reply:{reply_id}")] == ["reject"]
    assert not w.errors


def test_ones_own_earlier_decision_is_not_reported_as_an_error(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[0]
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    db.approve(reply_id, "alice")  # from another tab, say
    page.click("#approve")
    expect(page.locator("#reply-status")).to_have_text("approved")
    expect(page.locator("#flash")).to_have_class("ok")
    expect(page.locator("#flash")).to_contain_text("You had approved this draft already")
    expect(page.locator("#approve")).to_be_disabled()


def _shown(page: Page) -> list[int]:
    ids = page.locator("#queue li.queue-item").evaluate_all("rows => rows.map(r => r.dataset.id)")
    return [int(i) for i in ids]


def test_the_live_queue_keeps_to_one_honest_page(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    def server() -> list[int]:
        return [r.id for r in queries.queue(db, QueueFilter(status="pending"), limit=50)]

    w = open_as("alice")
    page = w.go("/queue")
    assert _shown(page) == server() and len(server()) == 50
    gone = _shown(page)[0]
    db.approve(gone, "bob")  # decided elsewhere
    expect(page.locator(f'#queue li.queue-item[data-id="{gone}"]')).to_have_count(0, timeout=10_000)
    for n in range(3):
        ingest(
            db,
            build_stages(config),
            f"@LumenetHelp lumenet internet down AGAIN, no broadband for days, furious {n}",
            native_id=f"live-{n}",
            handle=f"live{n}",
        )
    wait_until(page, lambda: _shown(page) == server(), timeout_ms=10_000)
    assert len(_shown(page)) == 50
    pending = queries.counts(db).pending
    expect(page.locator("#pending-total")).to_have_text(str(pending))
    expect(page.locator("#pending-count")).to_have_text(str(pending))
    expect(page.locator("#shown-count")).to_have_text("50")
    expect(page.locator("#next-page")).to_be_visible()
    for n in range(3):
        reply_id = reply_for(db, f"live-{n}")
        if reply_id in server():
            row = page.locator(f'#queue li.queue-item[data-id="{reply_id}"]')
            expect(row).to_have_class(re.compile("new"))
    assert not w.errors


def test_several_drafts_are_picked_and_rejected_at_once(open_as: OpenAs, db: Store) -> None:
    w = open_as("alice")
    page = w.go("/queue")
    shown = _shown(page)
    page.check("#pick-all")
    expect(page.locator("#picked-count")).to_have_text(str(len(shown)))
    page.uncheck("#pick-all")
    expect(page.locator("#picked-count")).to_have_text("0")
    expect(page.locator("#bulk button[type=submit]")).to_be_disabled()
    page.keyboard.press("j")  # the first row, picked from the keyboard
    page.keyboard.press("x")
    picked = [shown[0], *shown[-2:]]
    for reply_id in shown[-2:]:
        page.check(f'#queue li.queue-item[data-id="{reply_id}"] .pick')
    expect(page.locator("#picked-count")).to_have_text("3")
    page.click("#bulk button[type=submit]")  # no reason given
    expect(page.locator("#flash")).to_contain_text("Say why")
    page.fill("#bulk-reason", "spam wave")
    page.click("#bulk button[type=submit]")  # the confirm is answered no
    wait_until(page, lambda: w.dialogs)
    assert w.dialogs == ["Reject these 3 drafts? They will never be posted."]
    assert all(db.reply(i).status == "pending" for i in picked)
    w.accept = True
    page.click("#bulk button[type=submit]")
    expect(page.locator("#flash")).to_have_text(re.compile("^Rejected 3."))
    for reply_id in picked:
        expect(page.locator(f'#queue li.queue-item[data-id="{reply_id}"]')).to_have_count(0)
        rejected = db.reply(reply_id)
        assert (rejected.status, rejected.reject_reason, rejected.decided_by) == (
            "rejected",
            "spam wave",
            "alice",
        )
    expect(page.locator("#picked-count")).to_have_text("0")
    expect(page.locator("#pending-count")).to_have_text(str(queries.counts(db).pending))
    assert not w.errors
    viewer = open_as("vera").go("/queue")
    expect(viewer.locator("#queue li.queue-item").first).to_be_visible()
    expect(viewer.locator(".pick, #bulk")).to_have_count(0)


def test_a_task_a_later_complaint_leans_on_stays_open(open_as: OpenAs, db: Store) -> None:
    # in the demo, an author who complained again within the cooldown has one task
    # for both posts: rejecting the first draft as a false alarm must not close it
    (reply_id,) = db.conn.execute(
        "SELECT r.id FROM replies r JOIN callbacks k ON k.mention_id = r.mention_id "
        "JOIN mentions later ON later.case_id = k.case_id AND later.id > r.mention_id "
        "JOIN verdicts v ON v.mention_id = later.id AND v.disposition = 'interesting_bad' "
        "WHERE r.status = 'pending' AND k.status = 'open' ORDER BY r.id LIMIT 1"
    ).fetchone()
    page = open_as("bob").go(f"/drafts/{reply_id}")
    page.fill("#reject-reason", "the first one was a joke")
    page.check("#reject-close-task")
    page.click("#reject")
    expect(page.locator("#flash")).to_contain_text(
        "Its callback task stays open: a later complaint in the case needs it."
    )
    assert _task_status(db, reply_id) == "open"


def test_drafts_rejected_at_once_can_close_their_tasks(open_as: OpenAs, db: Store) -> None:
    w = open_as("alice")
    page = w.go("/queue")
    shown = set(_shown(page))
    reply_id = next(i for i in _with_open_tasks(db) if i in shown)
    page.check(f'#queue li.queue-item[data-id="{reply_id}"] .pick')
    page.fill("#bulk-reason", "not our customer")
    page.check("#bulk-close-tasks")
    w.accept = True
    page.click("#bulk button[type=submit]")
    expect(page.locator("#flash")).to_contain_text("Rejected 1. Closed 1 callback task.")
    assert _task_status(db, reply_id) == "done"
    assert not w.errors


def test_a_filtered_queue_is_worked_through_in_its_own_order(open_as: OpenAs, db: Store) -> None:
    # working only Reddit: j, k and u keep to it, not the whole queue
    reddit = [r.id for r in queries.queue(db, QueueFilter(platform="reddit"), limit=50)]
    assert len(reddit) >= 3
    w = open_as("alice")
    page = w.go("/queue?platform=reddit")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/drafts/{reddit[0]}\?platform=reddit$"))
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/drafts/{reddit[1]}\?platform=reddit$"))
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(rf"/drafts/{reddit[0]}\?platform=reddit$"))
    page.keyboard.press("u")
    expect(page).to_have_url(re.compile(r"/queue\?platform=reddit$"))
    assert not w.errors


def test_assign_history_and_badges_follow_each_change(open_as: OpenAs, db: Store) -> None:
    def fresh(reply_id: int) -> bool:
        case_id = db.reply(reply_id).case_id
        if case_id is None or db.case(case_id).assignee is not None:
            return False
        return not db.audit_log(subject=f"case:{case_id}") and not db.audit_log(
            subject=f"reply:{reply_id}"
        )

    reply_id = next(r for r in pending_replies(db) if fresh(r))
    w = open_as("bob")
    page = w.go(f"/drafts/{reply_id}")
    history = page.locator("#history")
    expect(history).to_have_text("Nothing decided yet.")
    page.keyboard.press("m")
    expect(page.locator("#case-assignee")).to_have_text("bob")
    expect(page.locator("#assignee")).to_have_value("bob")
    expect(history).to_contain_text("bob · case assign")
    before = int(page.locator("#pending-count").inner_text())
    page.click("#approve")
    expect(history).to_contain_text("bob · approve")
    expect(page.locator("#pending-count")).to_have_text(str(before - 1))
    assert queries.counts(db).pending == before - 1
    page.select_option("#assignee", "")
    page.click("#assign")
    expect(page.locator("#case-assignee")).to_have_text("nobody")
    expect(page.locator("#assignee")).to_have_value("")
    assert not w.errors


def test_a_case_someone_took_meanwhile_is_not_taken_from_them(open_as: OpenAs, db: Store) -> None:
    reply_id = next(
        r
        for r in pending_replies(db)
        if (case_id := db.reply(r).case_id) is not None and db.case(case_id).assignee is None
    )
    case_id = db.reply(reply_id).case_id or 0
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    expect(page.locator("#case-assignee")).to_have_text("nobody")
    db.assign_case(case_id, "bob", "bob")  # bob takes it while alice reads
    page.keyboard.press("m")
    expect(page.locator("#flash")).to_contain_text("it is bob's now, not nobody's")
    expect(page.locator("#case-assignee")).to_have_text("bob")  # the page catches up
    assert db.case(case_id).assignee == "bob"
    page.keyboard.press("m")  # now she has seen bob's name: taking it over is her call
    expect(page.locator("#case-assignee")).to_have_text("alice")
    assert db.case(case_id).assignee == "alice"
    assert not w.errors


def test_the_callbacks_page_reaches_every_task(open_as: OpenAs, db: Store) -> None:
    open_tasks = [c.id for c in db.callbacks("open", limit=10_000)]
    assert len(open_tasks) > 100  # more than a page in the seeded demo
    w = open_as("alice")
    page = w.go("/callbacks")
    rows = page.locator("#callbacks tr[data-callback]")
    expect(rows).to_have_count(100)
    expect(page.locator("#callbacks-note")).to_contain_text(f"Tasks 1 to 100 of {len(open_tasks)}")
    seen = rows.evaluate_all("rows => rows.map(r => Number(r.dataset.callback))")
    while page.locator("#next-page").count():
        page.click("#next-page")
        seen += rows.evaluate_all("rows => rows.map(r => Number(r.dataset.callback))")
    assert seen == open_tasks
    assert not w.errors


NAMELESS = """() => Array.from(document.querySelectorAll("input, textarea, select"))
    .filter((el) => el.type !== "hidden")
    .filter((el) => !(el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")
        || el.title || el.closest("label")
        || (el.id && document.querySelector('label[for="' + el.id + '"]'))))
    .map((el) => el.outerHTML.slice(0, 80))"""


def every_view(reply_id: int) -> tuple[str, ...]:
    """Each view an admin opens from the header, and one draft's page."""
    views = ("/queue", "/callbacks", "/escalations", "/praise", "/stats", "/audit", "/users")
    return (*views, f"/drafts/{reply_id}")


def test_every_field_has_a_name_a_screen_reader_can_say(open_as: OpenAs, db: Store) -> None:
    w = open_as("root")
    for path in every_view(pending_replies(db)[0]):
        page = w.go(path)
        assert page.evaluate(NAMELESS) == [], path
    # the charts are pictures: their figures are also there as tables
    page = w.go("/stats?days=7")
    page.click("#figures-as-tables summary")
    expect(page.locator("#table-days tbody tr")).to_have_count(7)
    # dispositions as people call them, complaints first, as reports list them
    heads = page.locator("#table-days thead th").all_inner_texts()
    assert heads[:3] == ["day (UTC)", "complaint", "praise"] and "interesting_bad" not in heads
    assert heads[-1] == "net sentiment"
    assert page.locator("#table-weeks tbody tr").count() >= 1
    # the charts' legends in the same order, and root causes most complained-of first
    page.wait_for_function("document.body.dataset.chartsReady === 'yes'")
    labels = "id => Chart.getChart(document.getElementById(id)).data.datasets.map(d => d.label)"
    assert page.evaluate(labels, "chart-days")[:2] == ["complaint", "praise"]
    causes = page.evaluate(labels, "chart-topics")
    totals = page.evaluate(
        "() => Chart.getChart(document.getElementById('chart-topics')).data.datasets"
        ".map(d => d.data.reduce((a, b) => a + b, 0))"
    )
    assert len(causes) > 1 and totals == sorted(totals, reverse=True)
    colours = page.evaluate(
        "() => Chart.getChart(document.getElementById('chart-topics')).data.datasets"
        ".map(d => d.backgroundColor)"
    )
    assert not {"#c0392b", "#27ae60"} & set(colours)  # not complaint red, not praise green
    assert not w.errors


def test_marking_a_callback_done_on_its_case_keeps_the_task(open_as: OpenAs, db: Store) -> None:
    callback = next(c for c in db.callbacks("open") if c.case_id is not None)
    w = open_as("bob")
    page = w.go(f"/cases/{callback.case_id}")
    item = page.locator(f'li[data-callback="{callback.id}"]')
    item.locator("button.callback-done").click()
    expect(item.locator(".done-note")).to_have_text("done by bob")
    expect(item.locator(".status")).to_have_text("done")
    expect(item.locator(".task")).to_have_text(callback.body)
    assert db.callbacks("done")[0].done_by == "bob"


def test_leaving_an_unsaved_edit_asks_first(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[0]
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    page.keyboard.press("e")
    page.keyboard.type(" And thanks.")
    page.keyboard.press("Escape")
    for key in ("u", "j"):
        page.keyboard.press(key)  # the test's dialogs answer no: stay
        wait_until(page, lambda: len(w.dialogs) == ("u", "j").index(key) + 1)  # noqa: B023
        expect(page).to_have_url(re.compile(rf"/drafts/{reply_id}$"))
    assert w.dialogs[0] == "Your edit to this draft is not saved. Leave it anyway?"
    assert page.locator("#draft-body").input_value().endswith(" And thanks.")
    w.accept = True
    page.keyboard.press("u")
    expect(page).to_have_url(re.compile(r"/queue$"))
    assert w.dialog_kinds == ["confirm"] * 3  # not asked again by the browser

    other = open_as("alice")
    page = other.go(f"/drafts/{reply_id}")
    page.keyboard.press("e")
    page.keyboard.type(" Unsaved.")
    page.close(run_before_unload=True)  # closing the tab: the browser asks
    wait_until(page, lambda: other.dialog_kinds == ["beforeunload"])
    assert db.reply(reply_id).status == "pending"


def test_escalating_or_resolving_from_the_keyboard_asks_first(open_as: OpenAs, db: Store) -> None:
    reply_id, case_id = pending_in_an_open_case(db)
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    page.keyboard.press("x")
    wait_until(page, lambda: w.dialogs)
    assert w.dialogs == [f"Escalate case {case_id}?"]
    expect(page.locator("#case-status")).to_have_text("open")
    assert db.case(case_id).status == "open"
    page.click("#escalate")  # the button is a deliberate act: no question
    expect(page.locator("#case-status")).to_have_text("escalated")
    assert len(w.dialogs) == 1


def test_x_or_s_on_a_case_they_cannot_change_says_why(open_as: OpenAs, db: Store) -> None:
    # the keys used to do nothing and say nothing on a resolved case
    reply_id, case_id = pending_in_an_open_case(db)
    db.resolve_case(case_id, "bob")
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    page.keyboard.press("s")
    expect(page.locator("#flash .flash-text")).to_have_text(
        f"Case {case_id} is resolved already: Reopen case undoes that."
    )
    page.keyboard.press("x")
    expect(page.locator("#flash .flash-text")).to_have_text(
        f"Case {case_id} is resolved: only an open case is escalated."
    )
    assert w.dialogs == [] and db.case(case_id).status == "resolved"
    assert not w.errors


def test_flash_messages_stay_until_dismissed(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[0]
    w = open_as("alice")
    page = w.page
    page.clock.install()
    page = w.go(f"/drafts/{reply_id}")
    flash = page.locator("#flash")
    page.locator("#draft-body").fill("é" * 281)
    page.click("#approve")
    expect(flash).to_have_class("error")
    page.clock.run_for(30_000)
    expect(flash).to_be_visible()  # an error stays until dismissed
    flash.locator("button.flash-close").click()
    expect(flash).to_be_hidden()
    page.locator("#draft-body").fill("Sorry about this, we're on it.")
    page.click("#save-edit")
    expect(flash).to_have_class("ok")
    expect(flash).to_contain_text("Edit saved")
    page.clock.run_for(60_000)
    # a success stays too: one gone in five seconds was missed by whoever looked away
    expect(flash).to_contain_text("Edit saved")
    flash.locator("button.flash-close").click()
    expect(flash).to_be_hidden()
    assert not w.errors


def test_the_selected_stats_range_is_highlighted(open_as: OpenAs) -> None:
    page = open_as("vera").go("/stats?days=7")
    selected = page.locator("#ranges a[aria-current='page']")
    expect(selected).to_have_text("7 days")

    def weight(selector: str) -> int:
        return int(page.locator(selector).evaluate("el => getComputedStyle(el).fontWeight"))

    assert weight("#ranges a[aria-current='page']") >= 600
    assert weight("#ranges a[href='/stats?days=30']") < 600


def test_no_page_is_wider_than_a_phone(open_as: OpenAs, db: Store) -> None:
    with_links = [
        int(row[0])
        for row in db.conn.execute(
            "SELECT r.id FROM replies r JOIN mentions m ON m.id = r.mention_id "
            "WHERE m.text LIKE '%https://%' ORDER BY length(m.text) DESC LIMIT 3"
        )
    ]
    with_callbacks = [
        int(row[0])
        for row in db.conn.execute(
            "SELECT min(r.id) FROM replies r JOIN callbacks c ON c.case_id = r.case_id "
            "GROUP BY r.case_id ORDER BY max(length(c.body)) DESC LIMIT 3"
        )
    ]
    drafts = [reply_for(db, "hostile-1"), pending_replies(db)[0], *with_links, *with_callbacks]
    paths = [
        "/queue",
        "/queue?q=down",
        "/callbacks?status=all",
        "/escalations",
        "/users",
        "/audit",
        "/praise",
        "/stats",
        "/stats?days=0",
        "/no/such/page",
        *[f"/drafts/{d}" for d in drafts],
    ]
    w = open_as("root", width=390)
    wide = {}
    for path in paths:
        page = w.go(path)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        if width > 390:
            wide[path] = width
        if path == "/callbacks?status=all":
            w.shot("callbacks-390")
    assert wide == {}
    page = open_as(width=390).go("/login")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390


def test_a_disabled_source_shows_in_the_header_and_on_stats(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    name = config.sources[0].name
    error = "401 Unauthorized: " + "the token was revoked by the platform " * 8
    health.record_failure(db, name, "disabled", error=error, retry_at=None)
    try:
        w = open_as("alice", width=390)
        page = w.go("/queue")
        link = page.locator("#sources-link")
        expect(link).to_contain_text("Sources 1")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        link.click()
        expect(page).to_have_url(re.compile(r"/stats#sources$"))
        row = page.locator(f"tr[data-source='{name}']")
        expect(row).to_contain_text("disabled")
        expect(row).to_contain_text("fix its credentials and restart Earful")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        w.shot("stats-source-disabled-390")
        assert not w.errors
    finally:
        db.conn.execute("DELETE FROM source_health")  # the module's later tests see none


# -- review fixes (console-fixes) ---------------------------------------------------------


def fresh_draft(
    db: Store,
    config: Config,
    native_id: str,
    text: str | None = None,
    *,
    created_at: datetime | Literal["now"] | None = "now",
) -> int:
    """A pending draft of its own, so a test does not depend on the others' drafts."""
    post = text or f"@LumenetHelp lumenet broadband down in Leeds, no internet at all ({native_id})"
    ingest(
        db, build_stages(config), post, native_id=native_id, handle=native_id, created_at=created_at
    )
    return reply_for(db, native_id)


def test_approving_a_text_someone_edited_meanwhile_shows_their_text_first(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    reply_id = fresh_draft(db, config, "stale-1")
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    expect(page.locator("#char-count")).not_to_be_empty()
    db.edit(reply_id, "bob", "Bob's text: we'll refund you 1000 EUR today.")
    page.click("#approve")
    expect(page.locator("#flash")).to_contain_text("bob changed its text at")
    expect(page.locator("#flash")).to_contain_text("The editor now shows their text.")
    expect(page.locator("#draft-body")).to_have_value(
        "Bob's text: we'll refund you 1000 EUR today."
    )
    expect(page.locator("#reply-status")).to_have_text("pending")
    assert db.reply(reply_id).status == "pending"
    page.click("#approve")  # now on the text shown
    expect(page.locator("#reply-status")).to_have_text("approved")
    assert db.reply(reply_id).body == "Bob's text: we'll refund you 1000 EUR today."
    assert not w.errors


def test_saving_an_edit_over_someone_elses_keeps_both_texts_in_view(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    reply_id = fresh_draft(db, config, "stale-2")
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    page.locator("#draft-body").fill("Alice's text")
    db.edit(reply_id, "bob", "Bob's text")
    page.click("#save-edit")
    expect(page.locator("#flash")).to_contain_text("bob changed its text at")
    expect(page.locator("#their-edit-text")).to_have_text("Bob's text")
    expect(page.locator("#their-edit")).to_be_visible()
    expect(page.locator("#draft-body")).to_have_value("Alice's text")
    assert db.reply(reply_id).body == "Bob's text"
    page.click("#save-edit")  # knowing theirs, alice saves hers
    expect(page.locator("#flash")).to_contain_text("Edit saved")
    expect(page.locator("#their-edit")).to_be_hidden()
    assert db.reply(reply_id).body == "Alice's text"


def test_the_live_queue_polls_as_background_requests(open_as: OpenAs) -> None:
    """Its polling is marked so that the server does not count it as use (an open
    tab must not keep an idle login alive; test_console_http checks the server)."""
    w = open_as("alice")
    page = w.go("/queue")
    with page.expect_request(lambda r: "/api/queue?" in r.url) as polled:
        pass
    assert polled.value.headers.get("x-earful-background") == "1"


def test_a_draft_starting_with_a_newline_is_not_taken_for_an_unsaved_edit(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    reply_id = fresh_draft(db, config, "newline-1")
    db.edit(reply_id, "bob", "\nHi, sorry about the outage - DM us.")
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    expect(page.locator("#draft-body")).to_have_value("\nHi, sorry about the outage - DM us.")
    page.keyboard.press("u")  # nothing typed: leaves without asking
    expect(page).to_have_url(re.compile(r"/queue$"))
    assert w.dialogs == []


WHOLE_TEXT = """(el => {
  const more = el.querySelector("details.more-text");
  const text = (nodes) =>
    nodes.filter((n) => n.nodeName !== "SUMMARY").map((n) => n.textContent).join("");
  const head = Array.from(el.childNodes).filter((n) => n !== more);
  return text(head) + (more ? text(Array.from(more.childNodes)) : "");
})"""


def test_a_post_with_a_huge_word_shows_whole_with_break_points_and_the_rest_on_demand(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    """Laid out with a break opportunity every few dozen characters (measured: a
    40,000-letter word took Chromium 9 s to lay out without them, 0.3 s with),
    and past 20,000 characters the rest waits behind "Show the other …"."""
    post = "@LumenetHelp lumenet internet down, furious " + "A" * 40_000 + " end"
    reply_id = fresh_draft(db, config, "huge-1", post)
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    shown = page.locator("article.focus .post-text")
    assert shown.locator("wbr").count() >= 40_000 // 40 - 1
    more = shown.locator("details.more-text")
    expect(more.locator("summary")).to_have_text("Show the other 20,048 characters")
    assert more.evaluate("d => d.open") is False
    assert shown.evaluate(WHOLE_TEXT) == post  # every character is on the page
    more.locator("summary").click()
    assert more.evaluate("d => d.open") is True
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not w.errors


POSTED = datetime(2026, 11, 30, 3, 32, 10, tzinfo=UTC)


def shown_in(zone: str, moment: datetime) -> str:
    """`moment` as console.js shows it to a viewer in `zone` (en-GB, as open_as
    sets it): "30 Nov 2026, 12:32 GMT+9"."""
    local = moment.astimezone(ZoneInfo(zone))
    offset = local.utcoffset() or timedelta()
    return f"{local.day} {local:%b %Y, %H:%M} GMT{int(offset.total_seconds() // 3600):+d}"


@pytest.mark.parametrize(
    ("zone", "local"),
    [("Asia/Tokyo", "30 Nov 2026, 12:32 GMT+9"), ("America/New_York", "29 Nov 2026, 22:32 GMT-5")],
)
def test_times_show_in_the_viewers_zone_with_the_exact_utc_time_in_the_title(
    open_as: OpenAs, db: Store, config: Config, zone: str, local: str
) -> None:
    assert shown_in(zone, POSTED) == local
    reply_id = fresh_draft(db, config, "zone-" + zone.split("/")[1].lower(), created_at=POSTED)
    w = open_as("alice", zone=zone)
    page = w.go(f"/drafts/{reply_id}")
    posted = page.locator("article.mention.focus time.when")
    expect(posted).to_have_text(local)  # from the server's <time>
    expect(posted).to_have_attribute("title", "2026-11-30 03:32:10 UTC")
    expect(posted).to_have_attribute("datetime", "2026-11-30T03:32:10.000Z")
    # times the script writes from the API's JSON: the History after a change,
    # and who decided when
    page.keyboard.press("m")
    expect(page.locator("#history")).to_contain_text("alice · case assign")
    page.click("#approve")
    expect(page.locator("#reply-status")).to_have_text("approved")
    decided = db.reply(reply_id).decided_at
    assert decided is not None
    at = datetime.fromisoformat(decided)
    exact = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    # the approval's own line: the timeline runs oldest first, and the assignment
    # above it may fall in an earlier second
    approval = page.locator("#history li", has_text="alice · approve").locator("time.when")
    for stamp in (page.locator("#decided time.when"), approval):
        expect(stamp).to_have_text(shown_in(zone, at))
        expect(stamp).to_have_attribute("title", exact)
    w.shot("case-times-" + zone.split("/")[1].lower())
    assert "Invalid Date" not in page.inner_text("main")
    assert not w.errors


def test_a_queue_row_shows_its_posts_age_and_who_took_its_case(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    def post(native_id: str, created_at: datetime | None) -> int:
        text = (
            f"@LumenetHelp lumenet internet down AGAIN, no broadband, furious agecheck {native_id}"
        )
        return fresh_draft(db, config, native_id, text, created_at=created_at)

    aged = post("aged-1", datetime.now(UTC) - timedelta(hours=3, minutes=10))
    timeless = post("aged-2", None)  # the platform did not say when
    w = open_as("alice")
    page = w.page
    page.clock.install()  # the page's clock: the test moves it an hour on below
    w.go("/queue?q=agecheck")
    row = page.locator(f'li.queue-item[data-id="{aged}"]')
    taken = row.locator('[data-field="assignee"]')
    expect(row.locator("time.age")).to_have_text("3 h ago")
    expect(row.locator("time.age")).to_have_attribute("title", re.compile(r"\(20\d\d-.* UTC\)$"))
    expect(taken).to_be_hidden()
    unknown = page.locator(f'li.queue-item[data-id="{timeless}"] [data-field="posted"]')
    expect(unknown).to_have_text("time unknown")
    case_id = db.reply(aged).case_id
    assert case_id is not None
    db.assign_case(case_id, "bob", "bob")
    with page.expect_response(re.compile(r"/api/queue\?")):
        page.clock.fast_forward("01:00:00")  # an hour on: the page asks for its rows again
    expect(row.locator("time.age")).to_have_text("4 h ago")
    expect(taken).to_have_text("taken by bob")
    expect(unknown).to_have_text("time unknown")  # from the JSON too, never "Invalid Date"
    w.shot("queue-age-assignee")
    page.reload()
    expect(taken).to_have_text("taken by bob")  # as the server writes the row
    assert not w.errors


def test_no_page_shows_a_raw_timestamp(open_as: OpenAs, db: Store, config: Config) -> None:
    reply_id = fresh_draft(db, config, "raw-1")
    db.approve(reply_id, "bob")
    health.record_ok(db, config.sources[0].name)  # the stats page's "last good poll"
    try:
        w = open_as("root")
        raw = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|Invalid Date")
        for path in every_view(reply_id):
            page = w.go(path)
            expect(page.locator("main time.when").first).to_be_attached()
            found = raw.search(page.inner_text("main"))
            assert found is None, f"{path} shows {found.group()!r}"
        assert not w.errors
    finally:
        db.conn.execute("DELETE FROM source_health")  # the module's later tests see none


# -- from a support agent's shift (helper walkthrough, 2026-12-02) --------------------


def open_case_with_an_open_task(db: Store) -> tuple[int, int]:
    """A pending reply whose open case has an open callback task."""
    open_tasks = {c.case_id for c in db.callbacks("open", limit=1000)}
    for reply_id in pending_replies(db):
        case_id = db.reply(reply_id).case_id
        if case_id is not None and case_id in open_tasks and db.case(case_id).status == "open":
            return reply_id, case_id
    raise AssertionError("no pending reply in an open case with an open task")


def test_resolving_says_it_closes_the_callback_task_and_the_note_is_not_reused(
    open_as: OpenAs, db: Store
) -> None:
    reply_id, case_id = open_case_with_an_open_task(db)
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    page.fill("#case-note", "a journalist is asking")
    page.click("#escalate")
    expect(page.locator("#case-status")).to_have_text("escalated")
    # the note went with the escalation; the next action needs its own
    expect(page.locator("#case-note")).to_have_value("")
    expect(page.locator("#escalate")).to_be_disabled()
    # the click asks, since it closes a promised call (the test's dialogs answer no)
    page.click("#resolve")
    wait_until(page, lambda: w.dialogs)
    assert w.dialogs == [f"Resolve case {case_id}? Its open callback task is closed with it."]
    assert db.case(case_id).status == "escalated"
    w.accept = True
    page.click("#resolve")
    expect(page.locator("#case-status")).to_have_text("resolved")
    expect(page.locator("#flash")).to_contain_text("Its open callback task is closed with it.")
    expect(page.locator("[data-callback] button.callback-done")).to_have_count(0)
    expect(page.locator("#resolve")).to_be_disabled()
    lines = page.locator("#history li").all_inner_texts()
    resolved = [line for line in lines if "case resolve" in line]
    assert resolved and not resolved[0].endswith("a journalist is asking")
    # one timeline, oldest first: the escalation comes before the resolution
    escalated = next(i for i, line in enumerate(lines) if "case escalate" in line)
    assert escalated < lines.index(resolved[0])
    # a misclick is undone: the case is as it was (escalated), its task open again
    expect(page.locator("#flash")).to_contain_text("Reopen case undoes it.")
    page.click("#reopen-case")
    expect(page.locator("#case-status")).to_have_text("escalated")
    expect(page.locator("#flash")).to_contain_text(
        "Case reopened: it is escalated again. Its callback task is open again."
    )
    expect(page.locator("[data-callback] button.callback-done").first).to_be_visible()
    expect(page.locator("#reopen-case")).to_be_hidden()
    assert db.case(case_id).status == "escalated"
    assert not w.errors


def test_someone_elses_decision_shows_as_the_server_has_it(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[5]
    first, second = open_as("alice"), open_as("bob")
    first.go(f"/drafts/{reply_id}")
    page = second.go(f"/drafts/{reply_id}")
    first.page.click("#approve")
    expect(first.page.locator("#reply-status")).to_have_text("approved")
    page.fill("#reject-reason", "duplicate")
    page.click("#reject")
    expect(page.locator("#flash")).to_contain_text("already approved by alice")
    expect(page.locator("#reply-status")).to_have_text("approved")
    expect(page.locator("#decided")).to_contain_text("decided by alice")


def test_an_unsaved_edit_outlives_the_session(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[6]
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    page.keyboard.press("e")
    page.keyboard.type(" Kept across the login.")
    edited = page.locator("#draft-body").input_value()
    # logged out in another tab: this tab's approval is refused, and says the edit is kept
    other = w.context.new_page()
    other.goto(w.base_url + "/queue")
    other.click("header .who button")
    expect(other).to_have_url(re.compile(r"/login$"))
    page.click("#approve")
    expect(page.locator("#flash")).to_contain_text("Your edit is kept in this tab")
    assert db.reply(reply_id).status == "pending"
    w.accept = True  # the browser's leave prompt: yes
    w.login("alice")
    page = w.go(f"/drafts/{reply_id}")
    expect(page.locator("#draft-body")).to_have_value(edited)
    expect(page.locator("#flash")).to_contain_text("Your unsaved edit is back in the editor")
    page.click("#approve")
    expect(page.locator("#reply-status")).to_have_text("approved")
    assert db.reply(reply_id).body == edited.strip()
    # decided: nothing is put back any more
    page = w.go(f"/drafts/{reply_id}")
    expect(page.locator("#flash")).not_to_contain_text("back in the editor")


def test_an_edit_left_on_purpose_is_not_put_back(open_as: OpenAs, db: Store) -> None:
    reply_id = pending_replies(db)[7]
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    original = page.locator("#draft-body").input_value()
    page.keyboard.press("e")
    page.keyboard.type(" THROWN AWAY")
    page.keyboard.press("Escape")  # out of the editor: keys are shortcuts again
    w.accept = True  # "Your edit to this draft is not saved. Leave it anyway?": yes
    page.keyboard.press("u")
    expect(page).to_have_url(re.compile(r"/queue$"))
    page = w.go(f"/drafts/{reply_id}")
    expect(page.locator("#draft-body")).to_have_value(original)
    expect(page.locator("#flash")).not_to_contain_text("back in the editor")


def test_a_selected_draft_decided_elsewhere_leaves_nothing_selected(
    open_as: OpenAs, db: Store
) -> None:
    # x picked the row that moved up into the decided one's place: never looked at
    w = open_as("alice")
    page = w.go("/queue")
    page.keyboard.press("j")
    selected = page.locator("li.queue-item.selected")
    expect(selected).to_have_count(1)
    chosen = int(selected.get_attribute("data-id") or 0)
    db.approve(chosen, "bob")
    expect(page.locator(f'li.queue-item[data-id="{chosen}"]')).to_have_count(0, timeout=10_000)
    expect(page.locator("li.queue-item.selected")).to_have_count(0)
    page.keyboard.press("x")
    expect(page.locator("li.queue-item .pick:checked")).to_have_count(0)
    page.keyboard.press("j")  # goes on from where it was: the row now in its place
    expect(page.locator("li.queue-item").first).to_have_class(re.compile("selected"))


def test_j_goes_on_below_the_rows_that_stay_when_rows_above_leave_too(
    open_as: OpenAs, db: Store
) -> None:
    w = open_as("alice")
    page = w.go("/queue")
    before = _shown(page)
    for _ in range(4):
        page.keyboard.press("j")
    expect(page.locator("li.queue-item.selected")).to_have_attribute("data-id", str(before[3]))
    # the selected draft and the one above it are decided elsewhere, in one poll or two
    db.approve(before[3], "bob")
    db.approve(before[2], "bob")
    expect(page.locator(f'li.queue-item[data-id="{before[2]}"]')).to_have_count(0, timeout=10_000)
    expect(page.locator(f'li.queue-item[data-id="{before[3]}"]')).to_have_count(0)
    expect(page.locator("li.queue-item.selected")).to_have_count(0)
    page.keyboard.press("j")  # the first row below the two rows that stayed above it
    expect(page.locator("li.queue-item.selected")).to_have_attribute("data-id", str(before[4]))
    page.keyboard.press("k")
    page.keyboard.press("k")
    expect(page.locator("li.queue-item.selected")).to_have_attribute("data-id", str(before[0]))
    assert not w.errors


def test_a_queue_that_gets_no_answer_says_it_is_not_up_to_date(open_as: OpenAs) -> None:
    """Earful stopped under an open queue: the list no longer follows the queue,
    and the page says so (since when) instead of looking live; once the console
    answers again the note goes. The connection is refused by Playwright's router,
    as a stopped daemon's port refuses it."""
    w = open_as("alice")
    page = w.go("/queue")
    stale = page.locator("#stale")
    expect(stale).to_be_hidden()
    page.route("**/api/queue?*", lambda route: route.abort("connectionrefused"))
    expect(stale).to_be_visible()
    expect(stale).to_contain_text("Not up to date: the console has not answered since")
    expect(stale.locator("time.when")).to_have_count(1)
    w.shot("queue-no-answer")
    page.unroute("**/api/queue?*")
    expect(stale).to_be_hidden()
    assert w.errors == []


def test_a_decision_that_gets_no_answer_says_so_and_keeps_the_edit(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    """Not the browser's bare "Failed to fetch": the person is told the console
    did not answer, the edit stays in the editor, and the count says why it is
    missing."""
    reply_id = fresh_draft(db, config, "no-answer-1")
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    expect(page.locator("#char-count")).to_contain_text("/ 280")
    page.route("**/api/**", lambda route: route.abort("connectionrefused"))
    page.locator("#draft-body").fill("Sorry - we're on it, DM us your number.")
    expect(page.locator("#char-count")).to_have_text("no count: the console is not answering")
    page.click("#approve")
    expect(page.locator("#flash")).to_contain_text(
        "No answer from the console (is Earful still running?): try again once it is back"
    )
    expect(page.locator("#flash")).not_to_contain_text("Failed to fetch")
    expect(page.locator("#draft-body")).to_have_value("Sorry - we're on it, DM us your number.")
    page.unroute("**/api/**")
    page.click("#approve")
    expect(page.locator("#flash")).to_contain_text("Approved with your edit")
    assert db.reply(reply_id).status == "approved"


def test_a_queue_row_is_one_short_preview_that_polling_leaves_as_it_is(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    """A post of blank lines does not make its row a screen tall, and the live
    queue's first poll does not rewrite a long post's row (the page and the script
    each cut it their own way, and the script showed a lone surrogate as U+FFFD
    where the page writes its escape)."""
    words = " ".join(f"word{i}" for i in range(80))
    text = "@LumenetHelp lumenet broadband down zzpreview\n" + "\n" * 20 + "\ud83d " + words
    reply_id = fresh_draft(db, config, "preview-1", text)
    w = open_as("alice")
    page = w.go("/queue?q=zzpreview")
    row = page.locator(f'li.queue-item[data-id="{reply_id}"] [data-field="text"]')
    written = row.inner_text()
    assert written.startswith("@LumenetHelp lumenet broadband down zzpreview \\ud83d word0 word1")
    assert written.endswith("...") and "\n" not in written
    assert row.bounding_box()["height"] < 100  # type: ignore[index]  # three lines at most
    with page.expect_response(lambda r: "/api/queue?" in r.url):
        pass
    with page.expect_response(lambda r: "/api/queue?" in r.url):
        pass  # the row has been filled from an answer
    assert row.inner_text() == written


LINES_OF = """cells => cells.map(cell => {
  const range = document.createRange();
  range.selectNodeContents(cell);
  return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
})"""


@pytest.mark.parametrize("width", [1280, 390])
def test_a_verdicts_rule_names_and_weights_are_not_broken_across_lines(
    open_as: OpenAs, db: Store, config: Config, width: int
) -> None:
    """The reasons table squeezed its first and last columns until "rule:outage"
    read "rule:out / age" and a weight of -0.4939 read "-0.493 / 9"."""
    reply_id = fresh_draft(db, config, f"reasons-{width}")
    w = open_as("alice", width=width)
    page = w.go(f"/drafts/{reply_id}")
    rows = page.locator("table.reasons tr:has(td)")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 3
    for column in ("td:first-child", "td:last-child"):
        cells = page.locator(f"table.reasons {column}")
        assert set(cells.evaluate_all(LINES_OF)) == {1}, cells.all_inner_texts()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    w.shot(f"reasons-{width}")


def test_m_twice_assigns_once(open_as: OpenAs, db: Store, config: Config) -> None:
    reply_id = fresh_draft(db, config, "assign-twice-1")
    case_id = db.reply(reply_id).case_id
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    page.keyboard.press("m")
    expect(page.locator("#flash .flash-text")).to_have_text("Assigned to you.")
    page.keyboard.press("m")
    expect(page.locator("#flash .flash-text")).to_have_text(f"Case {case_id} is already yours.")
    expect(page.locator("#history li", has_text="case assign")).to_have_count(1)
    assert [e.action for e in db.audit_log(subject=f"case:{case_id}")].count("assign") == 1
    assert not w.errors


# Contrast as WCAG 2 computes it, over the nearest background the text sits on.
LOW_CONTRAST = """() => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const under = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if ((rgb(c)[3] ?? 1) > 0) return c;
    }
    return "rgb(255, 255, 255)";
  };
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !el.getClientRects().length) continue;
    if (el.closest(":disabled")) continue;
    const style = getComputedStyle(el);
    const [a, b] = [lum(style.color), lum(under(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(style.fontSize) >= 24
      || (parseInt(style.fontWeight) >= 700 && parseFloat(style.fontSize) >= 18.66);
    if (ratio < (large ? 3 : 4.5)) low.push(walker.currentNode.textContent.trim().slice(0, 40));
  }
  return low;
}"""


def test_all_text_is_readable_against_its_background(open_as: OpenAs, db: Store) -> None:
    w = open_as("root")
    for path in every_view(pending_replies(db)[0]):
        assert w.go(path).evaluate(LOW_CONTRAST) == [], path


def test_the_first_tab_skips_the_header_to_the_page(open_as: OpenAs) -> None:
    page = open_as("alice").go("/queue")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # seen when it has focus, off-screen otherwise
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#search")).to_be_focused()


def test_after_a_decision_focus_is_on_what_happened_not_lost(open_as: OpenAs, db: Store) -> None:
    first, second = pending_replies(db)[:2]
    w = open_as("alice")
    page = w.go(f"/drafts/{first}")
    page.focus("#approve")
    page.keyboard.press("Enter")
    flash = page.locator("#flash")
    expect(flash).to_contain_text("Approved.")
    # the Approve button is disabled now: focus on the message, and Tab goes on from it
    expect(flash).to_be_focused()
    page = w.go(f"/drafts/{second}")
    page.fill("#reject-reason", "not for us")
    page.keyboard.press("Enter")
    expect(flash).to_contain_text("Rejected.")
    expect(flash).to_be_focused()
    # the flash region stays in the page (a live region that is removed and put
    # back with its message is not announced); dismissed, it is only emptied
    flash.locator("button.flash-close").click()
    expect(flash).to_be_hidden()
    assert flash.get_attribute("aria-live") == "polite"
    assert not w.errors


def test_j_and_k_move_focus_to_the_selected_row(open_as: OpenAs) -> None:
    page = open_as("alice").go("/queue")
    page.keyboard.press("j")
    page.keyboard.press("j")
    second = page.locator("li.queue-item").nth(1)
    expect(second).to_have_class(re.compile("selected"))
    expect(second.locator("a.open")).to_be_focused()
    page.keyboard.press("k")
    expect(page.locator("li.queue-item").first.locator("a.open")).to_be_focused()


def test_the_charts_are_named_and_fit_a_320_pixel_window(open_as: OpenAs) -> None:
    page = open_as("vera", width=320).go("/stats")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 320
    for chart in page.locator("canvas").all():
        assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")


def test_enter_on_a_queue_link_follows_it(open_as: OpenAs) -> None:
    page = open_as("alice").go("/queue")
    page.focus("header nav a[href='/callbacks']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/callbacks")
    page = page.context.pages[0]
    page.goto(page.url.replace("/callbacks", "/queue"))
    third = page.locator("li.queue-item").nth(2)
    draft = third.get_attribute("data-id")
    third.locator("a.open").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/drafts/{draft}*")


def test_a_row_reached_with_tab_is_the_one_x_picks(open_as: OpenAs) -> None:
    page = open_as("alice").go("/queue")
    third = page.locator("li.queue-item").nth(2)
    third.locator("a.open").focus()
    expect(third).to_have_class(re.compile("selected"))
    page.keyboard.press("x")
    expect(third.locator(".pick")).to_be_checked()
    expect(page.locator("#picked-count")).to_have_text("1")


def test_each_accounts_buttons_say_whose_they_are(open_as: OpenAs, db: Store) -> None:
    db.add_user("quinn", "agent", hash_password(PASSWORD), actor="tests")
    page = open_as("root").go("/users")
    expect(page.get_by_role("button", name="Disable alice", exact=True)).to_have_count(1)
    expect(page.get_by_role("button", name="set the new password for bob")).to_have_count(1)
    page.get_by_role("button", name="Disable quinn", exact=True).click()
    # the name follows the button's own text as it changes
    expect(page.get_by_role("button", name="Enable quinn", exact=True)).to_have_count(1)
    page.get_by_role("button", name="Enable quinn", exact=True).click()
    expect(page.get_by_role("button", name="Disable quinn", exact=True)).to_have_count(1)


def test_the_help_and_each_navigation_have_names(open_as: OpenAs, db: Store) -> None:
    page = open_as("alice").go("/queue")
    expect(page.get_by_role("navigation", name="console")).to_have_count(1)
    expect(page.get_by_role("navigation", name="pages")).to_have_count(1)
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page = open_as("alice").go(f"/drafts/{pending_replies(db)[0]}")
    expect(page.get_by_role("navigation", name="drafts in this queue")).to_have_count(1)


def test_each_callback_column_and_mark_done_is_named(open_as: OpenAs) -> None:
    page = open_as("alice").go("/callbacks")
    heads = page.locator("#callbacks th").all_inner_texts()
    assert all(h.strip() for h in heads), heads
    row = page.locator("#callbacks tr[data-callback]").first
    task = row.locator("td.task").inner_text()
    # a screen reader hears which task "Mark done" closes, not the same words 100 times
    expect(row.locator("button.callback-done")).to_have_accessible_description(task)


# -- a11y and bidi (a11ybidi) -------------------------------------------------------------


def _count_changes(page: Page, selector: str) -> None:
    """From now on, window.changes counts the changes to what `selector` holds."""
    page.evaluate(
        """selector => {
            window.changes = 0;
            new MutationObserver(() => window.changes++).observe(
                document.querySelector(selector),
                {childList: true, characterData: true, subtree: true});
        }""",
        selector,
    )


def test_the_live_queue_tells_a_screen_reader_what_arrived_and_nothing_else(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    w = open_as("alice")
    answers: list[str] = []
    w.page.on("response", lambda r: answers.append(r.url) if "/api/queue" in r.url else None)
    page = w.go("/queue?q=quokka")  # a view of its own: only this test's drafts are in it
    news = page.locator("#queue-news")
    expect(news).to_have_attribute("aria-live", "polite")
    _count_changes(page, "#queue-news")
    wait_until(page, lambda: len(answers) >= 3)
    assert page.evaluate("window.changes") == 0  # polls that bring nothing say nothing

    urgent = x_mention(
        "@LumenetHelp Lumenet down AGAIN. Mobile AND home broadband dead for 3 days, "
        "furious, cancelling my contract today, quokka",
        native_id="news-urgent",
        handle="newsurgent",
    )
    calm = x_mention(
        "does lumenet sell a mesh router? quokka", native_id="news-calm", handle="curious"
    )
    # one batch, so one poll brings both
    store_batch("tests", FetchResult((urgent, calm), None), db, build_stages(config))
    urgencies = sorted(
        db.verdict(db.reply(reply_for(db, n)).mention_id).urgency
        for n in ("news-urgent", "news-calm")
    )
    assert urgencies[0] < config.responders.escalate_at <= urgencies[1]
    expect(news).to_have_text("2 new drafts, 1 urgent.", timeout=10_000)
    expect(page.locator("#queue li.queue-item")).to_have_count(2)
    assert page.evaluate("window.changes") == 1
    seen = len(answers)
    wait_until(page, lambda: len(answers) >= seen + 3)
    assert page.evaluate("window.changes") == 1  # and then quiet again
    box = news.bounding_box()  # heard, not seen: the rows' green border shows it
    assert box is not None and box["width"] <= 1 and box["height"] <= 1
    assert not w.errors


def test_the_live_queue_calls_every_new_draft_urgent_when_every_complaint_escalates(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    # responders.escalate_at = 0 is a threshold too: the page read "0" as "none
    # given" and called only drafts at 80 or above urgent
    w = open_as("alice")
    page = w.page

    def escalating_everything(route: Route) -> None:  # the page such a console serves
        response = route.fetch()
        shown = f'data-urgent-at="{config.responders.escalate_at}"'
        route.fulfill(response=response, body=response.text().replace(shown, 'data-urgent-at="0"'))

    page.route(re.compile(r"/queue\?q=numbat$"), escalating_everything)
    answers: list[str] = []
    page.on("response", lambda r: answers.append(r.url) if "/api/queue" in r.url else None)
    w.go("/queue?q=numbat")
    expect(page.locator("#queue")).to_have_attribute("data-urgent-at", "0")
    wait_until(page, lambda: answers)

    calm = x_mention(
        "does lumenet sell a mesh router? numbat", native_id="news-calm-0", handle="curious0"
    )
    store_batch("tests", FetchResult((calm,), None), db, build_stages(config))
    assert db.verdict(db.reply(reply_for(db, "news-calm-0")).mention_id).urgency < 80
    expect(page.locator("#queue-news")).to_have_text("1 new urgent draft.", timeout=10_000)
    assert not w.errors


# Where `after` (the first text after `term` in the element `selector` names) is drawn:
# right of `term` when `term` cannot reorder what follows it. Both are found in the
# element's text as a whole, whichever nodes hold them.
_FOLLOWS = """([selector, term, after]) => {
    const root = document.querySelector(selector);
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const nodes = [];
    let text = "";
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        nodes.push([n, text.length]);
        text += n.data;
    }
    const at = (i) => {
        const [node, start] = nodes.filter(([, start]) => start <= i).pop();
        return [node, i - start];
    };
    const box = (from, to) => {
        const range = document.createRange();
        range.setStart(...at(from));
        range.setEnd(...at(to - 1));
        range.setEnd(range.endContainer, range.endOffset + 1);
        return range.getBoundingClientRect();
    };
    const t = text.indexOf(term);
    const a = text.indexOf(after, t + term.length);
    return [box(a, a + after.length).left, box(t, t + term.length).right];
}"""


def _drawn_after(page: Page, selector: str, term: str, after: str) -> bool:
    """`after` is drawn right of `term` (on the same line: the page is wide)."""
    after_left, term_right = page.evaluate(_FOLLOWS, [selector, term, after])
    return bool(after_left >= term_right - 1)


SPOOF = "evil\u202eeman"  # a right-to-left override: what follows it reads backwards


def test_a_handle_or_search_with_a_direction_override_reorders_nothing_after_it(
    open_as: OpenAs, db: Store, config: Config
) -> None:
    ingest(
        db,
        build_stages(config),
        "@LumenetHelp Lumenet down AGAIN. Mobile AND home broadband dead for 3 days, "
        "furious, cancelling my contract today",  # urgent: its task is on the first page
        native_id="spoof-1",
        handle=SPOOF,
    )
    # and a post that gets no draft: listed under the queue when their handle is searched
    ingest(
        db, build_stages(config), "walked past the lumenet shop", native_id="spoof-2", handle=SPOOF
    )
    task = db.conn.execute(
        "SELECT c.id FROM callbacks c JOIN mentions m ON m.id = c.mention_id "
        "WHERE m.native_id = 'spoof-1'"
    ).fetchone()[0]
    w = open_as("alice")
    page = w.go("/callbacks")
    cell = f'tr[data-callback="{task}"] td:nth-child(2)'
    expect(page.locator(cell)).to_contain_text("post")
    assert _drawn_after(page, cell, "@" + SPOOF, "post")

    page = w.go("/queue?q=" + quote("\u202ezebra"))
    assert _drawn_after(page, "#empty", "zebra", "(search reads")
    page = w.go("/queue?q=" + quote("@" + SPOOF))
    assert _drawn_after(page, "#other-mentions li", "@" + SPOOF, "x ·")
    assert not w.errors
