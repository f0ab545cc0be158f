"""How an announcement and its campaign read: the callback data, the message recipients see, the progress
line and the report."""

from __future__ import annotations

import html
import re

from bot.announcements.records import Campaign
from bot.announcements.service import Report
from bot.events.clock import format_when
from bot.messages import text
from bot.telegram.render import html_text
from bot.telegram.transport import Outgoing

ANNOUNCE = "announce"  # the conversation flow (bot.conversations)
AUDIENCE_BUTTONS = ("all", "members", "coordinators", "topic", "me")  # offered in the composer, in this order
UNSUBSCRIBE = "a:unsub"


def announce_data(action: str, campaign_id: int, *rest: str) -> str:
    """`an:…` buttons: aud/top (audience, topic), go/at/no (send now, schedule, discard), ok (approve),
    x (cancel)."""
    return ":".join(("an", action, str(campaign_id), *rest))


def campaign_title(campaign: Campaign) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", "", campaign.text or campaign.media_name or "")).strip()
    first = plain.splitlines()[0] if plain else f"#{campaign.id}"
    return first if len(first) <= 40 else first[:39].rstrip() + "…"


def grouped_number(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def outgoing(campaign: Campaign, language: str) -> Outgoing:
    """The announcement exactly as recipients see it, with its opt-out button."""
    buttons = [[(text("announce_unsubscribe", language), UNSUBSCRIBE)]]
    if campaign.media_kind == "photo":
        return Outgoing(campaign.text, buttons, photo=campaign.media_file_id)
    if campaign.media_kind == "document":
        return Outgoing(campaign.text, buttons, document=campaign.media_file_id)
    return Outgoing(campaign.text, buttons)


def progress_text(campaign: Campaign, sent: int, total: int, language: str) -> str:
    return html_text(
        "announce_progress",
        language,
        title=campaign_title(campaign),
        sent=grouped_number(sent),
        total=grouped_number(total),
    )


def campaign_when(campaign: Campaign, language: str) -> str:
    """When the campaign goes out (Paris time): sent, due, or only created for a draft."""
    if campaign.status in ("sending", "done"):
        moment, key = campaign.send_at or campaign.finished_at or campaign.updated_at, "campaign_when_sent"
    elif campaign.send_at is not None:
        moment, key = campaign.send_at, "campaign_when_scheduled"
    else:
        moment, key = campaign.created_at, "campaign_when_created"
    return text(key, language, date=format_when(moment, None, language))


def report_text(campaign: Campaign, report: Report, language: str) -> str:
    lines = [
        html_text(
            "announce_report", language, title=campaign_title(campaign), sent=report.sent,
            blocked=report.blocked, failed=report.failed_count, skipped=report.skipped,
        )
    ]  # fmt: skip
    lines += [
        html_text("announce_report_reason", language, reason=reason or "?", count=count)
        for reason, count in report.failed.items()
    ]
    return "\n".join(lines)
