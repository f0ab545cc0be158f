"""`/mesdonnees` for people: the personal data export as text in the user's language, Paris times.

The JSON export (`Storage.export_user`) stays the machine-readable copy; this renders the same data, section
by section, one line per field, with the catalogue's names for sections (`data_section_<key>`) and fields
(`data_field_<name>`), stored codes by their catalogue names (`<prefix>_<code>`, prefixes in `VALUE_NAMES`:
« member » → « membre », « pending » → « en attente… »), ISO 8601 datetimes as Europe/Paris times
(« dimanche 29 novembre 2026, 14 h 05 »), the bot's confidence as a percentage, booleans as yes/no, and lists
or mappings as compact JSON. Unknown sections, fields and codes keep their name, so a new column in the
export never breaks the report.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from babel.numbers import format_percent

from bot.diagnosis.texts import status_labels
from bot.events.clock import format_when
from bot.messages import text, text_or

_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?")


def _moment(value: str) -> dt.datetime | None:
    if not _ISO_DATETIME.fullmatch(value):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # shaped like a date, but not one (« 2026-13-40 12:00 »)
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def readable_value(value: Any, language: str) -> str:
    """One exported value as a person reads it (datetimes in Paris time, « Oui »/« Non », « — » for none)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return text("data_yes" if value else "data_no", language)
    if isinstance(value, str) and (moment := _moment(value)) is not None:
        return format_when(moment, None, language)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


# Where a field holds a code, the catalogue prefix of its names; (section, field) first, then the field alone.
VALUE_NAMES: dict[tuple[str, str] | str, str] = {
    "language": "data_language",
    "role": "data_role",
    "chat_type": "data_chat_type",
    "audience": "data_audience",
    "media_kind": "data_media_kind",
    "kind": "data_delivery_kind",
    "reason": "dislike",  # the 👎 reasons' keys (qa.records.DISLIKE_REASONS), or the person's own sentence
    ("questions", "status"): "data_question_status",
    ("deliveries", "status"): "data_delivery_status",
    ("campaigns", "status"): "campaign_status",
    ("rsvps", "answer"): "data_rsvp",
}
_VOTES = {"value", "helped"}  # +1 / -1


def _field(name: str, language: str) -> str:
    return text_or(f"data_field_{name}", language, name)


def _value(section: str, name: str, value: Any, language: str) -> str:
    if name in _VOTES and value in (1, -1):
        return text("data_vote_up" if value == 1 else "data_vote_down", language)
    if name == "confidence" and isinstance(value, float):
        return format_percent(value, locale=language)
    if name == "statuses" and isinstance(value, Mapping):  # {métier id: diagnosis status}
        labels = status_labels(language)
        value = {metier: labels.get(status, status) for metier, status in value.items()}
    prefix = VALUE_NAMES.get((section, name)) or VALUE_NAMES.get(name)
    if prefix is not None and isinstance(value, str):
        return text_or(f"{prefix}_{value}", language, value)
    return readable_value(value, language)


def _record(section: str, record: Mapping[str, Any], language: str) -> list[str]:
    return [
        text("data_line", language, field=_field(k, language), value=_value(section, k, v, language))
        for k, v in record.items()
    ]


def readable_export(data: Mapping[str, Any], language: str) -> str:
    """The export `data` (`Storage.export_user`'s shape) as plain text, one section per key, in order."""
    lines = [text("data_report_title", language), ""]
    for key, value in data.items():
        lines.append(text_or(f"data_section_{key}", language, key))
        if value is None or value == [] or value == {}:
            lines.append(f"  {text('data_none', language)}")
        elif isinstance(value, list):
            for number, item in enumerate(value, start=1):
                lines.append(f" {number}.")
                lines += _record(key, item, language) if isinstance(item, Mapping) else [f"  {item}"]
        elif isinstance(value, Mapping):
            lines += _record(key, value, language)
        else:
            lines.append(f"  {readable_value(value, language)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
