"""The console in a real browser: Playwright drives Debian's Chromium against the
console served on 127.0.0.1, over a store filled by the real pipeline.

Screenshots of each view go to test-artifacts/console/ (gitignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

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
)
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from earful.config import Config
from earful.pipeline import build_stages
from responders.limits import x_weighted_length
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
    """A page that records dialogs and script errors, which no test expects."""

    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.context = context
        self.page: Page = context.new_page()
        self.base_url = base_url
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
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


class OpenAs(Protocol):
    """A fresh browser context's page, logged in as `name` when one is given."""

    def __call__(self, name: str | None = None) -> Watched: ...


@pytest.fixture
def open_as(browser: Browser, base_url: str) -> Iterator[OpenAs]:
    contexts: list[BrowserContext] = []

    def make(name: str | None = None) -> Watched:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
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
    assert w.go("/audit").locator("body").inner_text().startswith("403")


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


def test_case_escalate_then_resolve(open_as: OpenAs, db: Store) -> None:
    reply_id = next(
        r
        for r in pending_replies(db)
        if (c := db.reply(r).case_id) is not None and db.case(c).status == "open"
    )
    case_id = db.reply(reply_id).case_id
    assert case_id is not None
    w = open_as("alice")
    page = w.go(f"/drafts/{reply_id}")
    before = int(page.locator("#escalated-count").inner_text())
    page.click("#escalate")
    expect(page.locator("#case-status")).to_have_text("escalated")
    page = w.go("/escalations")
    expect(page.locator(f'a[href="/cases/{case_id}"]')).to_be_visible()
    expect(page.locator("#escalated-count")).to_have_text(str(before + 1))
    w.shot("escalations")
    page = w.go(f"/drafts/{reply_id}")
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
        page.click("a[href='/praise.csv']")
    csv_text = Path(download.value.path()).read_text(encoding="utf-8")
    assert csv_text.startswith("id,platform,permalink")
    assert f"\n{mention_id}," in csv_text


def test_stats_draws_the_charts(open_as: OpenAs) -> None:
    w = open_as("vera")
    page = w.go("/stats")
    expect(page.locator("body")).to_have_attribute("data-charts-ready", "yes")
    assert page.locator("canvas").count() == 4
    w.shot("stats")
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
    expect(page.locator("#reply-status")).to_have_text("sent")
    expect(page.locator("#retry")).to_be_disabled()
    reply = db.reply(reply_id)
    assert (reply.status, reply.posted_id) == ("sent", "1800000000000000001")
    assert db.audit_log(subject=f"reply:{reply_id}")[0].actor == "alice"
    assert not w.errors


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
    expect(page.locator("#flash")).to_contain_text("zoe is now agent")
    assert db.user("zoe").role == "agent"
    row.locator("button.user-toggle").click()
    expect(row.locator(".status")).to_have_text("disabled")
    admin.shot("accounts")
    expect(zoe.go("/queue")).to_have_url(re.compile(r"/login\?next="))  # session ended
    assert db.user("zoe").disabled
    agent = open_as("alice")
    expect(agent.page.locator("header nav a[href='/users']")).to_have_count(0)
    assert not admin.errors


def test_hostile_text_is_stored_intact(db: Store) -> None:
    reply = db.reply(reply_for(db, "hostile-1"))
    assert reply.text == HOSTILE
