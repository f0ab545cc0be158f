"""The diagnosis in a terminal, or from an answers file: a second adapter over the same engine as the bot."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.diagnosis.advice import Advice, choose
from bot.diagnosis.engine import (
    Diagnosis,
    all_steps,
    answer,
    go_back,
    next_step,
    previous,
    progress,
    score,
)
from bot.diagnosis.questionnaire import Questionnaire
from bot.diagnosis.recommend import Recommendation, recommend
from bot.diagnosis.report import advice_json
from bot.diagnosis.report import format_result as format_result  # re-exported: the terminal's result
from bot.diagnosis.texts import say
from bot.errors import Problem, ProblemsError
from bot.retrieval.chunker import Chunk

Read = Callable[[str], str]
Write = Callable[[str], None]
BACK, QUIT = "p", "q"
QUESTIONNAIRE_LANGUAGE = "fr"  # knowledge/diagnostic.yaml has French texts only


class AnswersError(ProblemsError):
    """An answers file that cannot be used; every problem as `file:line: what`."""


def run_terminal(
    q: Questionnaire,
    read: Read = input,
    out: Write = print,
    *,
    language: str = "fr",
    answers: Mapping[str, str] | None = None,
) -> Diagnosis:
    """Ask the questionnaire with numbered options and score it.

    « p » takes the last answer back, « q », Ctrl-C or the end of the input stops (the diagnosis is then
    incomplete: the caller says it was stopped rather than score it). Any other line that is not an option's
    number, id or label gets one polite line and the question again: no input ends the program with a
    traceback. With `language` other than French, a first line says the questionnaire is in French.
    """
    given = dict(answers or {})
    if language != QUESTIONNAIRE_LANGUAGE:
        out(say("diagnosis_in_french", language))
    out(q.title)
    out(q.intro)
    while (step := next_step(q, given)) is not None:
        position, total = progress(q, given)
        out("")
        out(f"{say('diagnosis_progress', language, position=position, total=total)} · "
            f"{step.metier_label or say('diagnosis_context', language)}")  # fmt: skip
        out(step.text)
        if step.help:
            out(f"  ({step.help})")
        for number, choice in enumerate(step.options, start=1):
            out(f"  {number}. {choice.label}")
        if previous(q, given) is not None:
            out(f"  {BACK}. {say('diagnosis_previous', language)}")
        count = len(step.options)
        try:
            raw = read(say("diagnosis_choose", language, count=count)).strip()
        except (EOFError, KeyboardInterrupt):
            out("")  # the prompt's line was not ended by the person's Enter
            break
        except UnicodeDecodeError:  # a line that is not UTF-8 is just not a valid choice
            raw = ""
        if raw.lower() == QUIT:
            break
        if raw.lower() == BACK:
            if previous(q, given) is None:
                out(say("diagnosis_first", language))
            given = go_back(q, given)
        elif (choice_id := _choice(raw, step.options)) is not None:
            given = answer(q, given, step.id, choice_id)
        else:
            out(say("diagnosis_invalid", language, count=count))
    return score(q, given)


def parse_number(raw: str) -> int | None:
    """`raw` as a small positive number written with ASCII digits (« 2 », « 02 »), else None.

    `str.isdigit()` accepts « ² » or « ٣ », which `int()` may refuse; a huge number is not a choice either.
    """
    raw = raw.strip()
    return int(raw) if re.fullmatch(r"[0-9]{1,6}", raw) else None


def _choice(raw: str, options: Sequence[Any]) -> str | None:
    """The option typed: its number, its id or its label (any case)."""
    number = parse_number(raw)
    if number is not None and 1 <= number <= len(options):
        return str(options[number - 1].id)
    typed = raw.casefold()
    return next((str(o.id) for o in options if typed in (o.id.casefold(), o.label.casefold())), None)


def load_answers(q: Questionnaire, path: Path) -> dict[str, str]:
    """Answers written as YAML `{step_id: option_id}`; `AnswersError` naming each unknown id with its line.

    Answers may be partial, and may answer steps that branching skips (they are then ignored).
    """
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnswersError([Problem(path, 1, f"cannot read the file: {exc}")]) from exc
    loader = yaml.SafeLoader(source)
    try:
        root = loader.get_single_node()
        if root is None or not isinstance(root, yaml.MappingNode):
            line = root.start_mark.line + 1 if root is not None else 1
            example = "expected a mapping of answers, e.g. 'dt-rencontres: oui'"
            raise AnswersError([Problem(path, line, example)])
        steps = {s.id: s for s in all_steps(q)}
        answers: dict[str, str] = {}
        problems: list[Problem] = []
        for key_node, value_node in root.value:
            line = key_node.start_mark.line + 1
            step_id = loader.construct_object(key_node, deep=True)
            value = loader.construct_object(value_node, deep=True)
            step = steps.get(step_id) if isinstance(step_id, str) else None
            if step is None:
                problems.append(Problem(path, line, f"{step_id}: unknown question id"))
            elif step_id in answers:
                problems.append(Problem(path, line, f"{step_id}: answered twice"))
            elif not isinstance(value, str) or step.option(value) is None:
                known = ", ".join(c.id for c in step.options)
                problems.append(Problem(path, line, f"{step_id}: unknown option {value!r} (known: {known})"))
            else:
                answers[step_id] = value
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AnswersError(
            [Problem(path, mark.line + 1 if mark is not None else 1, f"not valid YAML: {what}")]
        ) from exc
    finally:
        loader.dispose()
    if problems:
        raise AnswersError(problems)
    return answers


def diagnose_file(
    q: Questionnaire, answers_path: Path, chunks: Sequence[Chunk] | None = None
) -> dict[str, Any]:
    """The diagnosis of an answers file as `to_json` gives it (with recommendations if `chunks` are given)."""
    diagnosis = score(q, load_answers(q, answers_path))
    recommendations = recommend(diagnosis, chunks) if chunks is not None else {}
    return to_json(diagnosis, recommendations, choose(q, diagnosis))


def to_json(
    diagnosis: Diagnosis,
    recommendations: Mapping[str, Sequence[Recommendation]],
    advice: Advice | None = None,
    language: str = "fr",
) -> dict[str, Any]:
    """Scores, statuses, « Je ne sais pas » statements and recommendations, worst métier first; `priority`:
    the métier to work on first (`advice_json`), null when no advice is given or every métier is present."""
    return {
        "complete": diagnosis.complete,
        "priority": advice_json(advice, language),
        "context": {
            question: {"id": option, "label": diagnosis.context_labels.get(question, option)}
            for question, option in diagnosis.context.items()
        },
        "notes": list(diagnosis.notes),
        "thresholds": {
            "present": diagnosis.thresholds.present,
            "fragile": diagnosis.thresholds.fragile,
            "min_answered": diagnosis.thresholds.min_answered,
        },
        "metiers": [
            {
                "id": m.id,
                "label": m.label,
                "score": m.score,
                "status": m.status,
                "answered": m.answered,
                "unanswered": m.unanswered,
                "unknown": list(m.unknown),
                "meaning": m.meaning,
                "check_with": m.check_with,
                "recommendations": [
                    {"id": r.resource_id, "title": r.title, "url": r.url}
                    for r in recommendations.get(m.id, [])
                ],
            }
            for m in diagnosis.metiers
        ],
    }
