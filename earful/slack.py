"""The Slack-compatible message for one escalation alert: {"text", "blocks"}.

Post text is hostile until shown otherwise. In Slack's mrkdwn `<!channel>` pages a
whole channel, `<@U123>` mentions a person and `<https://evil|your bank>` disguises a
link. Everything that comes from a post (text, handle, name, link, the words a rule
matched) is escaped the way Slack asks (& < > as entities), control and bidi
characters are made visible, and each part is cut to fit Slack's block limits, so a
post can neither page anyone nor break the message. Pure functions; no I/O.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from earful.display import oneline, safe
from responders.templating import PLATFORM_NAMES
from storage.records import AlertRecord

# Slack's limits (Block Kit reference): a header's plain text 150 characters, a
# section's text 3000, a section field 2000; the top-level text is the notification.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
NOTIFICATION_LIMIT = 300
REASONS_SHOWN = 10
ELLIPSIS = "…"

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str | None) -> str:
    """Text that mrkdwn shows literally: no mentions, no links, no control sequences."""
    return "".join(_ENTITIES.get(c, c) for c in safe(text))


def clipped(text: str | None, limit: int, *, quote: bool = False) -> str:
    """`text` escaped (and, with quote, as a "> " block quote), cut so the escaped
    result is at most `limit` characters. Cutting happens between characters of
    the original, never inside an entity like "&amp;"."""
    pieces: list[str] = ["> "] if quote else []
    used = sum(map(len, pieces))
    shown = safe(text)
    for index, char in enumerate(shown):
        piece = "\n> " if quote and char == "\n" else _ENTITIES.get(char, char)
        room = limit - (len(ELLIPSIS) if index < len(shown) - 1 else 0)
        if used + len(piece) > room:
            return "".join(pieces) + ELLIPSIS
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces)


def link(url: str | None, label: str) -> str:
    """A mrkdwn link to an http(s) URL; anything else is shown as escaped text."""
    if not url:
        return "(no link)"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return clipped(url, 500)
    # "|" would end the URL and start the label; whitespace would end the link.
    target = "".join(
        _ENTITIES.get(c, "%7C" if c == "|" else f"%{ord(c):02X}" if c.isspace() else c) for c in url
    )
    if len(target) > 1000:
        return clipped(url, 500)
    return f"<{target}|{escape(label)}>"


def _author(alert: AlertRecord) -> str:
    who = f"@{alert.author_handle}" if alert.author_handle else "unknown author"
    if alert.author_name:
        who += f" ({alert.author_name})"
    if alert.author_followers is not None:
        who += f" · {alert.author_followers:,} followers"
    return who


def _reasons(alert: AlertRecord) -> str:
    lines = [f"• {alert.reason}"] if alert.reason else []
    for reason in alert.reasons[:REASONS_SHOWN]:
        weight = reason.get("weight")
        shown = f" ({round(weight, 2):+g})" if isinstance(weight, int | float) and weight else ""
        lines.append(f"• {reason.get('rule', '?')}: {reason.get('detail', '')}{shown}")
    if len(alert.reasons) > REASONS_SHOWN:
        lines.append(f"• and {len(alert.reasons) - REASONS_SHOWN} more")
    return clipped("\n".join(lines), SECTION_LIMIT - len("*Why*\n"))


def alert_message(alert: AlertRecord) -> dict[str, Any]:
    """The webhook body: `text` for notifications and clients without blocks, `blocks`
    for the message itself."""
    platform = PLATFORM_NAMES.get(alert.platform, alert.platform)
    topic = alert.topic or "complaint"
    header = f"Urgent {topic} on {platform} · urgency {alert.urgency}/100"
    fields = [
        ("Platform", platform),
        ("Author", _author(alert)),
        ("Urgency", f"{alert.urgency}/100"),
        ("Topic", topic),
    ]
    if alert.segment:
        fields.append(("Segment", alert.segment))
    return {
        "text": clipped(" ".join(alert.body.split()), NOTIFICATION_LIMIT),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": oneline(header, HEADER_LIMIT)},
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n" + clipped(value, FIELD_LIMIT - 20)}
                    for name, value in fields
                ],
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": clipped(alert.text, SECTION_LIMIT, quote=True)},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Why*\n" + _reasons(alert)}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{link(alert.url, 'Open the post')} · Earful alert {alert.id}",
                    }
                ],
            },
        ],
        # Links inside a post must not unfold into previews in the channel.
        "unfurl_links": False,
        "unfurl_media": False,
    }
