"""python-telegram-bot's HTTP requests over aiohttp (its default, httpx, costs far more CPU per request).

Measured on this project's 2-core machine against a local server, CPU per request: httpx 2.2 ms one at a
time and 3.5 ms with 500 at once; aiohttp 0.6 and 0.5 ms. A question costs two requests (the typing action
and the reply), so under load this is CPU the bot does not spend on HTTP. The body is the one PTB's own
`HTTPXRequest` sends: form-encoded parameters (JSON-encoded values), multipart when files go with them.
"""

from __future__ import annotations

import re
import ssl
import urllib.parse
import urllib.request
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.redaction import MASK

_TOKEN_PATH = re.compile(r"/bot[^/\s'\"]+")  # the token is the path segment after /bot


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` over one `aiohttp.ClientSession` with at most `connection_pool_size` connections.

    Timeouts are seconds (None: no limit); the pool wait counts in the connect timeout, as aiohttp does.
    Raises `TimedOut` when one runs out and `NetworkError` for any other transport failure; neither message
    holds the URL (it holds the bot's token).
    """

    def __init__(
        self,
        connection_pool_size: int = 256,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read, self._write, self._media_write = read_timeout, write_timeout, media_write_timeout
        self._connect = None if connect_timeout is None else connect_timeout + (pool_timeout or 0.0)
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}  # (scheme, host) → proxy URL, see `_proxy`

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, limit_per_host=self._pool_size, ssl=_tls_context()
            )
            headers = {"User-Agent": self.USER_AGENT}
            self._session = aiohttp.ClientSession(connector=connector, headers=headers)

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _proxy(self, url: str) -> str | None:
        """The proxy of the environment for `url` (HTTPS_PROXY, ALL_PROXY, NO_PROXY…, as PTB's httpx client
        honoured them), read once per host: aiohttp's `trust_env` reads the whole environment on every
        request (measured: the largest share of the bot's CPU per reply)."""
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            proxies = urllib.request.getproxies()
            bypass = urllib.request.proxy_bypass(key[1]) if key[1] else True
            self._proxies[key] = None if bypass else proxies.get(key[0]) or proxies.get("all")
        return self._proxies[key]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See `BaseRequest.do_request`: (HTTP status, body)."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        read = self._read if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        write = self._media_write if files else self._write
        if write_timeout is not BaseRequest.DEFAULT_NONE:
            write = write_timeout
        connect = self._connect if connect_timeout is BaseRequest.DEFAULT_NONE else connect_timeout
        # aiohttp has no write timeout of its own: the whole request gets the read and write budgets
        total = None if read is None or write is None else read + write + (connect or 0.0)
        timeout = aiohttp.ClientTimeout(total=total, connect=connect, sock_read=read)
        try:
            async with self._session.request(  # a redirect would turn the POST into an empty GET
                method,
                url,
                data=_body(request_data),
                timeout=timeout,
                allow_redirects=False,
                proxy=self._proxy(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut(f"aiohttp: {type(exc).__name__}") from None
        except (aiohttp.ClientError, OSError) as exc:
            message = _TOKEN_PATH.sub(f"/bot{MASK}", str(exc))
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {message}") from None


def _tls_context() -> ssl.SSLContext:
    """certifi's certificates when installed (httpx's choice), else the system's."""
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields as PTB encodes them; a multipart body when files go with them."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return fields or None
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mime) in files.items():
        form.add_field(name, content, filename=filename or name, content_type=mime)
    return form
