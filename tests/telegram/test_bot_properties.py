"""Property-based: whatever users throw at the bot, it never crashes, never sends an invalid request to
Telegram, and always answers a button press."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.events.records import EventFields
from bot.messages import LANGUAGES, text
from bot.testing import FakeTelegram
from bot.text import parse_id, parse_row_id
from tests.botkit import ADMIN, BotEnv, bot_config, running_bot

pytestmark = pytest.mark.slow  # random traffic through the whole bot

T = TypeVar("T")
USERS = (ADMIN, 101, 102)
GROUP = -900


class BotThread:
    """The bot and the fake server on an event loop of their own, driven from the (sync) test."""

    def __init__(self, tmp: Path, knowledge: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready: Future[BotEnv] = Future()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._main(tmp, knowledge),)
        )
        self.thread.start()
        self.env = self.ready.result(timeout=120)

    async def _main(self, tmp: Path, knowledge: Path) -> None:
        try:
            async with running_bot(bot_config(tmp, knowledge)) as env:
                start = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
                await env.services.events.publish(EventFields("Webinaire <test>", start), created_by=ADMIN)
                self.ready.set_result(env)
                await self.stop.wait()
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=60)


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotThread]:
    import shutil

    from tests.conftest import KNOWLEDGE

    tmp = tmp_path_factory.mktemp("properties")
    shutil.copytree(KNOWLEDGE, tmp / "knowledge")
    running = BotThread(tmp, tmp / "knowledge")
    yield running
    running.close()


texts = st.one_of(
    st.text(min_size=1, max_size=300),
    st.text(alphabet="<>&\"'/@#*_[]()~`|{}.!-é😀", min_size=1, max_size=50),
    st.sampled_from(["/start", "/aide", "/langue", "/questions", "/stats", "/oubli", "/mesdonnees",
                     "/invitation", "/coordinateur", "/coordinateur abc", "/coordinateur 101", "/rejoindre",
                     "/rejoindre XXXX", "/question", "/question <b>?</b>", "/inconnue", "bonjour", "merci",
                     "/diagnostic", "/mondiagnostic", "/evenements", "/abonnements", "/nouvel_evenement",
                     "/annuler", "/stats diagnostic", "/annonce", "/campagnes"]),
    st.builds(lambda w: f"/question {w}", st.text(max_size=100)),
    st.builds(lambda n: "x" * n, st.integers(900, 4096)),
)  # fmt: skip
callback_data = st.one_of(
    st.text(min_size=1, max_size=64).filter(lambda s: 1 <= len(s.encode()) <= 64),
    st.sampled_from(["m:ask", "m:diag", "m:net", "m:", "l:1:le-rameau", "l:-5:x", "f:1:1", "f:1:-1", "f:x:1",
                     "lang:en", "lang:fr", "lang:", "forget:no", "forget:yes", "d:go", "d:a:territoire:rural",
                     "d:back", "d:pause", "d:done", "d:edit", "d:c:territoire", "d:resume", "e:r:1", "e:i:1",
                     "e:p:1:yes", "e:g:2", "e:x:1", "e:xc:1", "e:m:1", "s:all", "s:new", "ne:aud:all",
                     "ne:ok", "m:events", "m:diag", "an:aud:1:all", "an:go:1", "an:at:1", "an:no:1",
                     "an:ok:1", "an:x:1", "a:unsub", "an:aud:1:topic", "an:top:1:webinaires",
                     "s:t:webinaires", "s:ann", "s:t:nope"]),
)  # fmt: skip
actions = st.lists(
    st.one_of(
        st.tuples(st.just("text"), st.sampled_from(USERS), texts),
        st.tuples(st.just("group"), st.sampled_from(USERS), texts),
        st.tuples(st.just("edit"), st.sampled_from(USERS), texts),
        st.tuples(st.just("click"), st.sampled_from(USERS), callback_data),
        st.tuples(st.just("sticker"), st.sampled_from(USERS), st.just("")),
        st.tuples(st.just("photo"), st.sampled_from(USERS), st.just("")),
    ),
    min_size=1,
    max_size=6,
)


async def _play(fake: FakeTelegram, steps: list[tuple[str, int, str]]) -> list[str]:
    queries: list[str] = []
    for kind, user, payload in steps:
        if kind == "text":
            await fake.user_sends(user, payload)
        elif kind == "group":
            await fake.user_sends(user, payload, chat_id=GROUP, chat_type="group")
        elif kind == "edit":
            await fake.user_sends(user, payload)
            await fake.user_sends(user, payload + " (modifié)", edited=True)
        elif kind == "click":  # a button on the bot's last message in that chat, as Telegram would send
            sent = fake.sent_to(user)
            queries.append(
                await fake.user_sends_raw_callback(user, sent[-1].message_id if sent else 1, user, payload)
            )
        elif kind == "sticker":
            await fake.user_sends_sticker(user)
        else:
            await fake.user_sends_photo(user)
    await fake.wait_for(lambda: not fake.pending_updates, timeout=30)
    await fake.wait_for(lambda: all(fake.answered_callback(q) is not None for q in queries), timeout=30)
    await asyncio.sleep(0.2)  # let replies to the last updates go out
    return queries


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=actions)
def test_random_traffic_never_breaks_the_bot(bot: BotThread, steps: list[tuple[str, int, str]]) -> None:
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    before = len(bot.env.fake.invalid_requests)
    try:
        bot.run(bot.env.fake.user_sends(101, "/start"))  # make sure message 1 exists in each private chat
        # Coordinators then read what was asked: user texts must come back escaped.
        bot.run(_play(bot.env.fake, [*steps, ("text", ADMIN, "/questions")]))
    finally:
        logging.getLogger().removeHandler(errors)
    assert bot.env.fake.invalid_requests[before:] == []
    assert [r.getMessage() for r in errors.records] == []


# Numbers as hostile users and forged buttons write them: other scripts' digits (`"²".isdigit()` is true),
# signs, spaces, zero, and values past a 32-bit row id or a 64-bit user id.
odd_numbers = st.one_of(
    st.sampled_from(["²", "١٢", "𝟙", "+1", "-1", "0", "", "1_0", " 1", "1 ", "0x1", "1.0", str(2**31),
                     str(2**63), str(2**64), "9" * 25]),
    st.integers(min_value=2**31, max_value=2**80).map(str),
    st.text(alphabet="0123456789²³¹١٢٣𝟙+- _", min_size=1, max_size=12),
)  # fmt: skip
button_templates = st.sampled_from(["e:p:{}:yes", "e:r:{}", "e:i:{}", "e:g:{}", "e:x:{}", "e:xc:{}", "e:m:{}",
                                    "f:{}:1", "l:{}:le-rameau", "an:go:{}", "an:ok:{}", "an:aud:{}:all",
                                    "an:no:{}", "an:at:{}", "an:x:{}"])  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=button_templates, number=odd_numbers, user=st.sampled_from(USERS))
def test_a_button_carrying_an_odd_number_is_no_longer_valid(
    bot: BotThread, template: str, number: str, user: int
) -> None:
    data = template.format(number)
    if not 1 <= len(data.encode()) <= 64 or parse_row_id(number) is not None:
        return  # Telegram never delivers such data; an id in range is a valid button, tested elsewhere
    fake, errors = bot.env.fake, ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        if not fake.sent_to(user):
            bot.run(fake.user_sends(user, "/start"))
            bot.run(fake.wait_for(lambda: fake.sent_to(user) != [], timeout=30))
        query = bot.run(fake.user_sends_raw_callback(user, fake.sent_to(user)[-1].message_id, user, data))
        bot.run(fake.wait_for(lambda: fake.answered_callback(query) is not None, timeout=30))
    finally:
        logging.getLogger().removeHandler(errors)
    answered = fake.answered_callback(query)
    # in the user's language: an earlier example of this module may have pressed « lang:en » for them
    assert answered is not None and answered.params.get("text") in {
        text("button_stale", lang) for lang in LANGUAGES
    }
    assert [r.getMessage() for r in errors.records] == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=odd_numbers)
def test_a_command_argument_that_is_not_an_id_gets_the_usage_again(bot: BotThread, number: str) -> None:
    if parse_id(number.strip()) is not None:
        return
    fake, errors = bot.env.fake, ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        before = len(fake.sent_to(ADMIN))
        bot.run(fake.user_sends(ADMIN, f"/coordinateur {number}"))
        bot.run(fake.wait_for(lambda: len(fake.sent_to(ADMIN)) > before, timeout=30))
    finally:
        logging.getLogger().removeHandler(errors)
    assert fake.sent_to(ADMIN)[before].text == text("coordinator_usage")
    assert [r.getMessage() for r in errors.records] == []
