"""Coordinator announcements ("campaigns"): draft, audience and preview, send now or schedule, approval by a
second coordinator, cancellation and report.

Plain Python over `bot.storage.Storage` (no Telegram): `service.AnnouncementService`. The messages themselves
are outbox deliveries of kind "announcement", sent by `bot.delivery.sender` like reminders.
"""
