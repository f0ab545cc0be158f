"""Periodic jobs shared by several instances of the bot: each tick runs on one instance only."""

from bot.jobs.leases import JobLeases

__all__ = ["JobLeases"]
