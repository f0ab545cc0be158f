"""Updates of different chats are handled side by side; those of one chat keep their order."""

from __future__ import annotations

import asyncio
import datetime as dt

from telegram import Chat, Message, Update, User

from bot.telegram.updates import ChatOrdered

WHEN = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def text_update(update_id: int, chat_id: int) -> Update:
    user = User(chat_id, "Camille", is_bot=False)
    return Update(update_id, message=Message(update_id, WHEN, Chat(chat_id, Chat.PRIVATE), from_user=user))


async def test_a_second_message_of_a_chat_waits_for_the_first() -> None:
    processor = ChatOrdered()
    release, order = asyncio.Event(), []

    async def first() -> None:
        order.append("first starts")
        await release.wait()
        order.append("first ends")

    async def second() -> None:
        order.append("second")

    one = asyncio.create_task(processor.process_update(text_update(1, 42), first()))
    two = asyncio.create_task(processor.process_update(text_update(2, 42), second()))
    await asyncio.sleep(0.01)
    assert order == ["first starts"]
    release.set()
    await asyncio.gather(one, two)
    assert order == ["first starts", "first ends", "second"]


async def test_another_chat_is_not_held_up() -> None:
    processor = ChatOrdered()
    release, order = asyncio.Event(), []

    async def slow() -> None:
        await release.wait()
        order.append("chat 42")

    async def quick() -> None:
        order.append("chat 43")

    slow_task = asyncio.create_task(processor.process_update(text_update(1, 42), slow()))
    await asyncio.wait_for(processor.process_update(text_update(2, 43), quick()), 10)
    assert order == ["chat 43"]
    release.set()
    await slow_task
    assert order == ["chat 43", "chat 42"]
    assert processor._locks == {}  # idle chats keep no lock
