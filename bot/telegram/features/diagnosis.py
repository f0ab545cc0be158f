"""The self-diagnosis in Telegram: one question per message, edited in place as the user answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from textwrap import shorten

from telegram import CallbackQuery, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.clock import PARIS
from bot.diagnosis.advice import Advice, first_step, reasons
from bot.diagnosis.buttons import answer_data, change_data
from bot.diagnosis.card import CardFormat, render_card
from bot.diagnosis.chart import radar_png
from bot.diagnosis.engine import Choice, Diagnosis
from bot.diagnosis.records import DiagnosticResult
from bot.diagnosis.report import format_result
from bot.diagnosis.service import Finished, Progress
from bot.diagnosis.texts import status_labels
from bot.messages import text
from bot.telegram import callbacks
from bot.telegram.context import App, Context, on_button, private_only, privileged
from bot.telegram.render import Reply, html_text
from bot.telegram.replies import query_message, replace, send
from bot.text import parse_int
from bot.users import Role

STATS_ARGUMENT = r"(?i)^/stats(@\w+)?\s+(diagnostic|diagnostics|autodiagnostic)\b"
ICONS = {"missing": "🔴", "fragile": "🟠", "to_check": "❔", "present": "🟢"}
_ROW = 2
CHANGE_LABEL = 48  # characters of a question shown on its « Modifier » button
READ_LABEL = 40  # characters of a resource title shown on its « 📖 » button
CARD_FORMATS: tuple[CardFormat, ...] = ("png", "pdf")
MAX_PASSAGE = 999  # passages of one resource, numbered from 0


def diag_data(*args: str) -> str:
    """`d:…` buttons: go, resume, restart, a:<step>:<option>, back, c:<step>, pause, edit, done,
    r:<resource id>:<passage> (read a recommended passage), x:<png|pdf>:<result id> (export a result)."""
    return ":".join(("d", *args))


def _date(moment: dt.datetime) -> str:
    return f"{moment.astimezone(PARIS):%d/%m/%Y}"


def _score(score: int | None) -> str:
    return f"{score}/100" if score is not None else "—"


def question_reply(progress: Progress, language: str) -> Reply:
    step = progress.step
    assert step is not None
    section = step.metier_label or text("diagnosis_context", language)
    body = html_text("diag_question", language, position=progress.position, total=progress.total,
                     section=section, text=step.text)  # fmt: skip
    if step.help:
        body += html_text("diag_help", language, help=step.help)
    earlier = step.option(progress.earlier or "")
    if earlier is not None:
        body += html_text("diag_previous_answer", language, answer=earlier.label)

    def label(choice: Choice) -> str:
        return text("diag_chosen", language, label=choice.label) if choice == earlier else choice.label

    choices = [(label(c), answer_data(step.id, c.id)) for c in step.options]
    rows = [choices[i : i + _ROW] for i in range(0, len(choices), _ROW)]
    controls = [(text("diag_pause", language), diag_data("pause"))]
    if progress.answers:
        controls.insert(0, (text("diagnosis_previous", language), diag_data("back")))
    return Reply(body, [*rows, controls])


def summary_reply(context: Context, progress: Progress, language: str) -> Reply:
    lines = [html_text("diag_summary_header", language)]
    items = context.services.diagnosis.summary(progress.answers)
    lines += [
        html_text("diag_summary_item", language, number=n, text=step.text, answer=label)
        for n, (step, label) in enumerate(items, start=1)
    ]
    buttons = [
        [(text("diag_see_result", language), diag_data("done"))],
        [(text("diag_change", language), diag_data("edit"))],
    ]
    return Reply("\n".join(lines), buttons)


def change_reply(context: Context, progress: Progress, language: str) -> Reply:
    items = context.services.diagnosis.summary(progress.answers)
    rows = [
        [
            (
                text(
                    "diag_change_item",
                    language,
                    number=n,
                    text=shorten(step.text, CHANGE_LABEL, placeholder=" …"),
                ),
                change_data(step.id),
            )
        ]
        for n, (step, _) in enumerate(items, start=1)
    ]
    return Reply(
        html_text("diag_change_choose", language),
        [*rows, [(text("diag_see_result", language), diag_data("done"))]],
    )


def progress_reply(context: Context, progress: Progress, language: str) -> Reply:
    return question_reply(progress, language) if progress.step else summary_reply(context, progress, language)


def advice_text(advice: Advice | None, language: str) -> list[str]:
    """The métier to work on first, why and the first step with its source link (Telegram HTML)."""
    if advice is None:
        return [html_text("diag_advice_none", language)]
    key = "diag_advice_title" if advice.kind == "work" else "diag_advice_check_title"
    step = first_step(advice, language)
    return [
        html_text(key, language, label=advice.metier.label),
        html_text("diag_advice_why", language, why=" ".join(reasons(advice, language))),
        html_text("diag_advice_step_source", language, step=step, url=advice.source)
        if advice.source
        else html_text("diag_advice_step", language, step=step),
    ]


def result_text(finished: Finished, moment: dt.datetime, language: str) -> str:
    """The result as one self-contained message (forwardable: its buttons only add reading and export)."""
    diagnosis = finished.diagnosis
    statuses = status_labels(language)
    lines = [html_text("diag_result_header", language, date=_date(moment))]
    if diagnosis.complete:
        lines += ["", *advice_text(finished.advice, language)]
    for metier in diagnosis.metiers:
        status = statuses[metier.status]
        icon = ICONS.get(metier.status, "•")
        score = _score(metier.score)
        lines += [
            "",
            html_text(
                "diag_result_metier", language, icon=icon, label=metier.label, score=score, status=status
            ),
        ]
        if metier.meaning:
            lines.append(html_text("diag_result_meaning", language, meaning=metier.meaning))
        if metier.unknown:
            lines.append(html_text("diag_result_unknown", language, label=metier.label,
                                   count=len(metier.unknown), check_with=metier.check_with))  # fmt: skip
        recommendations = finished.recommendations.get(metier.id, [])
        if recommendations:
            lines.append(html_text("diag_result_resources", language, label=metier.label))
            lines += [
                html_text("diag_result_link", language, url=r.url, title=r.title) for r in recommendations
            ]
    lines += ["", *(html_text("diag_result_note", language, note=note) for note in diagnosis.notes)]
    return "\n".join([*lines, "", html_text("diag_result_footer", language)])


def result_buttons(finished: Finished, language: str) -> list[list[tuple[str, str]]]:
    """One button per recommended resource (its passage, read in the chat), then the PNG and PDF export."""
    rows = [
        [(text("diag_read_button", language, title=shorten(r.title, READ_LABEL, placeholder=" …")), data)]
        for recommendations in finished.recommendations.values()
        for r in recommendations
        if callbacks.fits(data := diag_data("r", r.resource_id, str(r.passage)))
    ]
    export = [
        (text(f"diag_export_{f}", language), diag_data("x", f, str(finished.result_id))) for f in CARD_FORMATS
    ]
    return [*rows, export]


async def _chart(diagnosis: Diagnosis, language: str) -> bytes:
    title = text("diagnosis_chart_title", language)
    return await asyncio.to_thread(radar_png, diagnosis, None, title, status_labels=status_labels(language))


@private_only("diagnostic")
async def diagnostic(update: Update, context: Context) -> None:
    """`/diagnostic` and the menu button: start, or offer to resume one in progress."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    language = await context.language()
    svc = context.services
    await svc.users.seen(user.id)
    current = await svc.diagnosis.in_progress(user.id)
    if current is not None and current.answers:
        offer = html_text("diag_resume_offer", language, position=current.position, total=current.total)
        buttons = [
            [
                (text("diag_resume", language), diag_data("resume")),
                (text("diag_restart", language), diag_data("restart")),
            ]
        ]
        await send(message, Reply(offer, buttons))
        return
    q = svc.diagnosis.questionnaire
    intro = html_text("diag_intro", language, title=q.title, intro=q.intro)
    await send(message, Reply(intro, [[(text("diag_start", language), diag_data("go"))]]))


async def diagnostic_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """Handle a `d:…` button; returns the notice for answerCallbackQuery, or the stale-button text."""
    user_id = query.from_user.id
    svc = context.services.diagnosis
    language = await context.services.users.language(user_id)
    stale = text("button_stale", language)
    progress: Progress | None
    match args:
        case ["go"] | ["restart"]:
            progress = await svc.start(user_id)
        case ["resume"]:
            progress = await svc.resume(user_id)
        case ["a", step_id, option_id]:
            progress = await svc.answer(user_id, step_id, option_id)
        case ["back"]:
            progress = await svc.back(user_id)
        case ["c", step_id]:
            progress = await svc.change(user_id, step_id)
        case ["pause"]:
            if not await svc.pause(user_id):
                return stale
            await replace(query, Reply(html_text("diag_paused", language)))
            await query.answer()
            return None
        case ["edit"]:
            progress = await svc.in_progress(user_id)
            if progress is None or progress.step is not None:
                return stale
            await replace(query, change_reply(context, progress, language))
            await query.answer()
            return None
        case ["done"]:
            await _finish(query, context, language)
            return None
        case ["r", resource_id, number] if (n := parse_int(number, 0, MAX_PASSAGE)) is not None:
            return await _read(query, context, language, resource_id, n)
        case ["x", fmt, result_id] if fmt in CARD_FORMATS and (n := callbacks.row_id(result_id)) is not None:
            return await _export(query, context, language, fmt, n)
        case _:
            return stale
    if progress is None:
        return stale
    await replace(query, progress_reply(context, progress, language))
    await query.answer()
    return None


async def _finish(query: CallbackQuery, context: Context, language: str) -> None:
    svc = context.services
    finished = await svc.diagnosis.finish(query.from_user.id)
    if finished is None:
        await query.answer(text("diag_not_running", language))
        return
    await query.answer()
    message = query_message(query)
    if message is None:
        return
    await message.edit_reply_markup(reply_markup=None)
    moment = svc.diagnosis.clock()
    await send(message, Reply(result_text(finished, moment, language), result_buttons(finished, language)))
    chart = await _chart(finished.diagnosis, language)
    await message.reply_photo(io.BytesIO(chart), caption=html_text("diag_chart_caption", language))


async def _read(
    query: CallbackQuery, context: Context, language: str, resource_id: str, number: int
) -> str | None:
    """A recommended resource's passage, in the chat, with its own source."""
    chunk = context.services.diagnosis.passage(resource_id, number)
    if chunk is None:
        return text("button_stale", language)
    await query.answer()
    key = "diag_passage" if chunk.heading else "diag_passage_untitled"
    body = html_text(key, language, title=chunk.title, heading=chunk.heading, text=chunk.text, url=chunk.url)
    await send(query_message(query), Reply(body))
    return None


async def _export(
    query: CallbackQuery, context: Context, language: str, fmt: CardFormat, result_id: int
) -> str | None:
    """The result as a document (PNG or PDF): the chart and the whole summary, to forward or print."""
    svc = context.services.diagnosis
    found = await svc.result(query.from_user.id, result_id)
    if found is None:
        return text("button_stale", language)
    await query.answer()
    stored, finished = found
    title = text("diag_card_title", language, date=_date(stored.created_at))
    body = format_result(finished.diagnosis, finished.recommendations, language, finished.advice)
    card = await asyncio.to_thread(
        render_card, finished.diagnosis, title, body, fmt,
        chart_title=text("diagnosis_chart_title", language), status_labels=status_labels(language),
    )  # fmt: skip
    name = text("diag_export_file", language, date=f"{stored.created_at.astimezone(PARIS):%Y-%m-%d}")
    caption = html_text("diag_export_caption", language, date=_date(stored.created_at))
    message = query_message(query)
    if message is not None:
        await message.reply_document(io.BytesIO(card), filename=f"{name}.{fmt}", caption=caption)
    return None


def _evolution(
    last: DiagnosticResult, before: DiagnosticResult, context: Context, language: str
) -> list[str]:
    labels = context.services.diagnosis.questionnaire.labels()
    lines: list[str] = []
    for metier_id, label in labels.items():
        now, then = last.scores.get(metier_id), before.scores.get(metier_id)
        delta = f"{now - then:+d}" if now is not None and then is not None else "—"
        lines.append(html_text("diag_evolution", language, label=label, score=_score(now), delta=delta,
                               date=_date(before.created_at)))  # fmt: skip
    return lines


@private_only("mondiagnostic")
async def my_diagnostic(update: Update, context: Context) -> None:
    """`/mondiagnostic`: the last result, and how it changed since the previous one."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    language = await context.language()
    svc = context.services.diagnosis
    results = await svc.results(user.id)
    if not results:
        await send(message, Reply(html_text("diag_no_result", language)))
        return
    last = results[0]
    found = await svc.result(user.id, last.id)
    assert found is not None  # just listed for this user
    diagnosis = found[1].diagnosis
    finished = Finished(diagnosis, {}, last.id, found[1].advice)
    body = result_text(finished, last.created_at, language).replace(
        html_text("diag_result_header", language, date=_date(last.created_at)),
        html_text("diag_last_header", language, date=_date(last.created_at)),
    )
    if len(results) > 1:
        body += "\n\n" + "\n".join(_evolution(last, results[1], context, language))
    else:
        body += "\n\n" + html_text("diag_first_result", language)
    await send(message, Reply(body, result_buttons(finished, language)))
    chart = await _chart(diagnosis, language)
    await message.reply_photo(io.BytesIO(chart), caption=html_text("diag_chart_caption", language))


@private_only("stats_diagnostic")
@privileged(Role.COORDINATOR)
async def diagnostic_statistics(update: Update, context: Context) -> None:
    """`/stats diagnostic`: anonymous counts only, never one person's answers."""
    language = await context.language()
    svc = context.services.diagnosis
    stats = await svc.stats()
    labels = svc.questionnaire.labels()
    lines = [html_text("stats_diagnostic", language, count=stats.diagnostics)]
    lines += [
        html_text("stats_diagnostic_metier", language, label=label, missing=stats.missing.get(metier_id, 0),
                  fragile=stats.fragile.get(metier_id, 0))
        for metier_id, label in labels.items()
    ]  # fmt: skip
    territory_labels = {o.id: o.label for c in svc.questionnaire.context for o in c.options}
    for territory in stats.territories:
        missing = ", ".join(f"{labels.get(m, m)} ({n})" for m, n in territory.missing.items() if n) or "—"
        name = territory_labels.get(territory.territory or "", "") or text(
            "stats_diagnostic_unknown_territory", language
        )
        lines.append(html_text("stats_diagnostic_territory", language, territory=name,
                               count=territory.diagnostics, missing=missing))  # fmt: skip
    await send(update.effective_message, Reply("\n".join(lines)))


async def _menu_diagnostic(update: Update, context: Context) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()
    await diagnostic(update, context)


def register(application: App) -> None:
    """/diagnostic, /mondiagnostic, /stats diagnostic (registered before the questions' /stats) and the
    diagnosis buttons."""
    fresh = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("diagnostic", diagnostic, filters=fresh))
    application.add_handler(CommandHandler("mondiagnostic", my_diagnostic, filters=fresh, block=False))
    stats = fresh & filters.Regex(STATS_ARGUMENT)
    application.add_handler(CommandHandler("stats", diagnostic_statistics, filters=stats))
    application.add_handler(CallbackQueryHandler(on_button(diagnostic_button), pattern=r"^d:"))
    application.add_handler(CallbackQueryHandler(_menu_diagnostic, pattern=f"^{callbacks.menu('diag')}$"))
