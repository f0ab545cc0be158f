"""Updates of different chats are handled side by side; those of one chat keep their order."""

from __future__ import annotations

import asyncio
import datetime as dt

from telegram import CallbackQuery, Chat, Message, Update, User

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
    assert len(processor._locks) == 0  # idle chats keep no lock


def command_update(update_id: int, chat_id: int, command: str = "/start") -> Update:
    user = User(chat_id, "Camille", is_bot=False)
    message = Message(update_id, WHEN, Chat(chat_id, Chat.PRIVATE), from_user=user, text=command)
    return Update(update_id, message=message)


def button_update(update_id: int, chat_id: int) -> Update:
    user = User(chat_id, "Camille", is_bot=False)
    message = Message(update_id, WHEN, Chat(chat_id, Chat.PRIVATE), from_user=user, text="menu")
    query = CallbackQuery(str(update_id), user, "instance", message=message, data="m:ask")
    return Update(update_id, callback_query=query)


async def test_a_flood_of_texts_never_holds_up_a_button_press_or_a_command() -> None:
    """Texts are dispatched at most `text_lane` at once; button presses and commands go beside them."""
    processor = ChatOrdered(text_lane=2)
    release, started, served = asyncio.Event(), [], []

    async def text(chat: int) -> None:
        started.append(chat)
        await release.wait()

    async def serve(kind: str) -> None:
        served.append(kind)

    texts = [
        asyncio.create_task(processor.process_update(text_update(i, 100 + i), text(100 + i)))
        for i in range(50)
    ]
    await asyncio.sleep(0.01)
    assert started == [100, 101], "only the lane's texts are being dispatched"
    await asyncio.wait_for(processor.process_update(button_update(60, 200), serve("button")), 1)
    await asyncio.wait_for(processor.process_update(command_update(61, 201), serve("command")), 1)
    assert served == ["button", "command"]
    release.set()
    await asyncio.gather(*texts)
    assert sorted(started) == list(range(100, 150)), "every text was dispatched in the end"


def test_what_counts_as_a_text() -> None:
    assert ChatOrdered.is_text(text_update(1, 42))
    assert not ChatOrdered.is_text(command_update(2, 42, "/aide"))
    assert not ChatOrdered.is_text(button_update(3, 42))
    assert not ChatOrdered.is_text(object())
