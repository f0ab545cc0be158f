"""Start-up failures in one line: `<file or key>: <problem>`, without a traceback.

`describe(exc, config)` turns the exceptions that opening the bot may raise (config, knowledge base,
questionnaire, model, database, token) into that line; the CLI prints it after « catabot: » and exits
with status 2. Exceptions it does not know give `None` (the caller reports them in a generic line).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.config import Config, ConfigError

TOKEN_REJECTED = "TELEGRAM_BOT_TOKEN: rejected by Telegram"


def _problems(problems: Sequence[object]) -> str:
    first = str(problems[0]) if problems else "invalid"
    more = len(problems) - 1
    return first if more == 0 else f"{first} (and {more} more: run `catabot knowledge check`)"


def _database(exc: Exception, config: Config) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from bot.storage.engine import normalize_url

    if isinstance(exc, NoSuchModuleError | ArgumentError):
        return f"database.url: unsupported database ({exc})"
    if not isinstance(exc, DBAPIError):
        return None
    reason = str(exc.orig or exc).splitlines()[0]
    try:
        url = make_url(normalize_url(config.database.url, config.base_dir))
    except Exception:
        return f"database.url: {reason}"
    if url.get_backend_name() != "sqlite":
        if "read-only" in reason:
            return f"database.url: the database is read-only ({reason})"
        return f"database.url: {reason}"
    where = url.database or "database.url"
    if "not a database" in reason:
        return f"{where}: not a SQLite database ({reason})"
    if "readonly" in reason or "read-only" in reason:
        return f"{where}: the database is read-only ({reason})"
    return f"{where}: {reason}"


def describe(exc: BaseException, config: Config) -> str | None:
    """The one line naming the file or key and the problem, or None for an unexpected exception."""
    from telegram.error import InvalidToken

    from bot.diagnosis.questionnaire import QuestionnaireError
    from bot.embedding.install import ModelUnavailable
    from bot.knowledge import KnowledgeError

    if isinstance(exc, InvalidToken):
        return TOKEN_REJECTED
    if isinstance(exc, KnowledgeError | QuestionnaireError):
        return _problems(exc.problems)
    if isinstance(exc, ConfigError | ModelUnavailable):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, Exception):
        database = _database(exc, config)
        if database is not None:
            return database
    if isinstance(exc, ModuleNotFoundError) and "://" in config.database.url:
        return f"database.url: unsupported database driver ({exc})"
    if isinstance(exc, OSError):
        where = exc.filename or ("database.url" if not config.database.url.startswith("sqlite") else None)
        reason = exc.strerror or str(exc)
        return f"{where}: {reason}" if where else reason
    return None


class QuietBootstrap(logging.Filter):
    """Drops PTB's ERROR « Network Retry Loop (Bootstrap …): … Aborting » and its traceback: the exception
    it announces reaches the CLI, which reports it in one line. Kept when the handler shows DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("telegram") or logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        return not message.startswith("Network Retry Loop (Bootstrap")


def quiet_bootstrap() -> None:
    """Install `QuietBootstrap` on every handler of the root logger."""
    quiet = QuietBootstrap()
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)
