"""Updates for the bot: `getUpdates` long polls, or POSTs to webhooks, rotating over several bot instances.

One bot instance per token is Telegram's rule. To test several instances of one bot behind a load
balancer, each instance talks to the fake through its own API root, `FakeTelegram.instance_root(name)`
(requests through the plain `api_root` belong to the instance ""). Then:

* `setWebhook(url)` from an instance registers (or replaces) that instance's URL; an empty URL removes it;
* `deleteWebhook` from an instance removes that instance's URL only;
* each pending update is POSTed to one registered URL, the URLs taking turns in registration order
  (round robin). An update that fails (connection refused, non-2xx) stays first in the queue and goes to
  the next URL in turn, so every update reaches exactly one instance that accepted it;
* `getWebhookInfo` shows the caller's URL (else the first one); `getUpdates` conflicts (409) while any
  URL is registered, as it does with one webhook.

With a single instance this is Telegram's behaviour unchanged.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import suppress
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientTimeout

from bot.testing.entities import JsonDict
from bot.testing.records import ApiError, WebhookDelivery, bad
from bot.testing.state import TelegramState
from bot.testing.validation import OPT_IN_UPDATES, SECRET_RE, Params

RETRY_PAUSE = 0.05  # seconds between a failed webhook delivery and the next try


class Updates(TelegramState):
    """The update queue, long polling and webhooks."""

    def _allowed(self, update: JsonDict, allowed: frozenset[str] | None) -> bool:
        kind = next((key for key in update if key != "update_id"), "")
        return kind not in OPT_IN_UPDATES if allowed is None else kind in allowed

    def _take_updates(self) -> list[JsonDict]:
        self._updates = [u for u in self._updates if self._allowed(u, self._allowed_updates)]
        return self._updates

    def _set_allowed(self, p: Params) -> None:
        allowed = p.get("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise bad("can't parse allowed updates JSON object")
            self._allowed_updates = frozenset(allowed) or None

    async def _get_updates(self, p: Params) -> list[JsonDict]:
        if self._webhooks:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset, limit, timeout = p.number("offset"), p.number("limit"), p.number("timeout") or 0
        limit = 100 if limit is None else min(max(limit, 1), 100)
        self._set_allowed(p)
        if offset is not None:
            self._updates = (
                self._updates[offset:]
                if offset < 0
                else [u for u in self._updates if u["update_id"] >= offset]
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older poll still waiting is superseded
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            if generation != self._poll_generation:
                transport = p.request.transport
                if transport is not None and not transport.is_closing():
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                return []
            batch = self._take_updates()[:limit]
            remaining = deadline - time.monotonic()
            if batch or self._closing or self._webhooks or remaining <= 0:
                return [dict(update) for update in batch]
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)

    async def _set_webhook(self, p: Params) -> bool:
        url, secret = p.text("url") or "", p.text("secret_token") or None
        if secret is not None and not SECRET_RE.fullmatch(secret):
            raise bad("secret token contains unallowed characters")
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise bad("bad webhook: invalid webhook URL specified")
            if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
                raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        self._set_allowed(p)
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        connections = min(max(p.number("max_connections") or 40, 1), 100)
        if url:
            self._webhooks[p.instance] = {"url": url, "secret_token": secret, "max_connections": connections}
        else:
            self._webhooks.pop(p.instance, None)
        self._webhook_error = None
        self._notify()
        return True

    async def _delete_webhook(self, p: Params) -> bool:
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        self._webhooks.pop(p.instance, None)
        self._notify()
        return True

    async def _get_webhook_info(self, p: Params) -> JsonDict:
        hook = self._webhooks.get(p.instance) or next(iter(self._webhooks.values()), None)
        info: JsonDict = {
            "url": hook["url"] if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook:
            info["max_connections"] = hook["max_connections"]
            if self._allowed_updates:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    def _next_webhook(self) -> JsonDict | None:
        """The registered webhook whose turn it is (round robin), or None when there is none."""
        hooks = list(self._webhooks.values())
        if not hooks:
            return None
        hook = hooks[self._turn % len(hooks)]
        self._turn += 1
        return hook

    async def _deliver_loop(self) -> None:
        while not self._closing:
            wakeup = self._wakeup
            if not self._webhooks or not self._take_updates():
                await wakeup.wait()
                continue
            hook = self._next_webhook()
            assert hook is not None
            update = self._updates[0]
            status, error = await self._post_update(hook, update)
            self.webhook_deliveries.append(WebhookDelivery(update["update_id"], status, error, hook["url"]))
            if 200 <= status < 300:
                self._updates = [u for u in self._updates if u is not update]
            else:
                self._webhook_error = (int(time.time()), error or str(status))
                await asyncio.sleep(RETRY_PAUSE)

    async def _post_update(self, hook: JsonDict, update: JsonDict) -> tuple[int, str | None]:
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if hook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        try:
            async with self._session.post(
                hook["url"], data=json.dumps(update), headers=headers, timeout=ClientTimeout(total=10)
            ) as response:
                await response.read()
                error = None if response.ok else f"Wrong response from the webhook: {response.status}"
                return response.status, error
        except (ClientError, TimeoutError) as exc:
            return 0, f"Connection failed: {exc!r}"
