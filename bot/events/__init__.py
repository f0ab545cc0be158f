"""Events: the calendar of the network, reminders, imports and .ics exports.

Pure domain code (no database, no Telegram): `clock` (Europe/Paris ↔ UTC, parsing and French/English
formatting), `planning` (which reminders are due), `importer` (YAML and .ics calendars → `ImportedEvent`),
`ics` (one event → .ics bytes). `service` ties them to the storage.
"""
