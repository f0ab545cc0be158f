"""Chat flows in progress and job leases on every backend (migration 0005)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.conversations import ConversationService
from bot.jobs import JobLeases
from bot.storage.conversations import ConversationRepository
from bot.storage.database import Database
from tests.storage_fixtures import T0, minutes

CHAT = USER = 42


@pytest.fixture
def store(db: Database) -> ConversationRepository:
    return db.storage.conversations


async def test_a_flow_is_kept_by_chat_user_and_flow_until_it_expires(store: ConversationRepository) -> None:
    state = {"step": "title", "data": {"title": "Réunion « été » 🌞"}}
    await store.save(CHAT, USER, "new_event", state, now=T0, expires_at=minutes(60))
    assert await store.load(CHAT, USER, "new_event", now=minutes(59)) == state
    assert await store.load(CHAT, USER, "announce", now=minutes(1)) is None
    assert await store.load(CHAT + 1, USER, "new_event", now=minutes(1)) is None
    assert await store.load(CHAT, USER, "new_event", now=minutes(60)) is None, "expired"
    assert await store.latest(CHAT, USER, now=minutes(59)) == ("new_event", state)
    assert await store.latest(CHAT, USER, now=minutes(60)) is None
    assert await store.purge_expired(now=minutes(60)) == 1
    assert await store.end(CHAT, USER) == 0


async def test_saving_again_replaces_the_state_and_the_expiry(store: ConversationRepository) -> None:
    await store.save(CHAT, USER, "announce", {"step": "content"}, now=T0, expires_at=minutes(10))
    await store.save(CHAT, USER, "announce", {"step": "schedule"}, now=minutes(5), expires_at=minutes(30))
    assert await store.load(CHAT, USER, "announce", now=minutes(20)) == {"step": "schedule"}
    with pytest.raises(ValueError, match="expires_at"):
        await store.save(CHAT, USER, "announce", {}, now=T0, expires_at=T0)
    with pytest.raises(ValueError, match="flow"):
        await store.save(CHAT, USER, "x" * 33, {}, now=T0, expires_at=minutes(1))


async def test_starting_a_flow_ends_the_others_and_forgetting_the_user_erases_them(db: Database) -> None:
    service = ConversationService(db.storage.conversations, clock=lambda: T0)
    await service.start(CHAT, USER, "new_event", {"step": "title"})
    await service.start(CHAT, USER, "announce", {"step": "content"})
    current = await service.current(CHAT, USER)
    assert current is not None and (current.name, current.state) == ("announce", {"step": "content"})
    assert await service.get(CHAT, USER, "new_event") is None
    await db.storage.personal_data.forget_user(USER)
    assert await service.current(CHAT, USER) is None, "a forgotten user's drafts go with them"
    assert not await service.end(CHAT, USER)


async def test_one_instance_runs_each_tick_and_another_takes_over_when_it_stops(db: Database) -> None:
    now = [T0]
    store = db.storage.conversations
    first, second = (JobLeases(store, holder, clock=lambda: now[0]) for holder in ("a:1", "b:2"))
    tick = timedelta(seconds=60)
    assert await first.acquire("reminders", tick)
    assert not await second.acquire("reminders", tick), "the same tick runs once"
    assert await second.acquire("progress", tick), "each job has its own lease"
    now[0] = T0 + tick
    assert await first.acquire("reminders", tick), "the holder's next tick"
    assert not await second.acquire("reminders", tick)
    await first.release("reminders")
    assert await second.acquire("reminders", tick), "released at shutdown: taken over at once"
    now[0] = T0 + 3 * tick
    assert await first.acquire("reminders", tick), "the holder stopped ticking: its lease ran out"
