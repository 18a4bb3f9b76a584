// Earful console: one small script for every page. Post text is only ever put in
// the page with textContent, never as HTML.
"use strict";

(function () {
  const body = document.body;
  const page = body.dataset.page || "";
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  // A message under the header. It stays until dismissed (the close button) or
  // replaced by the next one, successes too: one that faded after a few seconds was
  // gone before a screen-magnifier user, someone reading slowly or someone who
  // looked away could read it (WCAG 2.2.1).
  function hideFlash() {
    const box = document.getElementById("flash");
    // emptied, not hidden: a live region taken out of the page and put back
    // with its message already in it is not announced by screen readers
    if (box) box.replaceChildren();
  }
  function flash(message, kind) {
    const box = document.getElementById("flash");
    if (!box) return;
    const text = document.createElement("span");
    text.className = "flash-text";
    text.textContent = message;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "flash-close";
    close.setAttribute("aria-label", "dismiss this message");
    close.title = "dismiss";
    close.textContent = "×";
    close.addEventListener("click", hideFlash);
    box.replaceChildren(text, close);
    box.className = kind || "info";
    // The action that led here often disables or removes the control that had
    // focus (Approve, Reject, Mark done): the browser then drops focus to the page
    // and a keyboard or screen-reader user is lost; the message is where they are.
    const had = document.activeElement;
    if (!had || had === document.body || had.disabled || !had.isConnected) box.focus();
  }

  // `background`: a request the page makes on its own (polling), which the server
  // does not count as use: an idle login still ends after session_ttl.
  async function api(method, url, payload, background) {
    const options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (background) options.headers["X-Earful-Background"] = "1";
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRF-Token"] = csrf();
      options.body = JSON.stringify(payload || {});
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (e) {
      // no answer at all (Earful stopped, the network down): the browser's own
      // "Failed to fetch" says nothing a person can act on
      const error = new Error(
        "No answer from the console (is Earful still running?): try again once it is back"
      );
      error.status = 0;
      throw error;
    }
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = { error: response.statusText };
    }
    if (!response.ok) {
      const error = new Error(data.error || response.statusText);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  // Set once the person presses "Log out": a background request that finds the
  // session gone then must not send the page to the login with a `next`.
  let loggingOut = false;
  document.addEventListener("submit", (event) => {
    if (event.target.matches && event.target.matches("form.who")) loggingOut = true;
  });

  // In a text field keys are typed, not shortcuts; a checkbox that has focus
  // (after a click on it) takes no letters, so shortcuts still work there.
  function typing(event) {
    const t = event.target;
    if (t && t.tagName === "INPUT" && (t.type === "checkbox" || t.type === "radio")) return false;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
  }

  const keys = {};
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event)) {
      event.target.blur();
      return;
    }
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") {
      const help = document.getElementById("help");
      if (help.open) help.close();
      else help.showModal();
      event.preventDefault();
      return;
    }
    // Enter on a link or a button is the browser's (follow it, press it), not the
    // queue's "open the selected draft": else the keyboard alone could not leave the page
    if (event.key === "Enter" && event.target.closest && event.target.closest("a[href], button, summary")) return;
    const action = keys[event.key];
    if (action) {
      event.preventDefault();
      action(event);
    }
  });

  function setCount(id, value) {
    const el = document.getElementById(id);
    if (el && value !== undefined) {
      el.textContent = String(value);
      if (id === "escalated-count") el.classList.toggle("hot", value > 0);
    }
  }

  // The header's badges, from /api/counts or a queue answer's counts.
  function setCounts(counts) {
    setCount("pending-count", counts.pending);
    setCount("escalated-count", counts.escalated);
    setCount("callbacks-count", counts.open_callbacks);
    setCount("unknown-count", counts.unknown);
    setCount("failed-count", counts.failed);
  }

  // -- times -----------------------------------------------------------------
  // The server writes every time as <time class="when" datetime="...Z"> holding
  // a readable UTC text (earful/console/times.py); here it becomes the viewer's
  // own time, with the zone, and the exact UTC time goes in its title. A queue
  // row's post time (class "age") becomes how long ago it was instead.

  // Only ISO 8601 date-times: Date() alone reads "1" or "May" as some time.
  const STAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
  function moment(value) {
    if (typeof value !== "string" || !STAMP.test(value.trim())) return null;
    let text = value.trim().replace(" ", "T");
    if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(text)) text += "Z"; // no zone: UTC, as the store writes
    const when = new Date(text);
    return Number.isNaN(when.getTime()) ? null : when;
  }
  const localTime = new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    timeZoneName: "short",
  });
  // the same text as times.exact_utc on the server
  const exactUtc = (when) => when.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  function ago(when, now) {
    const minutes = Math.floor((now - when) / 60000);
    if (minutes < 1) return "just now"; // a clock a little ahead says no less
    if (minutes < 60) return minutes + " min ago";
    const hours = Math.floor(minutes / 60);
    return hours < 24 ? hours + " h ago" : Math.floor(hours / 24) + " d ago";
  }
  function showTime(el, when, now) {
    if (el.classList.contains("age")) {
      el.textContent = ago(when, now);
      el.title = localTime.format(when) + " (" + exactUtc(when) + ")";
    } else {
      el.textContent = localTime.format(when);
      el.title = exactUtc(when);
    }
  }
  // Every server-written time under `root`, in the viewer's zone.
  function localTimes(root) {
    const now = Date.now();
    root.querySelectorAll("time.when[datetime]").forEach((el) => {
      const when = moment(el.getAttribute("datetime"));
      if (when) showTime(el, when, now);
    });
  }
  // A time from the API as the server would have written it, then shown locally;
  // a missing or unreadable one says so, never "Invalid Date".
  function timeElement(value, age) {
    const when = moment(value);
    if (!when) {
      const unknown = document.createElement("span");
      unknown.className = "when unknown";
      unknown.textContent = "time unknown";
      return unknown;
    }
    const el = document.createElement("time");
    el.className = age ? "when age" : "when";
    el.dateTime = when.toISOString();
    showTime(el, when, Date.now());
    return el;
  }

  // a draft a person may still edit, approve or reject (storage.store.DECIDABLE)
  const decidableStatus = (status) => status === "pending" || status === "failed";

  // -- the queue -------------------------------------------------------------

  function queuePage() {
    const list = document.getElementById("queue");
    const template = document.getElementById("queue-row");
    const pageSize = Number(list.dataset.pageSize) || 50;
    // drafts with a larger id arrived after the page was loaded: marked green
    const loadedLatest = Number(list.dataset.latest) || 0;
    let selected = -1;
    let selectedId = null;

    function rows() {
      return Array.from(list.querySelectorAll("li.queue-item"));
    }
    function mark(all, index) {
      selected = index;
      selectedId = all[index].dataset.id;
      all.forEach((row, i) => row.classList.toggle("selected", i === index));
    }
    // a row reached with Tab is the selected one too: x picks it, j goes on below it
    list.addEventListener("focusin", (event) => {
      const all = rows();
      const index = all.indexOf(event.target.closest("li.queue-item"));
      if (index < 0 || index === selected) return;
      resuming = false;
      mark(all, index);
    });
    function select(index) {
      const all = rows();
      if (!all.length) {
        selected = -1;
        selectedId = null;
        return;
      }
      mark(all, Math.max(0, Math.min(index, all.length - 1)));
      all[selected].scrollIntoView({ block: "nearest" });
      // focus too, not only a highlight: a screen reader then reads the row, and
      // Tab goes on from it
      all[selected].querySelector('[data-field="link"]').focus({ preventScroll: true });
    }
    // Where j and k go on from when the selected draft left the list: just below
    // `resumeAfter`, the id of the nearest row above it that is still listed (null:
    // the top). An id, not an index, as rows above may leave too before the next key.
    let resuming = false;
    let resumeAfter = null;
    const step = (by) => {
      if (!resuming) return select(selected + by);
      resuming = false;
      const above = rows().findIndex((row) => row.dataset.id === resumeAfter);
      const at = resumeAfter === null ? 0 : above + 1;
      select(by > 0 ? at : at - 1);
    };
    // the nearest row above `id` (by the list as it is) that `wanted` keeps, or null
    function keptAbove(id, wanted) {
      const all = rows();
      for (let i = all.findIndex((row) => row.dataset.id === id) - 1; i >= 0; i--) {
        if (wanted.has(all[i].dataset.id)) return all[i].dataset.id;
      }
      return null;
    }
    keys.j = () => step(1);
    keys.k = () => step(-1);
    const open = () => {
      const row = rows()[selected];
      if (row) window.location.href = row.querySelector('[data-field="link"]').href;
    };
    keys.o = open;
    keys.Enter = open;
    keys["/"] = () => document.getElementById("search").focus();

    function fill(row, item) {
      row.dataset.id = item.id;
      row.dataset.urgency = item.urgency;
      row.dataset.interest = item.interest;
      const values = {
        urgency: String(item.urgency),
        kind: item.kind,
        platform: item.platform,
        author: item.author_handle ? "@" + item.author_handle : "-",
        disposition: item.disposition,
        topic: item.topic || "",
        segment: item.segment || "",
        status: item.status,
        text: item.preview, // cut by the server, as the rows it wrote
      };
      for (const [field, value] of Object.entries(values)) {
        row.querySelector('[data-field="' + field + '"]').textContent = value;
      }
      // made anew at each poll, so the age is as of this answer
      row.querySelector('[data-field="posted"]').replaceChildren(timeElement(item.posted_at, true));
      const taken = row.querySelector('[data-field="assignee"]');
      taken.textContent = item.assignee ? "taken by " + item.assignee : "";
      taken.hidden = !item.assignee;
      // the draft page keeps to this queue's filter: its next and previous are in it
      row.querySelector('[data-field="link"]').href = "/drafts/" + item.id + list.dataset.filter;
      const pick = row.querySelector(".pick");
      if (pick) {
        pick.setAttribute("aria-label", "pick draft " + item.id + " to reject");
        pick.disabled = !decidableStatus(item.status);
        if (pick.disabled) pick.checked = false;
      }
    }

    function make(item) {
      const row = template.content.firstElementChild.cloneNode(true);
      fill(row, item);
      if (item.id > loadedLatest) row.classList.add("new");
      return row;
    }

    // The page shows what the server's first page holds now: drafts decided
    // elsewhere leave, new ones slot in at their place (green), and the page
    // never holds more than its page size (the rest is on "less urgent").
    function show(items, more) {
      const wanted = new Set(items.map((item) => String(item.id)));
      if (selectedId !== null && !wanted.has(selectedId)) {
        resuming = true;
        resumeAfter = keptAbove(selectedId, wanted);
      } else if (resuming && resumeAfter !== null && !wanted.has(resumeAfter)) {
        resumeAfter = keptAbove(resumeAfter, wanted);
      }
      rows().forEach((row) => {
        if (!wanted.has(row.dataset.id)) row.remove();
      });
      let previous = null;
      items.forEach((item) => {
        let row = list.querySelector('li.queue-item[data-id="' + item.id + '"]');
        if (row) fill(row, item);
        else row = make(item);
        const place = previous ? previous.nextElementSibling : list.firstElementChild;
        if (place !== row) list.insertBefore(row, place);
        previous = row;
      });
      const all = rows();
      const still = all.findIndex((row) => row.dataset.id === selectedId);
      if (still >= 0) selected = still;
      else if (selectedId !== null) {
        // decided elsewhere: nothing is selected now, or x and o would act on the row
        // that moved up into its place, one the person never looked at
        selected = -1;
        selectedId = null;
      }
      all.forEach((row, i) => row.classList.toggle("selected", i === selected));
      document.getElementById("empty").hidden = all.length > 0;
      picksChanged();
      const nextPage = document.getElementById("next-page");
      if (nextPage) nextPage.hidden = !more;
      setCount("shown-count", all.length);
    }

    const stale = document.getElementById("stale");
    let answeredAt = new Date(); // the page itself was the first answer
    let polling = false;
    // A screen reader hears nothing of a green border: after a poll that brought new
    // drafts onto the page, one short summary in a polite live region ("2 new drafts,
    // 1 urgent"); nothing when nothing is new, so it does not talk at every poll.
    const news = document.getElementById("queue-news");
    // "0" is a threshold too (responders.escalate_at = 0: every draft is urgent)
    const urgentAt = Number(list.dataset.urgentAt ?? 80);
    function announce(items, since) {
      const arrived = items.filter((item) => item.id > since);
      if (!arrived.length) return;
      const urgent = arrived.filter((item) => item.urgency >= urgentAt).length;
      const n = arrived.length;
      let said = n === 1 ? "1 new draft" : n + " new drafts";
      if (n === 1 && urgent) said = "1 new urgent draft";
      else if (urgent) said += ", " + urgent + " urgent";
      // a new text node, not the same text set again: two polls with the same news
      // are two announcements
      news.replaceChildren(document.createTextNode(said + "."));
    }
    async function poll() {
      if (polling) return;
      polling = true;
      const query = list.dataset.query ? list.dataset.query + "&" : "";
      try {
        // one more than a page: whether a next page exists
        const data = await api("GET", "/api/queue?" + query + "limit=" + (pageSize + 1), null, true);
        const shown = data.items.slice(0, pageSize);
        show(shown, data.items.length > pageSize);
        announce(shown, Number(list.dataset.latest));
        list.dataset.latest = Math.max(Number(list.dataset.latest), data.latest);
        setCounts(data.counts);
        setCount("pending-total", data.counts.pending);
        stale.hidden = true;
        answeredAt = new Date();
      } catch (e) {
        // the list stops following the queue: say so, or it looks live while stale
        if ((e.status === 0 || e.status >= 500) && stale.hidden) {
          document.getElementById("stale-since").replaceChildren(timeElement(answeredAt.toISOString()));
          stale.hidden = false;
        }
        // the login ended (idle for session_ttl): back here after logging in again;
        // not when the person logged out themselves (this answer raced the logout)
        if (e.status === 401 && !loggingOut) {
          window.location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
        }
      } finally {
        polling = false;
      }
    }
    if (list.dataset.live === "yes") {
      window.setInterval(poll, Number(body.dataset.refresh) || 5000);
    }

    // Rejecting several drafts at once (a wave of spam): pick them, say why, reject.
    const bulk = document.getElementById("bulk");
    const pickAll = document.getElementById("pick-all");
    function pickable() {
      return rows()
        .map((row) => row.querySelector(".pick"))
        .filter((box) => box && !box.disabled);
    }
    function picked() {
      return pickable().filter((box) => box.checked);
    }
    function picksChanged() {
      if (!bulk) return;
      const boxes = pickable();
      const count = boxes.filter((box) => box.checked).length;
      setCount("picked-count", count);
      bulk.querySelector('button[type="submit"]').disabled = count === 0;
      pickAll.checked = count > 0 && count === boxes.length;
    }
    if (bulk) {
      list.addEventListener("change", (event) => {
        if (event.target.classList.contains("pick")) picksChanged();
      });
      pickAll.addEventListener("change", () => {
        pickable().forEach((box) => (box.checked = pickAll.checked));
        picksChanged();
      });
      keys.x = () => {
        const box = rows()[selected] && rows()[selected].querySelector(".pick");
        if (box && !box.disabled) {
          box.checked = !box.checked;
          picksChanged();
        }
      };
      let busy = false;
      bulk.addEventListener("submit", async (event) => {
        event.preventDefault();
        const ids = picked().map((box) => Number(box.closest("li").dataset.id));
        const reason = document.getElementById("bulk-reason");
        if (busy || !ids.length) return;
        if (!reason.value.trim()) {
          flash("Say why these drafts are rejected (it goes in the audit log).", "error");
          reason.focus();
          return;
        }
        const what = ids.length === 1 ? "this draft" : "these " + ids.length + " drafts";
        if (!window.confirm("Reject " + what + "? They will never be posted.")) return;
        busy = true;
        try {
          const closeTasks = document.getElementById("bulk-close-tasks").checked;
          const data = await api("POST", "/api/drafts/reject", {
            ids: ids,
            reason: reason.value,
            close_task: closeTasks,
          });
          data.rejected.forEach((id) => {
            const row = list.querySelector('li.queue-item[data-id="' + id + '"]');
            // a list of all statuses keeps the row: the next poll shows it rejected
            if (row && list.dataset.status !== "all") row.remove();
          });
          setCounts(data.counts);
          reason.value = "";
          const tasks = data.closed_tasks.length;
          const kept = data.kept_tasks.length;
          const closed =
            (tasks ? " Closed " + tasks + (tasks === 1 ? " callback task." : " callback tasks.") : "") +
            (kept ? " " + kept + " left open: later complaints in their cases need them." : "");
          const done = "Rejected " + data.rejected.length + "." + closed;
          if (data.refused.length) {
            flash(done + " Not rejected: " + data.refused.map((r) => r.error).join("; "), "error");
          } else {
            flash(done, "info");
          }
          if (list.dataset.live === "yes") poll();
        } catch (e) {
          flash(e.message, "error");
        } finally {
          busy = false;
          picksChanged();
          document.getElementById("empty").hidden = rows().length > 0;
          setCount("shown-count", rows().length);
        }
      });
    }
  }

  // -- a draft and its case ----------------------------------------------------

  function casePage() {
    const head = document.getElementById("case");
    const editor = document.getElementById("draft-body");
    // A reply the platform refused can be edited and approved again, or rejected.
    const decidable = () => decidableStatus(head.dataset.status);
    const counter = document.getElementById("char-count");
    const replyId = head.dataset.reply;
    const caseId = head.dataset.case;

    // The count comes from the server (responders/limits.py), debounced: X and
    // Bluesky count in ways a few lines of JS would get subtly wrong.
    let pending = null;
    let asked = 0;
    async function count() {
      if (!editor || !counter) return;
      const ticket = ++asked;
      try {
        const c = await api("POST", "/api/count", { platform: head.dataset.platform, author: head.dataset.author, body: editor.value });
        if (ticket !== asked) return; // a newer count is on its way
        counter.textContent = c.max === null ? c.count + " " + c.unit : c.count + " / " + c.max + " " + c.unit;
        if (c.problem && c.problem.includes("read-only")) counter.textContent = c.problem;
        counter.classList.toggle("over", Boolean(c.problem) && editor.value.trim() !== "");
      } catch (e) {
        // a blank count reads as "fine"; say why there is none
        if (ticket === asked) counter.textContent = e.status === 0 ? "no count: the console is not answering" : "";
      }
    }
    function recount() {
      window.clearTimeout(pending);
      pending = window.setTimeout(count, 150);
    }
    // An edit not yet saved outlives the session (a logout in another tab, an
    // expiry): when an action is refused for that, this tab keeps the edit, and puts
    // it back when the same person opens the draft again after logging in, if the
    // saved text is unchanged. An edit left behind on purpose is never kept.
    const keptKey = "earful-edit-" + replyId;
    function keep() {
      try {
        sessionStorage.setItem(
          keptKey,
          JSON.stringify({ body: editor.value, original: editor.dataset.original, user: body.dataset.user })
        );
      } catch (e) {
        // storage switched off: the browser's leave prompt still guards the edit
      }
    }
    function forget() {
      try {
        sessionStorage.removeItem(keptKey);
      } catch (e) {
        // as above
      }
    }
    function putBack() {
      let kept = null;
      try {
        kept = JSON.parse(sessionStorage.getItem(keptKey) || "null");
      } catch (e) {
        kept = null;
      }
      if (!kept || kept.user !== body.dataset.user || editor.readOnly || !decidable()) return forget();
      if (kept.original !== editor.dataset.original) {
        flash("Your unsaved edit from before is not put back: the saved text changed meanwhile. It was: " + kept.body, "error");
        return forget();
      }
      editor.value = kept.body;
      flash("Your unsaved edit is back in the editor (the session had ended): read it, then decide.", "info");
      return undefined;
    }
    if (editor) {
      putBack();
      editor.addEventListener("input", recount);
      editor.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          approve();
        }
      });
      count();
    }

    // One decision at a time: while a request is out, the buttons are disabled
    // and a repeated click or key is ignored (a double click must not send two).
    let busy = false;
    function controls(selector) {
      return document.querySelectorAll(selector + " button, " + selector + " input, " + selector + " select");
    }
    function hold(on) {
      busy = on;
      const open = decidable();
      controls("#actions").forEach((el) => {
        el.disabled = on || !open;
      });
      controls("#case-actions").forEach((el) => {
        el.disabled = on;
      });
      if (editor && document.getElementById("actions")) editor.readOnly = on || !open;
    }
    async function once(work) {
      if (busy) return;
      hold(true);
      try {
        await work();
      } finally {
        hold(false);
      }
    }

    // The note given with a case change, as the History list shows it.
    function said(detail) {
      try {
        const note = JSON.parse(detail || "{}").note;
        return typeof note === "string" && note ? ": " + note : "";
      } catch (e) {
        return "";
      }
    }

    // After a change: the header's counts and the History list, as the server has them.
    async function refresh() {
      try {
        const [counts, draft, kase] = await Promise.all([
          api("GET", "/api/counts"),
          replyId ? api("GET", "/api/drafts/" + replyId) : null,
          caseId ? api("GET", "/api/cases/" + caseId) : null,
        ]);
        setCounts(counts);
        if (kase) showCase(kase.case);
        const lines = []; // [audit id, when, what]: one timeline, oldest first
        if (draft) draft.history.forEach((h) => lines.push([h.id, h.at, h.actor + " · " + h.action]));
        if (kase) kase.history.forEach((h) => lines.push([h.id, h.at, h.actor + " · case " + h.action + said(h.detail)]));
        lines.sort((a, b) => a[0] - b[0]);
        const list = document.getElementById("history");
        if (list && lines.length) {
          list.replaceChildren(
            ...lines.map(([, at, what]) => {
              const item = document.createElement("li");
              item.append(timeElement(at), " · " + what);
              return item;
            })
          );
        }
      } catch (e) {
        // the change itself is shown already; a reload shows the rest
      }
    }

    function decided(reply) {
      forget();
      document.getElementById("reply-status").textContent = reply.status;
      head.dataset.status = reply.status;
      document
        .getElementById("decided")
        .replaceChildren(
          "decided by " + reply.decided_by + " at ",
          timeElement(reply.decided_at),
          reply.reject_reason ? ": " + reply.reject_reason : ""
        );
      document.querySelectorAll("#actions button, #actions input").forEach((el) => {
        el.disabled = true;
      });
      if (editor) editor.readOnly = true;
      refresh();
    }

    // A 409 naming this person: their own earlier decision (another tab, a
    // request repeated by the network), not someone else's.
    function mine(error, rejected) {
      const reply = error.status === 409 && error.data ? error.data.reply : null;
      if (!reply || reply.decided_by !== body.dataset.user) return null;
      if ((reply.status === "rejected") !== rejected || decidableStatus(reply.status)) return null;
      return reply;
    }

    // After a decision: where j goes, or that this queue is done.
    const whatNext = () =>
      head.dataset.next ? " Press j for the next draft." : " Nothing else is pending in this queue: u goes back to it.";

    function failed(error) {
      const lost = (error.status === 401 || error.status === 403) && editor && editor.value !== editor.dataset.original;
      if (lost) keep(); // the session ended: the edit waits in this tab for them
      flash(error.message + (lost ? ". Your edit is kept in this tab: it comes back when you reopen this draft here (log in first if asked)." : ""), "error");
      const reply = error.status === 409 && error.data ? error.data.reply : null;
      if (reply && reply.decided_by && !decidableStatus(reply.status)) {
        decided(reply); // someone else's decision, shown as the server has it
        return;
      }
      if (error.status === 409) {
        head.dataset.status = "decided elsewhere";
        document.querySelectorAll("#actions button, #actions input").forEach((el) => {
          el.disabled = true;
        });
      }
    }

    // Someone saved another text after this page was loaded (a 409 whose reply is
    // still pending): nothing was decided. Show their text and let the person
    // decide again; an edit of their own stays in the editor, theirs beside it.
    function editedMeanwhile(error) {
      const reply = error.status === 409 && error.data ? error.data.reply : null;
      if (!reply || !decidableStatus(reply.status)) return false;
      const own = editor.value !== editor.dataset.original;
      const theirs = document.getElementById("their-edit");
      if (own) {
        document.getElementById("their-edit-text").textContent = reply.body;
        theirs.hidden = false;
      } else {
        editor.value = reply.body;
        theirs.hidden = true;
      }
      editor.dataset.original = reply.body;
      const next = own ? " Your edit is still in the editor; their text is below it." : " The editor now shows their text.";
      flash(error.message + next, "error");
      count();
      refresh();
      return true;
    }

    // What the page showed as the saved text: the server refuses a decision on
    // a text someone changed since (docs/console.md, "shown").
    const shown = () => editor.dataset.original;

    function approve() {
      if (!replyId || !decidable()) return undefined;
      return once(async () => {
        const edited = editor.value !== editor.dataset.original;
        const payload = edited ? { body: editor.value, shown: shown() } : { shown: shown() };
        try {
          const data = await api("POST", "/api/drafts/" + replyId + "/approve" + location.search, payload);
          head.dataset.status = data.reply.status;
          decided(data.reply);
          head.dataset.next = data.next || "";
          if (data.note) flash("Approved" + (edited ? " with your edit" : "") + ", but " + data.note + ".", "error");
          else flash("Approved" + (edited ? " with your edit" : "") + "." + whatNext(), "ok");
        } catch (e) {
          if (editedMeanwhile(e)) return;
          const own = mine(e, false);
          if (own) {
            head.dataset.status = own.status;
            decided(own);
            flash("You had approved this draft already. Press j for the next draft.", "ok");
          } else failed(e);
        }
      });
    }

    function saveEdit() {
      if (!replyId || !decidable()) return undefined;
      return once(async () => {
        try {
          const data = await api("POST", "/api/drafts/" + replyId + "/edit", { body: editor.value, shown: shown() });
          editor.dataset.original = data.reply.body;
          forget();
          document.getElementById("their-edit").hidden = true;
          flash("Edit saved; the draft is still pending.", "ok");
          refresh();
        } catch (e) {
          if (!editedMeanwhile(e)) failed(e);
        }
      });
    }

    function reject() {
      const input = document.getElementById("reject-reason");
      if (!input || !decidable() || busy) return undefined;
      if (!input.value.trim()) {
        input.focus();
        flash("Type why, then Enter.", "info");
        return undefined;
      }
      return once(async () => {
        try {
          const closeTask = document.getElementById("reject-close-task");
          const data = await api("POST", "/api/drafts/" + replyId + "/reject" + location.search, {
            reason: input.value,
            close_task: Boolean(closeTask && closeTask.checked),
          });
          head.dataset.status = data.reply.status;
          decided(data.reply);
          const closed = data.closed_tasks.length
            ? " Its callback task is closed."
            : data.kept_tasks.length
              ? " Its callback task stays open: a later complaint in the case needs it."
              : closeTask
                ? " Its callback task stays open: the call is still to be made."
                : "";
          head.dataset.next = data.next || "";
          flash("Rejected." + closed + whatNext() + " Reopen undoes it.", "ok");
          document.getElementById("reopen-row").hidden = false;
        } catch (e) {
          const own = mine(e, true);
          if (own) {
            head.dataset.status = own.status;
            decided(own);
            flash("You had rejected this draft already. Press j for the next draft.", "ok");
          } else failed(e);
        }
      });
    }

    // A failed or unknown reply, settled by a person who looked on the platform.
    async function settle(action, payload, message) {
      try {
        const data = await api("POST", "/api/drafts/" + replyId + "/" + action, payload);
        document.getElementById("reply-status").textContent = data.reply.status;
        head.dataset.status = data.reply.status;
        flash(message, "ok");
        refresh();
      } catch (e) {
        flash(e.message, "error");
        if (e.status !== 409) return;
      }
      document.querySelectorAll("#settle button, #settle input").forEach((el) => {
        el.disabled = true;
      });
    }

    // The case's status and assignee as the server has them; what can still be done.
    function showCase(kase) {
      document.getElementById("case-status").textContent = kase.status;
      const escalateButton = document.getElementById("escalate");
      if (escalateButton) escalateButton.disabled = kase.status !== "open";
      const resolveButton = document.getElementById("resolve");
      if (resolveButton) resolveButton.disabled = kase.status === "resolved";
      const reopenButton = document.getElementById("reopen-case");
      if (reopenButton) reopenButton.hidden = kase.status !== "resolved";
      const shown = document.getElementById("case-assignee");
      shown.textContent = kase.assignee || "nobody";
      shown.dataset.assignee = kase.assignee || "";
      const select = document.getElementById("assignee");
      if (select) {
        const who = kase.assignee || "";
        if (who && !Array.from(select.options).some((o) => o.value === who)) {
          const option = document.createElement("option");
          option.textContent = who;
          select.append(option);
        }
        select.value = who;
      }
    }

    // Assigning names whom the page showed the case assigned to: a case someone
    // took meanwhile is not taken from them (the server answers 409, naming them).
    function assign(who, message) {
      const was = document.getElementById("case-assignee").dataset.assignee || null;
      const already = (data) =>
        data.unchanged ? "Case " + caseId + " is already " + (who === null ? "assigned to nobody." : who === body.dataset.user ? "yours." : who + "'s.") : message;
      return caseAction("assign", { assignee: who, was: was }, already);
    }

    function caseAction(action, payload, message, then) {
      if (!caseId) return undefined;
      return once(async () => {
        try {
          const data = await api("POST", "/api/cases/" + caseId + "/" + action, payload);
          showCase(data.case);
          // the note went with this change; the next one needs its own
          if ("note" in payload && caseNote) caseNote.value = "";
          if (then) then();
          flash(typeof message === "function" ? message(data) : message, "ok");
          refresh();
        } catch (e) {
          flash(e.message, "error");
          if (e.status === 409) refresh(); // shows who has the case now
        }
      });
    }

    const on = (id, fn) => {
      const el = document.getElementById(id);
      if (el) el.addEventListener("click", fn);
    };
    on("approve", approve);
    on("save-edit", saveEdit);
    on("reject", reject);
    // Undo a rejection: the draft (and a task the rejection closed) is open again;
    // the page is read afresh, since every control on it changes.
    // What the undo did is said on the page read afresh: a silent reload left the
    // person to guess whether their click had done anything.
    const undo = (url, said) =>
      once(async () => {
        try {
          const data = await api("POST", url, {});
          const n = data.reopened_tasks.length;
          const tasks = n === 0 ? "" : n === 1 ? " Its callback task is open again." : " Its " + n + " callback tasks are open again.";
          sessionStorage.setItem(SAID_KEY, said(data) + tasks);
          location.reload();
        } catch (e) {
          flash(e.message, "error");
        }
      });
    on("reopen", () => undo("/api/drafts/" + replyId + "/reopen", () => "Reopened: the draft is pending again."));
    const postedId = document.getElementById("posted-id");
    on("mark-sent", () =>
      settle("mark-sent", { posted_id: postedId.value.trim() || null }, "Marked sent; it will not be posted again.")
    );
    on("retry", () => settle("retry", {}, "Approved again: the publisher posts it on its next run."));
    const unpostedReason = document.getElementById("unposted-reason");
    on("reject-unposted", () => {
      if (!unpostedReason.value.trim()) {
        unpostedReason.focus();
        flash("Type why it should not be sent, then reject.", "info");
        return undefined;
      }
      return settle(
        "reject",
        { reason: unpostedReason.value, not_posted: true },
        "Rejected: recorded that it was not posted; Earful will not post it."
      );
    });
    const reason = document.getElementById("reject-reason");
    if (reason) {
      reason.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          reject();
        }
      });
    }
    const assignee = document.getElementById("assignee");
    on("assign", () =>
      assign(assignee.value || null, "Assigned to " + (assignee.value || "nobody") + ".")
    );
    const assignMe = () => assign(body.dataset.user, "Assigned to you.");
    // the note goes in the case's history and, for an escalation, in the alert
    const caseNote = document.getElementById("case-note");
    const noted = () => ({ note: caseNote && caseNote.value.trim() ? caseNote.value.trim() : null });
    const escalate = () => caseAction("escalate", noted(), "Escalated; senior staff are alerted.");
    // Resolving closes the case's open callback tasks (nobody works them twice): it
    // asks first, says so, and the Callbacks list shows them done.
    const openTasks = () => Array.from(document.querySelectorAll("[data-callback] button.callback-done"));
    const tasksNote = (n) =>
      n === 0 ? "" : n === 1 ? " Its open callback task is closed with it." : " Its " + n + " open callback tasks are closed with it.";
    const resolve = () => {
      const open = openTasks();
      return caseAction("resolve", noted(), "Resolved." + tasksNote(open.length) + " Reopen case undoes it.", () => {
        open.forEach((button) => {
          const status = button.closest("[data-callback]").querySelector(".status");
          if (status) status.textContent = "done";
          button.remove();
        });
      });
    };
    const label = "case " + caseId;
    const askEscalate = () => {
      if (window.confirm("Escalate " + label + "?")) escalate();
    };
    const askResolve = () => {
      if (window.confirm("Resolve " + label + "?" + tasksNote(openTasks().length))) resolve();
    };
    on("assign-me", assignMe);
    // Undo a resolve: the case and the tasks it closed are open again; the page is
    // read afresh, since the callbacks and every control on it change.
    on("reopen-case", () => undo("/api/cases/" + caseId + "/reopen", (data) => "Case reopened: it is " + data.case.status + " again."));
    // a click is a deliberate act, unless it also closes a customer's callback task
    on("escalate", escalate);
    on("resolve", () => (openTasks().length ? askResolve() : resolve()));

    // An edit not saved is not lost silently: leaving asks first (the keys
    // below, and the browser's own prompt for links, reloads and closing).
    let leaving = false;
    const unsaved = () =>
      Boolean(editor) &&
      document.getElementById("actions") !== null &&
      decidable() &&
      editor.value !== editor.dataset.original;
    window.addEventListener("beforeunload", (event) => {
      if (!leaving && unsaved()) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    const leave = (url) => {
      if (unsaved() && !window.confirm("Your edit to this draft is not saved. Leave it anyway?")) return;
      leaving = true;
      window.location.href = url;
    };

    const decider = document.getElementById("actions") !== null;
    const go = (id, which) => {
      if (id) leave("/drafts/" + id + location.search);  // the same queue's filter
      else flash("No " + which + " draft in this queue: u goes back to it.", "info");
    };
    keys.j = () => go(head.dataset.next, "next");
    keys.k = () => go(head.dataset.prev, "previous");
    keys.u = () => leave("/queue" + location.search);
    if (decider) {
      keys.a = approve;
      keys.e = () => {
        editor.focus();
        editor.setSelectionRange(editor.value.length, editor.value.length);
      };
      keys.r = reject;
    }
    if (document.getElementById("case-actions")) {
      keys.m = assignMe;
      // one key press or click is easy to make by mistake: these ask first
      // a key whose button is off says why, rather than nothing at all
      const statusNow = () => document.getElementById("case-status").textContent;
      // (by the case's status: while a request is out every button is off, and the
      // key waits like the buttons do)
      keys.x = () => {
        if (busy || !document.getElementById("escalate")) return;
        const status = statusNow();
        if (status === "open") return askEscalate();
        flash(
          status === "escalated"
            ? "Case " + caseId + " is escalated already."
            : "Case " + caseId + " is " + status + ": only an open case is escalated.",
          "info"
        );
      };
      keys.s = () => {
        if (busy || !document.getElementById("resolve")) return;
        if (statusNow() !== "resolved") return askResolve();
        flash("Case " + caseId + " is resolved already: Reopen case undoes that.", "info");
      };
    }
  }

  // -- callbacks, praise, stats ------------------------------------------------

  function callbackButtons() {
    document.querySelectorAll("button.callback-done").forEach((button) => {
      button.addEventListener("click", async () => {
        if (button.disabled) return;
        button.disabled = true;
        try {
          const data = await api("POST", "/api/callbacks/" + button.dataset.id + "/done", {});
          const row = button.closest("[data-callback]");
          const status = row ? row.querySelector(".status") : null;
          if (status && status.contains(button)) {
            status.textContent = "done by " + data.by; // the Callbacks table's status cell
          } else {
            // a draft's page: the task stays; its status and a note change
            button.remove();
            if (status) status.textContent = "done";
            const note = document.createElement("span");
            note.className = "muted done-note";
            note.textContent = "done by " + data.by;
            (row || document.body).append(" ", note);
          }
          const count = document.getElementById("callbacks-count");
          if (count && Number(count.textContent) > 0) count.textContent = String(Number(count.textContent) - 1);
          flash("Callback marked done.", "ok");
        } catch (e) {
          button.disabled = false;
          flash(e.message, "error");
        }
      });
    });
  }

  // An escalation alert the webhook did not take: settled by a person.
  function alertButtons() {
    document.querySelectorAll("button.alert-retry, button.alert-sent").forEach((button) => {
      button.addEventListener("click", async () => {
        const id = button.dataset.alert;
        const action = button.classList.contains("alert-retry") ? "retry" : "mark-sent";
        try {
          const data = await api("POST", "/api/alerts/" + id + "/" + action, {});
          const status = document.getElementById("alert-status-" + id);
          status.textContent = data.alert.status;
          status.classList.remove("hot");
          button.parentElement.remove();
          flash(action === "retry" ? "The alert goes out again on the next run." : "Alert marked sent.", "ok");
        } catch (e) {
          flash(e.message, "error");
        }
      });
    });
  }

  // Accounts (admins): every change goes through the API and is audited there.
  // The open cases an account that can no longer work them still has: said, or
  // its customers wait on someone who is gone (the queue's "taken by" filter has them).
  function stillHeld(name, cases) {
    if (!cases || !cases.length) return "";
    return " " + name + " still has " + cases.length + (cases.length === 1 ? " open case" : " open cases") +
      " (" + cases.join(", ") + "): hand them on from the queue, taken by " + name +
      ", or with `earful case handover " + name + " NAME`.";
  }

  // a note of work left behind shows as a warning, not as a plain success
  function heldKind(data) {
    return data.held_cases && data.held_cases.length ? "warn" : "ok";
  }

  function usersPage() {
    const form = document.getElementById("add-user");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const payload = {
        name: document.getElementById("new-name").value.trim(),
        role: document.getElementById("new-role").value,
        password: document.getElementById("new-password").value,
      };
      try {
        await api("POST", "/api/users", payload);
        window.location.reload();
      } catch (e) {
        flash(e.message, "error");
      }
    });
    document.querySelectorAll("#accounts tr[data-user]").forEach((row) => {
      const base = "/api/users/" + row.dataset.user + "/";
      const name = row.dataset.name;
      const role = row.querySelector("select.user-role");
      role.addEventListener("change", async () => {
        try {
          const data = await api("POST", base + "role", { role: role.value });
          flash(name + " is now " + data.user.role + "; their sessions have ended." + stillHeld(name, data.held_cases), heldKind(data));
        } catch (e) {
          flash(e.message, "error");
          window.setTimeout(() => window.location.reload(), 1500);
        }
      });
      const toggle = row.querySelector("button.user-toggle");
      toggle.addEventListener("click", async () => {
        const disable = toggle.textContent === "Disable";
        try {
          const data = await api("POST", base + (disable ? "disable" : "enable"), {});
          const state = row.querySelector(".status");
          state.textContent = data.user.disabled ? "disabled" : "enabled";
          state.classList.toggle("hot", Boolean(data.user.disabled));
          toggle.textContent = data.user.disabled ? "Enable" : "Disable";
          flash(name + (data.user.disabled ? " is disabled; their sessions have ended." : " is enabled.") + stillHeld(name, data.held_cases), heldKind(data));
        } catch (e) {
          flash(e.message, "error");
        }
      });
      row.querySelector("button.user-logout").addEventListener("click", async () => {
        try {
          const data = await api("POST", base + "logout", {});
          const many = data.sessions === 1 ? " session" : " sessions";
          flash(name + " is logged out everywhere (" + data.sessions + many + " ended).", "ok");
        } catch (e) {
          flash(e.message, "error");
        }
      });
      const password = row.querySelector("input.user-password");
      row.querySelector("button.user-set-password").addEventListener("click", async () => {
        try {
          await api("POST", base + "password", { password: password.value });
          password.value = "";
          flash("New password set for " + name + "; their sessions have ended.", "ok");
        } catch (e) {
          flash(e.message, "error");
        }
      });
    });
  }

  function praisePage() {
    document.querySelectorAll("button.star").forEach((button) => {
      button.addEventListener("click", async () => {
        const starred = button.getAttribute("aria-pressed") !== "true";
        try {
          await api("POST", "/api/praise/" + button.dataset.id + "/star", { starred: starred });
          button.setAttribute("aria-pressed", starred ? "true" : "false");
          button.textContent = starred ? "★ starred" : "☆ star";
          button.closest("article").classList.toggle("starred", starred);
        } catch (e) {
          flash(e.message, "error");
        }
      });
    });
  }

  const COLOURS = {
    interesting_bad: "#c0392b",
    interesting_good: "#27ae60",
    question: "#2980b9",
    ignore: "#95a5a6",
  };
  // root causes: none of them the red and green of complaints and praise
  const PALETTE = ["#8e44ad", "#d35400", "#16a085", "#2c3e50", "#f39c12", "#7f8c8d", "#e84393", "#6c5ce7", "#00838f"];
  const total = (values) => values.reduce((sum, v) => sum + v, 0);

  function statsPage() {
    const s = JSON.parse(document.getElementById("series-data").textContent);
    // what people call each disposition; the order reports list them in is COLOURS'
    // (tojson sorts an object's keys)
    const names = JSON.parse(document.getElementById("disposition-names").textContent);
    const order = Object.keys(COLOURS); // complaint, praise, question, other
    const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
    if (!window.Chart) return;
    // a week the window cuts says so: its bars count only those days
    const weeks = s.weeks.map((w, i) => (s.week_days[i] < 7 ? `${w} (${s.week_days[i]} of 7 days)` : w));
    const stacked = { x: { stacked: true }, y: { stacked: true, beginAtZero: true } };
    const chart = (id, config) => new window.Chart(document.getElementById(id), config);
    chart("chart-days", {
      type: "bar",
      data: {
        labels: s.days,
        datasets: Object.entries(s.by_disposition)
          .sort(([a], [b]) => rank(a) - rank(b))
          .map(([name, data]) => ({
            label: names[name] || name,
            data: data,
            backgroundColor: COLOURS[name] || "#34495e",
          })),
      },
      options: { scales: stacked, animation: false },
    });
    chart("chart-net", {
      type: "line",
      data: {
        labels: s.days,
        datasets: [{ label: "net sentiment", data: s.net_sentiment, borderColor: "#2c3e50", spanGaps: true }],
      },
      options: { scales: { y: { suggestedMin: -100, suggestedMax: 100 } }, animation: false },
    });
    chart("chart-topics", {
      type: "bar",
      data: {
        labels: weeks,
        // the most complained-of cause first, as the tables and `earful stats` list them
        datasets: Object.entries(s.topics_by_week)
          .sort(([a, x], [b, y]) => total(y) - total(x) || (a < b ? -1 : 1))
          .map(([name, data], i) => ({
            label: name,
            data: data,
            backgroundColor: PALETTE[i % PALETTE.length],
          })),
      },
      options: { scales: stacked, animation: false },
    });
    chart("chart-reply", {
      type: "line",
      data: {
        labels: weeks,
        datasets: [
          {
            label: "median hours to first reply",
            data: s.first_reply_by_week.map((v) => (v === null ? null : v / 3600)),
            borderColor: "#8e44ad",
            spanGaps: true,
          },
        ],
      },
      options: { scales: { y: { beginAtZero: true } }, animation: false },
    });
    body.dataset.chartsReady = "yes";
  }

  // A message for the page after a reload (an undo reads the page afresh).
  const SAID_KEY = "earful-said";

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    const said = sessionStorage.getItem(SAID_KEY);
    if (said) {
      sessionStorage.removeItem(SAID_KEY);
      flash(said, "ok");
    }
    if (page === "queue") queuePage();
    if (page === "case") casePage();
    if (page === "praise") praisePage();
    if (page === "stats") statsPage();
    if (page === "users") usersPage();
    callbackButtons();
    alertButtons();
  });
})();
