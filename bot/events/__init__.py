"""Events: the calendar of the network, reminders, imports and .ics exports.

Pure domain code (no database, no Telegram): `records` (an event, its field limits), `clock` (Europe/Paris ↔
UTC, parsing and French/English formatting), `when` (French dates as typed, « demain à 14 h »), `planning`
(which reminders are due), `importer` (YAML and .ics calendars → `ImportedEvent`, with `entries`,
`ics_reader`, `recurrence` and `decoding`), `ics` (one event → .ics bytes), `intent` (is a chat question
about the calendar?). `service` ties them to the storage.
"""
