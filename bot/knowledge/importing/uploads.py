"""Documents received from a chat and waiting for a coordinator's « Importer », kept as files.

They live under the importer's folder, in `.pending/` (the knowledge folder is the disk every instance of the
bot shares, so any instance can finish the import, also after a restart). The loader and the index read
`*.md` files only, and an upload is stored as `<token>.upload`, so nothing pending is ever indexed. The
database row of the chat flow keeps only the token: a document of up to 20 MB does not belong in it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import time
from pathlib import Path

PENDING = ".pending"
_TOKEN = re.compile(r"[0-9a-f]{16}")
_SUFFIX = ".upload"


class Uploads:
    """`keep(data) -> token`, `read(token)`, `drop(token)`; uploads older than `expiry` are deleted when
    a new one is kept (a flow abandoned for that long has expired too, see `bot.conversations`)."""

    def __init__(self, folder: Path, expiry: dt.timedelta = dt.timedelta(hours=24)) -> None:
        self.folder = folder
        self.expiry = expiry

    def keep(self, data: bytes) -> str:
        """Store `data`; its token: 16 lowercase hex digits (fits a button's data)."""
        self.purge()
        self.folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        temporary = self.folder / f".{token}.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, self._path(token))
        return token

    def read(self, token: str) -> bytes | None:
        """The upload's bytes; None for a token never issued, dropped, purged or malformed."""
        if not _TOKEN.fullmatch(token):
            return None
        try:
            return self._path(token).read_bytes()
        except FileNotFoundError:
            return None

    def drop(self, token: str) -> None:
        if _TOKEN.fullmatch(token):
            self._path(token).unlink(missing_ok=True)

    def purge(self) -> int:
        """Delete the uploads older than `expiry`; how many."""
        if not self.folder.is_dir():
            return 0
        oldest = time.time() - self.expiry.total_seconds()
        old = [p for p in self.folder.glob(f"*{_SUFFIX}") if p.stat().st_mtime < oldest]
        for path in old:
            path.unlink(missing_ok=True)
        return len(old)

    def _path(self, token: str) -> Path:
        return self.folder / f"{token}{_SUFFIX}"
