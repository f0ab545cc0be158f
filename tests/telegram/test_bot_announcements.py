"""Coordinator announcements end to end: compose, audience, preview, send, approval, schedule, report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.delivery.outbox import Status
from bot.events.clock import paris_to_utc
from bot.messages import text
from bot.telegram.context import Context
from bot.telegram.features.announcements import update_progress
from bot.testing import FakeTelegram, SentMessage
from tests.botkit import ADMIN, BotEnv, bot_config, buttons, running_bot
from tests.telegram.test_bot_events import MovableClock

READERS = (501, 502)
OPTED_OUT = 503
BLOCKED = 504


async def _env(
    tmp_path: Path, knowledge: Path, clock: MovableClock, **announcements: object
) -> AsyncIterator[BotEnv]:
    config = bot_config(tmp_path, knowledge)
    config = dataclasses.replace(
        config, announcements=dataclasses.replace(config.announcements, **announcements)
    )
    async with running_bot(config) as running:
        running.services.users.clock = running.services.announcements.clock = clock
        for user in (*READERS, OPTED_OUT, BLOCKED):
            await running.say(user, "/start")
        subscriptions = await running.say(OPTED_OUT, "/abonnements")
        await running.click(OPTED_OUT, subscriptions, "s:ann")
        await running.fake.user_blocks(BLOCKED, notify=False)
        yield running
        assert running.fake.invalid_requests == []


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
async def env(tmp_path: Path, knowledge_copy: Path, clock: MovableClock) -> AsyncIterator[BotEnv]:
    async for running in _env(tmp_path, knowledge_copy, clock):
        yield running


async def _compose(env: BotEnv, author: int, body: str, audience: str = "all") -> tuple[int, SentMessage]:
    """/annonce, the text, the audience: returns the campaign id and the message with the send buttons."""
    await env.say(author, "/annonce")
    choose = await env.say(author, body)
    data = next(d for _, d in buttons(choose) if d.endswith(f":{audience}"))
    campaign_id = int(data.split(":")[2])
    sent = len(env.fake.sent_to(author))
    await env.click(author, choose, data)
    await env.fake.wait_for(lambda: len(env.fake.sent_to(author)) >= sent + 3)
    return campaign_id, env.fake.sent_to(author)[-1]


async def _deliver(env: BotEnv) -> None:
    await env.drain()


async def test_send_now_reaches_the_audience_with_progress_and_report(env: BotEnv) -> None:
    campaign_id, choices = await _compose(env, ADMIN, "Réunion <importante> & conviviale jeudi")
    preview = env.fake.sent_to(ADMIN)[-2]
    assert preview.text == "Réunion <importante> & conviviale jeudi"
    assert [label for label, _ in buttons(preview)] == [text("announce_unsubscribe")]
    assert choices.text == "4 destinataires. 1 personne désabonnée ne la recevra pas."
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, choices, f"an:go:{campaign_id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    progress = env.fake.sent_to(ADMIN)[-1]
    assert progress.text.startswith("📤 « Réunion <importante> & conviviale jeudi » : 0 / 5 envoyés")
    await _deliver(env)
    for reader in READERS:
        received = env.fake.sent_to(reader)[-1]
        assert received.text == "Réunion <importante> & conviviale jeudi"
        assert buttons(received) == [(text("announce_unsubscribe"), "a:unsub")]
    assert not any("Réunion" in (m.text or "") for m in env.fake.sent_to(OPTED_OUT))
    await update_progress(Context(env.app))
    assert progress.text.startswith("📤 « Réunion <importante> & conviviale jeudi » : 3 / 5 envoyés")
    report = env.fake.sent_to(ADMIN)[-1]
    assert "Bilan de l'annonce" in report.text
    assert "Envoyés : 3" in report.text and "Bloqués (bot bloqué) : 1" in report.text
    assert "Échecs : 0" in report.text and "Ignorés (désabonnés ou annulés) : 1" in report.text
    counts = await env.services.database.storage.outbox.counts("announcement", campaign_id)
    assert counts[Status.SENT] == 3 and counts[Status.BLOCKED] == 1
    assert (await env.services.database.storage.campaigns.get_campaign(campaign_id)).status == "done"  # type: ignore[union-attr]


async def test_progress_ticks_do_not_edit_an_unchanged_message(env: BotEnv) -> None:
    campaign_id, choices = await _compose(env, ADMIN, "Webinaire mardi")
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, choices, f"an:go:{campaign_id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    progress = env.fake.sent_to(ADMIN)[-1]
    for _ in range(3):  # nothing was sent yet (a 429 pause): the counts do not move
        await update_progress(Context(env.app))
    assert env.fake.calls_to("editMessageText") == []  # and no « message is not modified » (fixture)
    await _deliver(env)
    for _ in range(2):
        await update_progress(Context(env.app))
    assert len(env.fake.calls_to("editMessageText")) == 1
    assert progress.text.startswith("📤 « Webinaire mardi » : 3 / 5 envoyés")


async def test_a_link_whose_url_holds_quotes_and_ampersands_gives_a_valid_preview(env: BotEnv) -> None:
    url = 'https://example.org/form?a=1&b="x"&c=<y>'
    body = "Inscrivez-vous ici & vite 😀"
    await env.say(ADMIN, "/annonce")
    sent = len(env.fake.sent_to(ADMIN))
    link = {"type": "text_link", "offset": 15, "length": 3, "url": url}
    bold = {"type": "bold", "offset": 0, "length": 18}
    await env.fake.user_sends(ADMIN, body, entities=[bold, link])
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    choose = env.fake.sent_to(ADMIN)[-1]
    data = next(d for _, d in buttons(choose) if d.endswith(":all"))
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, choose, data)
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) >= sent + 3)
    preview = env.fake.sent_to(ADMIN)[-2]
    assert preview.text == body
    assert {"type": "text_link", "offset": 15, "length": 3, "url": url} in preview.entities
    assert {"type": "bold", "offset": 0, "length": 18} in preview.entities


async def test_unsubscribe_button_and_newcomers_cannot_announce(env: BotEnv) -> None:
    campaign_id, choices = await _compose(env, ADMIN, "Appel à projets")
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, choices, f"an:go:{campaign_id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)  # the progress message: launched
    await _deliver(env)
    received = env.fake.sent_to(READERS[0])[-1]
    assert await env.click(READERS[0], received, "a:unsub") == text("announce_unsubscribed")
    assert not (await env.services.database.storage.preferences.get_preferences(READERS[0])).announcements
    refused = await env.say(READERS[1], "/annonce")
    assert refused.text.startswith("Cette commande est réservée")
    forged = await env.fake.user_sends_raw_callback(
        READERS[1], received.message_id, READERS[1], f"an:x:{campaign_id}"
    )
    await env.fake.wait_for(lambda: env.fake.answered_callback(forged) is not None)
    assert (await env.services.database.storage.campaigns.get_campaign(campaign_id)).status != "cancelled"  # type: ignore[union-attr]


async def test_scheduled_announcement_waits_for_its_time(env: BotEnv, clock: MovableClock) -> None:
    campaign_id, choices = await _compose(env, ADMIN, "Webinaire demain", audience="members")
    assert choices.text.startswith("0 destinataire.") or "destinataires." in choices.text
    _, choices = await _compose(env, ADMIN, "Webinaire la semaine prochaine")
    campaign_id = int(re.findall(r"an:go:(\d+)", " ".join(d for _, d in buttons(choices)))[0])
    await env.click(ADMIN, choices, f"an:at:{campaign_id}")
    await env.fake.wait_for(lambda: env.fake.sent_to(ADMIN)[-1].text == text("announce_schedule_ask"))
    confirmation = await env.say(ADMIN, "17/01/2027 10h00")
    assert confirmation.text.startswith("Annonce programmée pour le dimanche 17 janvier 2027, 10 h 00")
    await _deliver(env)
    assert not any("semaine prochaine" in (m.text or "") for m in env.fake.sent_to(READERS[0]))
    clock.set(paris_to_utc(dt.datetime(2027, 1, 17, 10, 1)))
    await _deliver(env)
    assert env.fake.sent_to(READERS[0])[-1].text == "Webinaire la semaine prochaine"


async def test_campaigns_list_and_cancel(env: BotEnv) -> None:
    campaign_id, choices = await _compose(env, ADMIN, "Annonce à annuler")
    await env.click(ADMIN, choices, f"an:at:{campaign_id}")
    await env.fake.wait_for(lambda: env.fake.sent_to(ADMIN)[-1].text == text("announce_schedule_ask"))
    sent = len(env.fake.sent_to(ADMIN))
    await env.fake.user_sends(ADMIN, "20/01/2027 10h00")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) >= sent + 2)  # confirmation, progress
    listing = await env.say(ADMIN, "/campagnes")
    assert f"#{campaign_id} « Annonce à annuler » — programmée" in listing.text
    assert "prévue le mercredi 20 janvier 2027, 10 h 00" in listing.text, "the send time, not the creation"
    await env.click(ADMIN, listing, f"an:x:{campaign_id}")
    await env.fake.wait_for(lambda: env.fake.sent_to(ADMIN)[-1].text == text("announce_cancelled"))
    counts = await env.services.database.storage.outbox.counts("announcement", campaign_id)
    assert counts[Status.PENDING] == 0 and counts[Status.SKIPPED] >= 4


@pytest.fixture
async def approval_env(tmp_path: Path, knowledge_copy: Path, clock: MovableClock) -> AsyncIterator[BotEnv]:
    async for running in _env(tmp_path, knowledge_copy, clock, require_approval=True):
        yield running


async def test_approval_by_a_second_coordinator(approval_env: BotEnv) -> None:
    env = approval_env
    await env.say(ADMIN, "/coordinateur 21")
    await env.say(21, "/start")
    campaign_id, choices = await _compose(env, 21, "Proposition d'annonce")
    before = len(env.fake.sent_to(ADMIN))
    await env.click(21, choices, f"an:go:{campaign_id}")
    await env.fake.wait_for(lambda: env.fake.sent_to(21)[-1].text == text("announce_awaiting"))
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) >= before + 2)
    request = env.fake.sent_to(ADMIN)[-1]
    assert "propose cette annonce" in request.text
    assert env.fake.sent_to(ADMIN)[-2].text == "Proposition d'annonce", (
        "the approver sees it as recipients will"
    )
    own = await env.fake.user_sends_raw_callback(
        21, env.fake.sent_to(21)[-1].message_id, 21, f"an:ok:{campaign_id}"
    )
    await env.fake.wait_for(lambda: env.fake.answered_callback(own) is not None)
    answered = env.fake.answered_callback(own)
    assert answered is not None and answered.params.get("text") == text("announce_not_approvable")
    sent = len(env.fake.sent_to(21))
    assert await env.click(ADMIN, request, f"an:ok:{campaign_id}") == text("announce_approved")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(21)) >= sent + 2)  # approved, then the progress
    await _deliver(env)
    assert env.fake.sent_to(READERS[0])[-1].text == "Proposition d'annonce"


async def test_topic_subscribers_and_a_photo_announcement(env: BotEnv) -> None:
    subscriptions = await env.say(READERS[0], "/abonnements")
    assert "s:t:webinaires" in [d for _, d in buttons(subscriptions)]
    assert "Annonces : Appels à projets" in [label[2:] for label, _ in buttons(subscriptions)], "accents"
    await env.click(READERS[0], subscriptions, "s:t:webinaires")
    assert (await env.services.database.storage.preferences.get_preferences(READERS[0])).topics == (
        "webinaires",
    )
    await env.say(ADMIN, "/annonce")
    before = len(env.fake.sent_to(ADMIN))
    await env.fake.user_sends_photo(ADMIN, caption="Affiche du webinaire <ODD 17>")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > before)
    choose = env.fake.sent_to(ADMIN)[-1]
    topic_button = next(d for _, d in buttons(choose) if d.endswith(":topic"))
    campaign_id = int(topic_button.split(":")[2])
    await env.click(ADMIN, choose, topic_button)
    await env.fake.wait_for(lambda: env.fake.sent_to(ADMIN)[-1].text == text("announce_topic"))
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, env.fake.sent_to(ADMIN)[-1], f"an:top:{campaign_id}:webinaires")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) >= sent + 3)
    preview, choices = env.fake.sent_to(ADMIN)[-2:]
    assert preview.kind == "photo" and preview.caption == "Affiche du webinaire <ODD 17>"
    assert choices.text.startswith("1 destinataire. ")
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, choices, f"an:go:{campaign_id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    await _deliver(env)
    received = env.fake.sent_to(READERS[0])[-1]
    assert received.kind == "photo" and received.caption == "Affiche du webinaire <ODD 17>"
    assert not any(m.kind == "photo" for m in env.fake.sent_to(READERS[1]))


async def test_a_restart_in_the_middle_of_composing_continues_where_the_coordinator_was(
    tmp_path: Path, knowledge_copy: Path
) -> None:
    config = bot_config(tmp_path, knowledge_copy)
    async with FakeTelegram() as fake:
        async with running_bot(config, fake=fake) as first:
            await first.say(READERS[0], "/start")
            await first.say(ADMIN, "/annonce")
        async with running_bot(config, fake=fake) as second:  # restarted while waiting for the text
            choose = await second.say(ADMIN, "Rencontre régionale à Lyon")
            assert choose.text == text("announce_audience")
            data = next(d for _, d in buttons(choose) if d.endswith(":all"))
            await second.click(ADMIN, choose, data)
            await second.fake.wait_for(
                lambda: "an:at:" in " ".join(d for _, d in buttons(fake.sent_to(ADMIN)[-1]))
            )
            at = next(d for _, d in buttons(fake.sent_to(ADMIN)[-1]) if d.startswith("an:at:"))
            await second.click(ADMIN, fake.sent_to(ADMIN)[-1], at)
            await fake.wait_for(lambda: fake.sent_to(ADMIN)[-1].text == text("announce_schedule_ask"))
        async with running_bot(config, fake=fake) as third:  # restarted while waiting for the time
            before = len(fake.sent_to(ADMIN))
            confirmation = await third.say(ADMIN, "17/01/2099 10h00")
            assert confirmation.text.startswith("Annonce programmée pour le")
            await fake.wait_for(lambda: len(fake.sent_to(ADMIN)) >= before + 2)  # and the progress message
            cancelled = await third.say(ADMIN, "/annuler")
            assert cancelled.text == text("flow_nothing"), "the flow ended with the scheduling"
        assert fake.invalid_requests == []
