"""What the console and the command line both do to a case beyond one Store call:
a person's escalation, which raises an alert saying who escalated and why."""

from __future__ import annotations

from listener.normalize import http_url
from responders.escalation import person_escalation
from storage import queries
from storage.records import CaseRecord
from storage.store import Store


def escalate(store: Store, case_id: int, actor: str, *, note: str | None) -> CaseRecord:
    """A person escalates a case: the case says so, and senior staff get an alert
    (the webhook's, as for the alerts Earful raises) saying who and why, on the
    case's latest post. CaseConflict when it is escalated or resolved already."""
    view = queries.case_view(store, case_id)
    latest = view.mentions[-1] if view.mentions else None
    alert = person_escalation(
        case_id=case_id,
        urgency=view.case.urgency,
        platform=view.case.platform,
        author=view.case.author_handle,
        url=http_url(latest.url) if latest else None,
        actor=actor,
        note=note,
    )
    return store.escalate_case(case_id, actor, note=note, alert=alert)
