"""The storage layer on every backend: SQLite always, PostgreSQL when CATABOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, select

from bot.delivery.outbox import Status
from bot.events.records import EventFields
from bot.storage import Database, Storage, open_database, upgrade
from bot.storage.database import alembic_config, current_revision
from bot.storage.engine import create_engine, transaction
from bot.storage.schema import metadata
from bot.users.records import RedeemResult, Role
from tests.storage_fixtures import T0, minutes, schema_differences

HEAD = "0008"
TABLES = {
    "users",
    "invitations",
    "questions",
    "feedback",
    "diagnostic_sessions",
    "diagnostic_results",
    "events",
    "event_subscriptions",
    "rsvps",
    "preferences",
    "deliveries",
    "campaigns",
    "conversations",
    "job_leases",
}


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def all_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    async with transaction(db.engine, write=False) as conn:
        return {
            table.name: [dict(row) for row in (await conn.execute(select(table))).mappings()]
            for table in metadata.sorted_tables
        }


# -- migrations ---------------------------------------------------------------------------------------------


async def test_migrations_apply_on_an_empty_database_and_rerun_as_a_no_op(db_url: str) -> None:
    assert await table_names(db_url) == set()

    await upgrade(db_url)
    assert await table_names(db_url) == TABLES | {"alembic_version"}

    async with await open_database(db_url, Path("/nonexistent")) as db:  # the URL is absolute already
        await db.storage.users.touch_user(1, now=T0)
        assert await current_revision(db.engine) == HEAD
    await upgrade(db_url)  # again: nothing to do, nothing lost
    async with await open_database(db_url, Path("/nonexistent")) as db:
        assert await current_revision(db.engine) == HEAD
        assert await db.storage.users.get_user(1) is not None


async def test_migrations_build_exactly_the_declared_schema(db: Database) -> None:
    assert await schema_differences(db.engine) == []


async def test_migrations_downgrade_to_empty_and_upgrade_again(db: Database) -> None:
    def run(conn: Connection, action: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        if action == "downgrade":
            command.downgrade(config, "base")
        else:
            command.upgrade(config, "head")

    async with transaction(db.engine, write=True) as conn:
        await conn.run_sync(run, "downgrade")
    assert await current_revision(db.engine) is None
    async with transaction(db.engine, write=True) as conn:
        await conn.run_sync(run, "upgrade")
    assert await current_revision(db.engine) == HEAD


# -- users --------------------------------------------------------------------------------------------------


async def test_touch_user_creates_then_only_updates_last_seen(storage: Storage) -> None:
    assert await storage.users.get_user(42) is None

    created = await storage.users.touch_user(42, language_hint="en-US", now=T0)
    assert (created.id, created.language, created.role, created.active) == (42, "en", Role.NEWCOMER, True)
    assert created.created_at == created.last_seen_at == T0
    assert created.created_at.tzinfo is not None

    again = await storage.users.touch_user(42, language_hint="de", now=minutes(5))
    assert again.language == "en"  # the hint only sets the language of a new user
    assert (again.created_at, again.last_seen_at) == (T0, minutes(5))
    assert await storage.users.get_user(42) == again


async def test_touch_user_defaults_to_french_and_reactivates_a_user_who_blocked_the_bot(
    storage: Storage,
) -> None:
    assert (await storage.users.touch_user(7, now=T0)).language == "fr"
    assert (await storage.users.touch_user(8, language_hint="??", now=T0)).language == "fr"

    assert await storage.users.set_active(7, False)
    user = await storage.users.get_user(7)
    assert user is not None and not user.active
    assert (await storage.users.touch_user(7, now=minutes(1))).active


async def test_language_and_role_survive_a_restart(db_url: str, tmp_path: Path) -> None:
    async with await open_database(db_url, tmp_path) as db:
        await db.storage.users.touch_user(1, now=T0)
        assert await db.storage.users.set_language(1, "en")
        assert await db.storage.users.set_role(1, Role.COORDINATOR)
        assert await db.storage.users.set_active(1, False)
    async with await open_database(db_url, tmp_path) as db:
        user = await db.storage.users.get_user(1)
    assert user is not None
    assert (user.language, user.role, user.active) == ("en", Role.COORDINATOR, False)


async def test_user_changes_are_checked(storage: Storage) -> None:
    assert not await storage.users.set_language(404, "en")  # unknown user
    assert not await storage.users.set_role(404, "member")
    assert not await storage.users.set_active(404, False)
    await storage.users.touch_user(1, now=T0)
    with pytest.raises(ValueError):
        await storage.users.set_role(1, "admin")  # admins come from the config
    with pytest.raises(ValueError):
        await storage.users.set_language(1, "français")
    with pytest.raises(ValueError):
        await storage.users.touch_user(1, now=datetime(2025, 1, 1))  # naive: which time zone?


async def test_users_with_role(storage: Storage) -> None:
    for user_id in (3, 1, 2):
        await storage.users.touch_user(user_id, now=T0)
    await storage.users.set_role(3, "coordinator")
    await storage.users.set_role(1, Role.COORDINATOR)
    await storage.users.set_role(2, Role.MEMBER)
    assert [u.id for u in await storage.users.users_with_role(Role.COORDINATOR)] == [1, 3]
    assert [u.id for u in await storage.users.users_with_role("member")] == [2]
    assert await storage.users.users_with_role(Role.NEWCOMER) == []


# -- invitations --------------------------------------------------------------------------------------------


async def test_invitation_lifecycle(storage: Storage) -> None:
    code = await storage.users.create_invitation(1, ttl_days=30, now=T0)
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code)
    await storage.users.touch_user(2, now=T0)

    typed = f"  {code[:2].lower()} {code[2:].lower()} "  # lowercase, spaces: still the code
    assert await storage.users.redeem_invitation(typed, 2, now=minutes(1)) == RedeemResult.OK
    user = await storage.users.get_user(2)
    assert user is not None and user.role == Role.MEMBER

    assert await storage.users.redeem_invitation(code, 3, now=minutes(2)) == RedeemResult.USED
    assert await storage.users.get_user(3) is None
    assert await storage.users.redeem_invitation("AAAA-BBBB", 3, now=minutes(2)) == RedeemResult.UNKNOWN
    assert await storage.users.redeem_invitation("not a code", 3, now=minutes(2)) == RedeemResult.UNKNOWN


async def test_invitation_expires(storage: Storage) -> None:
    code = await storage.users.create_invitation(1, ttl_days=7, now=T0)
    late = T0 + timedelta(days=7)
    assert await storage.users.redeem_invitation(code, 2, now=late) == RedeemResult.EXPIRED
    assert await storage.users.redeem_invitation(code, 2, now=late - timedelta(seconds=1)) == RedeemResult.OK


async def test_invitation_keeps_a_coordinator_coordinator_and_creates_unknown_users(storage: Storage) -> None:
    await storage.users.touch_user(5, now=T0)
    await storage.users.set_role(5, Role.COORDINATOR)
    assert (
        await storage.users.redeem_invitation(await storage.users.create_invitation(1, now=T0), 5, now=T0)
        == "ok"
    )
    coordinator = await storage.users.get_user(5)
    assert coordinator is not None and coordinator.role == Role.COORDINATOR

    assert (
        await storage.users.redeem_invitation(await storage.users.create_invitation(1, now=T0), 6, now=T0)
        == "ok"
    )
    newcomer = await storage.users.get_user(6)
    assert newcomer is not None and newcomer.role == Role.MEMBER


async def test_concurrent_redeems_of_one_code_let_exactly_one_through(db: Database, db_url: str) -> None:
    code = await db.storage.users.create_invitation(1, now=T0)
    async with await open_database(db_url, Path("/nonexistent")) as other:  # a second process, say
        stores = [db.storage, other.storage]
        results = await asyncio.gather(
            *(stores[i % 2].users.redeem_invitation(code, 100 + i, now=T0) for i in range(8))
        )
    assert sorted(results) == sorted([RedeemResult.OK] + [RedeemResult.USED] * 7)
    winner = 100 + results.index(RedeemResult.OK)
    assert [u.id for u in await db.storage.users.users_with_role(Role.MEMBER)] == [winner]


# -- questions and feedback ---------------------------------------------------------------------------------


async def ask(storage: Storage, text: str, *, at: int, user: int | None = 1, answered: bool = False) -> int:
    resource = "adhesion" if answered else None
    return await storage.questions.record_question(
        user, "private", text, "fr", answered, resource, 0.9 if answered else 0.1, now=minutes(at)
    )


async def test_unanswered_questions_grouped_newest_first(storage: Storage) -> None:
    await ask(storage, "Où trouver le  PLANNING ?", at=1)
    await ask(storage, "Comment adhérer ?", at=2, user=2)
    await ask(storage, "où trouver le planning", at=3, user=None)  # e.g. asked in a group
    await ask(storage, "Comment adhérer ?", at=9, answered=True)  # answered: not listed
    await ask(storage, "Qui contacter ?", at=4)

    summaries = await storage.questions.unanswered_questions()
    assert [(s.text.lower(), s.count, s.last_asked) for s in summaries] == [
        ("qui contacter ?", 1, minutes(4)),
        ("où trouver le planning", 2, minutes(3)),
        ("comment adhérer ?", 1, minutes(2)),
    ]
    assert len(await storage.questions.unanswered_questions(limit=2)) == 2


async def test_text_is_stored_without_nul_or_control_characters(storage: Storage) -> None:
    await ask(storage, "Que\x00stion\x07 du tiers-lieu\u0301 ?\n", at=1)  # PostgreSQL refuses NUL in text
    event = await storage.events.create_event(
        EventFields("Ate\x00lier", T0 + timedelta(days=1), description="a\x00b"), created_by=None
    )
    [summary] = await storage.questions.unanswered_questions()
    assert summary.text == "Question du tiers-lieú ?\n"
    stored = await storage.events.get_event(event.id)
    assert stored is not None and (stored.title, stored.description) == ("Atelier", "ab")


async def test_last_question_is_the_users_latest_in_that_chat_type_in_the_window(storage: Storage) -> None:
    await ask(storage, "C'est quoi le dialogue territorial ?", at=1)
    await ask(storage, "Comment adhérer ?", at=2, user=2)  # another user
    await storage.questions.record_question(
        1, "group", "Qui contacter ?", "fr", False, None, 0.1, now=minutes(3)
    )

    assert await storage.questions.last_question(1, "private", since=minutes(0)) == (
        "C'est quoi le dialogue territorial ?"
    )
    assert await storage.questions.last_question(1, "group", since=minutes(0)) == "Qui contacter ?"
    assert await storage.questions.last_question(1, "private", since=minutes(2)) is None  # too old
    assert await storage.questions.last_question(3, "private", since=minutes(0)) is None


async def test_a_second_vote_replaces_the_first(storage: Storage) -> None:
    question = await ask(storage, "Comment adhérer ?", at=1, answered=True)
    assert await storage.questions.record_feedback(question, 2, -1, now=minutes(2))
    assert [(d.question, d.resource_id, d.count) for d in await storage.questions.disliked_answers()] == [
        ("Comment adhérer ?", "adhesion", 1)
    ]
    assert await storage.questions.record_feedback(question, 2, +1, now=minutes(3))
    assert await storage.questions.disliked_answers() == []
    assert len((await storage.personal_data.export_user(2))["feedback"]) == 1


async def test_disliked_answers_counted_newest_first(storage: Storage) -> None:
    first = await ask(storage, "Comment adhérer ?", at=1, answered=True)
    second = await ask(storage, "comment adhérer", at=2, user=2, answered=True)
    other = await ask(storage, "Qui contacter ?", at=3, answered=True)
    await storage.questions.record_feedback(first, 1, -1, now=minutes(4))
    await storage.questions.record_feedback(first, 3, -1, now=minutes(5))
    await storage.questions.record_feedback(second, 2, -1, now=minutes(6))
    await storage.questions.record_feedback(other, 2, -1, now=minutes(7))
    await storage.questions.record_feedback(other, 1, +1, now=minutes(8))

    summaries = await storage.questions.disliked_answers()
    assert [(d.question.lower().rstrip(" ?"), d.count, d.last) for d in summaries] == [
        ("qui contacter", 1, minutes(7)),
        ("comment adhérer", 3, minutes(6)),
    ]


async def test_feedback_on_an_unknown_question_is_refused(storage: Storage) -> None:
    assert not await storage.questions.record_feedback(12345, 1, -1, now=T0)
    question = await ask(storage, "Comment adhérer ?", at=1)
    with pytest.raises(ValueError):
        await storage.questions.record_feedback(question, 1, 0, now=T0)


async def test_stats(storage: Storage) -> None:
    assert (await storage.questions.stats()).answer_rate == 0.0
    for user_id in (1, 2, 3, 4):
        await storage.users.touch_user(user_id, now=T0)
    await storage.users.set_role(2, Role.MEMBER)
    await storage.users.set_role(3, Role.MEMBER)
    await storage.users.set_role(4, Role.COORDINATOR)
    await storage.users.set_active(3, False)
    for at, answered in enumerate([True, True, True, False]):
        await ask(storage, f"question {at}", at=at, answered=answered)

    stats = await storage.questions.stats()
    assert (stats.users, stats.active_users, stats.members, stats.coordinators) == (4, 3, 2, 1)
    assert (stats.questions, stats.answered, stats.answer_rate) == (4, 3, 0.75)


async def test_purge_old_questions(storage: Storage) -> None:
    old = await storage.questions.record_question(
        1, "private", "vieille", "fr", True, "x", 0.5, now=T0 - timedelta(days=400)
    )
    await storage.questions.record_feedback(old, 2, -1, now=T0 - timedelta(days=399))
    await storage.questions.record_question(
        1, "private", "récente", "fr", False, None, 0.1, now=T0 - timedelta(days=10)
    )

    assert await storage.questions.purge_old_questions(365, now=T0) == 1
    assert [s.text for s in await storage.questions.unanswered_questions()] == ["récente"]
    assert await storage.questions.disliked_answers() == []
    assert not await storage.questions.record_feedback(old, 2, -1, now=T0)
    assert await storage.questions.purge_old_questions(365, now=T0) == 0


# -- personal data ------------------------------------------------------------------------------------------

ME, OTHER = 987_654_321, 123_456_789


async def populate(storage: Storage) -> dict[str, str]:
    """ME and OTHER each ask, vote on each other's answers, invite each other and diagnose their territory.

    Each creates an event; both ask for reminders of, and answer about, both events; both set preferences;
    messages to both chats are in the outbox. Each writes a campaign the other approves, with its progress
    message in its author's chat.
    """
    await storage.users.touch_user(ME, language_hint="en", now=T0)
    await storage.users.touch_user(OTHER, now=T0)
    mine = await ask(storage, "my secret question", at=1, user=ME, answered=True)
    theirs = await ask(storage, "their private question", at=2, user=OTHER, answered=True)
    await storage.questions.record_feedback(mine, OTHER, -1, now=minutes(3))
    await storage.questions.record_feedback(theirs, ME, +1, now=minutes(4))
    codes = {
        "mine_used": await storage.users.create_invitation(ME, now=T0),
        "mine_unused": await storage.users.create_invitation(ME, now=T0),
        "theirs_used": await storage.users.create_invitation(OTHER, now=T0),
    }
    assert await storage.users.redeem_invitation(codes["mine_used"], OTHER, now=minutes(5)) == "ok"
    assert await storage.users.redeem_invitation(codes["theirs_used"], ME, now=minutes(6)) == "ok"
    for user_id, answer in ((ME, "my-answer"), (OTHER, "their-answer")):
        await storage.diagnosis.save_diagnostic_result(
            user_id,
            territory="rural",
            structure=None,
            version="1",
            scores={"animation": 20},
            statuses={"animation": "missing"},
            answers={"q1": answer},
            now=minutes(7),
        )
        await storage.diagnosis.save_diagnostic(user_id, {"q1": answer}, now=minutes(8))
    my_event = await storage.events.create_event(
        EventFields("my event", minutes(600)), created_by=ME, now=minutes(9)
    )
    their_event = await storage.events.create_event(
        EventFields("their event", minutes(700), audience="members"), created_by=OTHER, now=minutes(9)
    )
    for user_id in (ME, OTHER):
        for event in (my_event, their_event):
            assert await storage.events.toggle_reminder(user_id, event.id, now=minutes(10))
            await storage.events.set_rsvp(
                user_id, event.id, "yes" if user_id == ME else "maybe", now=minutes(11)
            )
        await storage.preferences.set_preference(user_id, "remind_all", True, now=minutes(12))
        await storage.preferences.set_preference(user_id, "announcements", False, now=minutes(12))
        await storage.preferences.set_topics(
            user_id, ["secret-topic" if user_id == ME else "public-topic"], now=minutes(12)
        )
        await storage.outbox.enqueue(
            "reminder", my_event.id, [user_id], "60", not_before=minutes(540), now=minutes(13)
        )
        await storage.outbox.enqueue(
            "announcement", 1, [user_id, -100], "", not_before=minutes(13), now=minutes(13)
        )
    [first, *_] = await storage.outbox.claim(10, now=minutes(14))
    await storage.outbox.finish(first.id, Status.SENT, now=minutes(15))
    for author, approver, words in ((ME, OTHER, "my campaign"), (OTHER, ME, "their campaign")):
        campaign = await storage.campaigns.create_campaign(
            author, f"<b>{words}</b>", media_kind="photo", media_file_id=f"file-{words}", now=minutes(16)
        )
        assert await storage.campaigns.set_campaign_audience(campaign.id, "members", now=minutes(17))
        assert await storage.campaigns.set_campaign_status(
            campaign.id, "awaiting_approval", now=minutes(17), expect={"draft"}
        )
        assert await storage.campaigns.approve_campaign(campaign.id, approver, now=minutes(18))
        assert await storage.campaigns.set_campaign_progress_message(campaign.id, author, 77)
    return codes


async def test_export_contains_the_user_data_and_nothing_of_others(storage: Storage) -> None:
    codes = await populate(storage)
    exported = await storage.personal_data.export_user(ME)
    dumped = json.dumps(exported)  # JSON-serialisable

    assert exported["user"]["id"] == ME and exported["user"]["language"] == "en"
    assert [q["text"] for q in exported["questions"]] == ["my secret question"]
    assert [f["value"] for f in exported["feedback"]] == [1]
    assert {i["code"] for i in exported["invitations_created"]} == {codes["mine_used"], codes["mine_unused"]}
    assert [i["code"] for i in exported["invitations_used"]] == [codes["theirs_used"]]
    assert exported["diagnostic_session"]["answers"] == {"q1": "my-answer"}
    assert [r["answers"] for r in exported["diagnostic_results"]] == [{"q1": "my-answer"}]
    assert [e["title"] for e in exported["events_created"]] == ["my event"]
    assert len(exported["event_reminders"]) == 2
    assert [r["answer"] for r in exported["rsvps"]] == ["yes", "yes"]
    assert exported["preferences"] == {
        "remind_all": True,
        "new_event_notices": False,
        "announcements": False,
        "topics": ["secret-topic"],
    }
    assert sorted(d["kind"] for d in exported["deliveries"]) == ["announcement", "reminder"]
    [campaign] = exported["campaigns"]
    assert (campaign["text"], campaign["media_file_id"], campaign["audience"], campaign["status"]) == (
        "<b>my campaign</b>",
        "file-my campaign",
        "members",
        "awaiting_approval",
    )
    assert "approved_by" not in campaign and "progress_chat_id" not in campaign  # another's id, a message id
    assert exported["campaigns_approved"] == [{"id": campaign["id"] + 1}]  # theirs
    assert "their private question" not in dumped and "their-answer" not in dumped
    assert "their event" not in dumped and "public-topic" not in dumped and "-100" not in dumped
    assert str(OTHER) not in dumped

    assert await storage.personal_data.export_user(404) == {
        "user": None,
        "questions": [],
        "feedback": [],
        "invitations_created": [],
        "invitations_used": [],
        "diagnostic_session": None,
        "diagnostic_results": [],
        "events_created": [],
        "event_reminders": [],
        "rsvps": [],
        "preferences": None,
        "deliveries": [],
        "campaigns": [],
        "campaigns_approved": [],
    }


async def test_forget_removes_everything_about_the_user_and_nothing_else(db: Database) -> None:
    storage = db.storage
    codes = await populate(storage)
    before = await storage.personal_data.export_user(OTHER)

    await storage.personal_data.forget_user(ME)

    for table, rows in (await all_rows(db)).items():
        for row in rows:
            assert ME not in row.values(), (table, row)
            assert "my secret question" not in row.values(), (table, row)
            assert "secret-topic" not in json.dumps(row, default=str), (table, row)
    assert await storage.users.get_user(ME) is None
    after = await storage.personal_data.export_user(OTHER)
    assert after["questions"] == before["questions"]
    assert after["invitations_created"] == before["invitations_created"]
    assert after["invitations_used"] == before["invitations_used"]  # the code ME gave them
    assert after["feedback"] == []  # their vote was on ME's question, now gone
    assert after["diagnostic_session"] == before["diagnostic_session"]
    assert after["diagnostic_results"] == before["diagnostic_results"]
    for key in (
        "events_created",
        "event_reminders",
        "rsvps",
        "preferences",
        "deliveries",
        "campaigns",
        "campaigns_approved",
    ):
        assert after[key] == before[key], key
    assert after["campaigns"] and after["campaigns_approved"]
    mine, theirs = sorted(await storage.campaigns.campaigns(), key=lambda campaign: campaign.id)
    assert (mine.text, mine.author_id, mine.approved_by) == ("<b>my campaign</b>", None, OTHER)  # text kept
    assert (mine.progress_chat_id, mine.progress_message_id) == (None, None)  # it was in ME's chat
    assert (theirs.author_id, theirs.approved_by, theirs.progress_chat_id) == (OTHER, None, OTHER)
    assert after["event_reminders"] and after["rsvps"] and after["deliveries"]
    assert await storage.preferences.get_preferences(ME) == await storage.preferences.get_preferences(
        404
    )  # the defaults
    assert await storage.events.reminder_event_ids(ME) == set()
    my_event = (await storage.events.upcoming_events(now=T0, include_members_only=True))[0]
    assert (my_event.title, my_event.created_by) == ("my event", None)  # kept, without its author
    assert await storage.events.rsvp_counts(my_event.id) == {"yes": 0, "maybe": 1, "no": 0}
    assert await storage.campaigns.announcement_recipients("all") == []  # OTHER opted out, ME is gone
    assert await storage.campaigns.announcement_opted_out_count("all") == 1
    assert sum((await storage.outbox.counts("announcement", 1)).values()) == 2  # to OTHER and to the group
    assert (
        await storage.diagnosis.load_diagnostic(ME) is None
        and await storage.diagnosis.diagnostic_results(ME) == []
    )
    # The used codes stay used; the unused one is gone.
    assert await storage.users.redeem_invitation(codes["mine_used"], 55, now=minutes(9)) == RedeemResult.USED
    assert (
        await storage.users.redeem_invitation(codes["theirs_used"], 55, now=minutes(9)) == RedeemResult.USED
    )
    assert (
        await storage.users.redeem_invitation(codes["mine_unused"], 55, now=minutes(9))
        == RedeemResult.UNKNOWN
    )
    # A forgotten user who comes back starts afresh.
    assert (await storage.users.touch_user(ME, now=minutes(10))).role == Role.NEWCOMER
