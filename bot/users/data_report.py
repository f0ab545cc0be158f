"""`/mesdonnees` for people: the personal data export as text in the user's language, Paris times.

The JSON export (`Storage.export_user`) stays the machine-readable copy; this renders the same data, section
by section, one line per field, with the catalogue's names for sections (`data_section_<key>`) and fields
(`data_field_<name>`), ISO 8601 datetimes as Europe/Paris times (« dimanche 29 novembre 2026, 14 h 05 »),
booleans as yes/no, and lists or mappings as compact JSON. Unknown sections and fields keep their name, so
a new column in the export never breaks the report.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

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


def _field(name: str, language: str) -> str:
    return text_or(f"data_field_{name}", language, name)


def _record(record: Mapping[str, Any], language: str) -> list[str]:
    return [
        text("data_line", language, field=_field(k, language), value=readable_value(v, language))
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
                lines += _record(item, language) if isinstance(item, Mapping) else [f"  {item}"]
        elif isinstance(value, Mapping):
            lines += _record(value, language)
        else:
            lines.append(f"  {readable_value(value, language)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
