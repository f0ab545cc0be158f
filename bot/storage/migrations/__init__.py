"""Alembic migrations of the catabot database (run by `bot.storage.database.upgrade`)."""
