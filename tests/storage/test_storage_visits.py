"""What one update needs of its user, in one statement, on every backend: `VisitRepository.snapshot` and
`VisitService.visit` over it."""

from __future__ import annotations

from datetime import timedelta

from bot.conversations import ConversationService, Flow
from bot.qa.records import Status
from bot.storage.repository import Storage
from bot.users import Role, UserService
from bot.users.records import Snapshot
from bot.users.visits import Visit, VisitService
from tests.storage_fixtures import T0, minutes

CHAT = USER = 42
ADMIN = 7
NOBODY = Snapshot(language=None, role=None, flow=None, state=None, answers_waiting=False)


async def _answered(storage: Storage, user_id: int) -> int:
    """A question of `user_id` kept for the coordinators and answered (not delivered yet)."""
    question = await storage.questions.record_question(
        user_id, "private", "Comment monter un catalyseur ?", "fr", False, None, None, now=T0
    )
    assert await storage.coordination.keep(question)
    assert await storage.coordination.handle(question, Status.ANSWERED, ADMIN, "Ada", answer="Ainsi.", now=T0)
    return question


async def test_a_user_never_seen_has_nothing_stored(storage: Storage) -> None:
    assert await storage.visits.snapshot(USER, CHAT, now=T0) == NOBODY
    assert await storage.visits.snapshot(USER, None, now=T0) == NOBODY
    assert await storage.users.get_user(USER) is None, "reading records nobody"


async def test_a_known_user_has_their_language_and_role(storage: Storage) -> None:
    await storage.users.touch_user(USER, language_hint="en-US", now=T0)
    assert await storage.visits.snapshot(USER, CHAT, now=T0) == Snapshot(
        "en", Role.NEWCOMER, None, None, False
    )
    await storage.users.set_role(USER, Role.COORDINATOR)
    await storage.users.set_language(USER, "fr")
    found = await storage.visits.snapshot(USER, CHAT, now=T0)
    assert (found.language, found.role) == ("fr", Role.COORDINATOR)
    assert (await storage.visits.snapshot(USER + 1, CHAT, now=T0)).language is None, "only this user"


async def test_the_flow_in_progress_is_the_latest_unexpired_one_of_this_chat(storage: Storage) -> None:
    store = storage.conversations
    state = {"step": "title", "data": {"title": "Réunion « été » 🌞"}}
    await store.save(CHAT, USER, "new_event", state, now=T0, expires_at=minutes(60))
    await store.save(CHAT, USER, "announce", {"step": "content"}, now=minutes(5), expires_at=minutes(30))
    await store.save(CHAT + 1, USER, "import", {"step": "document"}, now=minutes(9), expires_at=minutes(90))
    found = await storage.visits.snapshot(USER, CHAT, now=minutes(10))
    assert (found.flow, found.state) == ("announce", {"step": "content"}), "the one changed last"
    assert (found.language, found.role) == ("fr", Role.NEWCOMER), "saving a flow recorded the user"
    expired = await storage.visits.snapshot(USER, CHAT, now=minutes(30))
    assert (expired.flow, expired.state) == ("new_event", state), "an expired flow reads as absent"
    gone = await storage.visits.snapshot(USER, CHAT, now=minutes(60))
    assert (gone.flow, gone.state) == (None, None)
    assert (await storage.visits.snapshot(USER, None, now=minutes(10))).flow is None, "no chat, no flow"
    assert (await storage.visits.snapshot(USER + 1, CHAT, now=minutes(10))).flow is None, "another user's"
    other_chat = await storage.visits.snapshot(USER, CHAT + 1, now=minutes(10))
    assert (other_chat.flow, other_chat.state) == ("import", {"step": "document"})


async def test_waiting_answers_are_seen_until_delivered(storage: Storage) -> None:
    question = await _answered(storage, USER)
    assert (await storage.visits.snapshot(USER, CHAT, now=T0)).answers_waiting
    assert (await storage.visits.snapshot(USER, None, now=T0)).answers_waiting
    assert not (await storage.visits.snapshot(USER + 1, CHAT, now=T0)).answers_waiting, "only their own"
    pending = await storage.questions.record_question(
        USER + 1, "private", "Et alors ?", "fr", False, None, None
    )
    assert await storage.coordination.keep(pending)
    assert not (await storage.visits.snapshot(USER + 1, CHAT, now=T0)).answers_waiting, "not answered yet"
    assert await storage.coordination.mark_delivered(question, now=T0)
    assert not (await storage.visits.snapshot(USER, CHAT, now=T0)).answers_waiting


async def test_the_service_gives_the_role_and_flow_as_the_other_services_do(storage: Storage) -> None:
    now = [T0]
    users = UserService(storage, admins=[ADMIN], clock=lambda: now[0])
    conversations = ConversationService(
        storage.conversations, clock=lambda: now[0], expiry=timedelta(hours=1)
    )
    visits = VisitService(storage, users, conversations)
    assert await visits.visit(USER, CHAT) == Visit(None, Role.NEWCOMER, None, False)
    assert await visits.visit(ADMIN, CHAT) == Visit(None, Role.ADMIN, None, False), "admins from the config"
    await users.grant(ADMIN, Role.MEMBER)
    assert (await visits.visit(ADMIN, CHAT)).role is Role.ADMIN, "whatever is stored"
    await conversations.start(CHAT, USER, "announce", {"step": "content"})
    await _answered(storage, USER)
    visit = await visits.visit(USER, CHAT)
    assert visit == Visit("fr", Role.NEWCOMER, Flow("announce", {"step": "content"}), True)
    assert visit.flow == await conversations.current(CHAT, USER)
    now[0] = T0 + timedelta(hours=1)  # the flow's expiry follows the conversations' clock
    assert (await visits.visit(USER, CHAT)).flow is None
    assert await conversations.current(CHAT, USER) is None
