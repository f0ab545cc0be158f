"""Keeping secrets (the bot token, the webhook secret) out of every log line and logged traceback.

`install(secrets)` adds a `Redactor` to every handler of the root logger: each record that reaches a
handler has its message (`msg` % `args`), its exception text and its stack text rewritten with every
secret replaced by `[redacted]`, at every level (PTB logs the API URL, token included, at DEBUG).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "[redacted]"


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (and the token's secret part after « : ») replaced by `MASK`."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


class Redactor(logging.Filter):
    """A handler filter; never drops a record, only rewrites it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # a Bot API token is « <bot id>:<secret> »: the secret part alone must not leak either
        parts = [s for secret in secrets if secret for s in (secret, secret.partition(":")[2]) if len(s) >= 8]
        self.secrets = sorted(set(parts), key=len, reverse=True)
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep its raw parts, redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def install(secrets: Iterable[str]) -> Redactor:
    """Redact `secrets` from every record that reaches a handler of the root logger (present ones)."""
    redactor = Redactor(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    return redactor
