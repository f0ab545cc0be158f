"""The command line: a second adapter over the same domain as the Telegram bot."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.config import Config, ConfigError, load_config
from bot.messages import LANGUAGES, text

if TYPE_CHECKING:
    from bot.retrieval.evaluate import Metrics
    from bot.retrieval.search import Answer, Searcher

log = logging.getLogger("catabot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="catabot", description="Assistant du réseau des catalyseurs territoriaux."
    )
    parser.add_argument("--config", help="configuration file (default: $CATABOT_CONFIG or config.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to standard error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer a question (no question: read them from standard input)")
    ask.add_argument("question", nargs="?", help="the question; without it, one question per line on stdin")
    ask.add_argument("--json", action="store_true", help="one JSON object per question on standard output")
    ask.add_argument(
        "--top", type=int, default=None, metavar="N", help="number of results (default: 1 + leads)"
    )
    ask.add_argument(
        "--lang", choices=LANGUAGES, default="fr", help="language of the texts around the answer"
    )

    evaluate = commands.add_parser("eval", help="measure answer quality on a question set (JSON lines)")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument(
        "--calibrate", action="store_true", help="fit the answer/abstain decision on this file and save it"
    )
    evaluate.add_argument(
        "--failures", action="store_true", help="also list the questions the hybrid search gets wrong"
    )

    index = commands.add_parser("index", help="build the index from the knowledge base")
    index.add_argument("--force", action="store_true", help="re-embed every passage")

    knowledge = commands.add_parser("knowledge", help="knowledge base tools")
    knowledge_actions = knowledge.add_subparsers(dest="action", required=True, metavar="ACTION")
    knowledge_actions.add_parser("check", help="validate every file of the knowledge base")
    _import_parser(knowledge_actions.add_parser(
        "import", help="import documents (PDF, DOCX, PPTX, HTML, Markdown, text) as resources"
    ))  # fmt: skip
    diagnose = commands.add_parser(
        "diagnose", help="the self-diagnosis questionnaire, in the terminal or from a file"
    )
    diagnose.add_argument(
        "--answers", type=Path, metavar="FILE.yaml", help="score a file of answers {step: option}"
    )
    diagnose.add_argument(
        "--json", action="store_true", help="print scores, statuses and recommendations as JSON"
    )
    diagnose.add_argument(
        "--lang", choices=LANGUAGES, default="fr", help="language of the texts around the questions"
    )
    events = commands.add_parser("events", help="event tools")
    events_import = events.add_subparsers(dest="action", required=True, metavar="ACTION").add_parser(
        "import", help="import events from YAML or .ics (idempotent: re-importing updates, never duplicates)"
    )
    events_import.add_argument("file", type=Path)
    commands.add_parser("run", help="run the Telegram bot (TELEGRAM_BOT_TOKEN); without a token, the sandbox")
    commands.add_parser("chat", help="chat with the real bot in this terminal, against a local fake Telegram")
    database = commands.add_parser("db", help="database tools")
    database.add_subparsers(dest="action", required=True, metavar="ACTION").add_parser(
        "upgrade", help="apply the schema migrations (also done at every start)"
    )
    model = commands.add_parser("model", help="embedding model tools")
    model.add_subparsers(dest="action", required=True, metavar="ACTION").add_parser(
        "install", help="make the configured embedding model available offline"
    )
    return parser


def _import_parser(parser: argparse.ArgumentParser) -> None:
    import datetime as dt

    parser.add_argument("path", type=Path, metavar="FILE_OR_FOLDER")
    parser.add_argument("--source", metavar="URL", help="the document's URL (default: its file name)")
    parser.add_argument("--title", help="the resource title (default: the document's own)")
    parser.add_argument("--roles", metavar="ID,ID", help="métiers the resource is for")
    parser.add_argument("--tags", metavar="TAG,TAG", help="tags of the resource")
    parser.add_argument("--type", default="ressource", help="resource type (default: ressource)")
    parser.add_argument(
        "--date", type=dt.date.fromisoformat, metavar="YYYY-MM-DD", help="the document's date"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would be written, write nothing")


_NOISY = ("bm25s", "sentence_transformers", "transformers", "httpx")  # warnings only, at every level
# The job scheduler logs every tick of every job at INFO (« Running job … », « … executed successfully »):
# ~57,000 lines a day. Those are shown only with -v (DEBUG).
_TICKS = "apscheduler"


def configure_logging(level: int) -> None:
    """Log to stderr at `level`; the noisy libraries' warnings only; the scheduler's ticks only at DEBUG."""
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    logging.getLogger(_TICKS).setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"catabot: {exc}", file=sys.stderr)
        return 2
    configure_logging(logging.DEBUG if args.verbose else getattr(logging, config.log_level.upper()))
    handlers = {
        "ask": _ask, "eval": _eval, "index": _index, "knowledge": _knowledge, "model": _model,
        "run": _run, "chat": _chat, "db": _db, "diagnose": _diagnose, "events": _events,
    }  # fmt: skip
    try:
        return handlers[args.command](config, args)
    except (Failure, ConfigError) as exc:
        print(f"catabot: {exc}", file=sys.stderr)
        return 1


class Failure(Exception):
    """An expected failure, reported in one line without a traceback."""


def _unreadable(path: Path, exc: OSError) -> Failure:
    """« eval/dev.jsonl: cannot read the file (No such file or directory) », without Python's `[Errno 2]`."""
    return Failure(f"{path}: cannot read the file ({exc.strerror or exc})")


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _searcher(config: Config) -> Searcher:
    from bot.app import open_searcher
    from bot.embedding.install import ModelUnavailable
    from bot.knowledge import KnowledgeError

    try:
        return open_searcher(config, say=_say)
    except (ModelUnavailable, KnowledgeError) as exc:
        raise Failure(str(exc)) from exc


def _questions(stream: TextIO, *, keep_blank: bool = False) -> Iterator[str]:
    """The questions of `stream`, one a line; with `keep_blank` (--json: one object per input line) a blank
    line is kept too, and gets an object with `"error": "question_empty"`."""
    for line in stream:
        if line.strip() or keep_blank:
            yield line.strip()


def _ask(config: Config, args: argparse.Namespace) -> int:
    from bot.retrieval.search import QuestionError

    if args.top is not None and args.top < 1:
        raise Failure("--top must be 1 or more")
    searcher = _searcher(config)
    interactive = args.question is None and not args.json and sys.stdin.isatty()
    if args.question is not None:
        questions: Iterator[str] = iter([args.question])
    elif interactive:
        questions = _prompt(args.lang)
    else:
        questions = _questions(sys.stdin, keep_blank=args.json)
    status = 0
    for question in questions:
        try:
            answer = searcher.search(question, top=args.top)
        except QuestionError as exc:
            status = 1
            if args.json:
                record = {"question": question, "answered": False, "results": [], "error": exc.reason}
                print(json.dumps(record, ensure_ascii=False), flush=True)
            else:
                print(text(exc.reason, args.lang, limit=exc.limit), flush=True)
            continue
        if args.json:
            print(json.dumps(_answer_json(answer), ensure_ascii=False), flush=True)
        else:
            print(_answer_text(answer, args.lang), flush=True)
            if interactive or args.question is None:
                print(flush=True)
    return status if args.question is not None else 0


def _prompt(language: str) -> Iterator[str]:
    while True:
        try:
            line = input(text("ask_prompt", language))
        except EOFError:
            return
        if not line.strip():
            return
        yield line


def _answer_json(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "answered": answer.answered,
        "results": [
            {
                "id": hit.chunk.resource_id,
                "title": hit.chunk.title,
                "url": hit.url,
                "sources": list(hit.chunk.sources),
                "text": hit.passage,
                "score": hit.score,
            }
            for hit in answer.hits
        ],
    }


def _answer_text(answer: Answer, language: str) -> str:
    from bot.retrieval.citation import citation

    lines: list[str] = []
    if answer.answered:
        best, leads = answer.hits[0], answer.hits[1:]
        lines += [
            best.passage,
            "",
            citation(best.chunk, language) or text("ask_answer_source", language, title=best.chunk.title),
            *best.urls,
        ]
        if leads:
            lines += ["", text("ask_leads", language)]
    else:
        leads = answer.hits
        lines.append(text("ask_no_answer", language))
        if leads:
            lines.append(text("ask_no_answer_leads", language))
    lines += [f"  • {hit.chunk.title} — {hit.url}" for hit in leads]
    if not answer.answered:
        lines.append(text("ask_no_answer_more", language))
    return "\n".join(lines)


def _eval(config: Config, args: argparse.Namespace) -> int:
    from bot.retrieval.abstention import save_calibration
    from bot.retrieval.evaluate import EvalFileError, calibrate, evaluate, failures, load_cases

    try:
        cases = load_cases(args.file)
    except OSError as exc:
        raise _unreadable(args.file, exc) from exc
    except EvalFileError as exc:
        raise Failure(str(exc)) from exc
    if not cases:  # metrics of nothing would read as all-zero scores
        raise Failure(f"{args.file}: no questions in the file")
    searcher = _searcher(config)
    if args.calibrate:
        for key, weights in calibrate(searcher, cases).items():
            save_calibration(key, weights)
            _say(f"Calibration saved for {key}: {weights}")
    results = evaluate(searcher, cases)
    if args.json:
        print(json.dumps({mode: vars(m) for mode, m in results.items()}, indent=2))
        return 0
    print(_metrics_table(results))
    if args.failures:
        print("\n".join(["", *failures(searcher, cases)]))
    return 0


def _metrics_table(results: dict[str, Metrics]) -> str:
    first = next(iter(results.values()))
    rows: list[tuple[str, list[float]]] = [
        (label, [getattr(m, attribute) for m in results.values()])
        for label, attribute in (
            ("hit@1", "hit_at_1"),
            ("hit@3", "hit_at_3"),
            ("MRR@10", "mrr_at_10"),
            ("answered", "answered"),
            ("abstention", "abstention"),
        )
    ]
    if first.passage_questions:
        rows += [
            ("answer@1", [m.answer_at_1 for m in results.values()]),
            ("source@1", [m.source_at_1 for m in results.values()]),
        ]
        rows += [
            (f"answer@1 {lang}", [m.answer_at_1_by_lang.get(lang, 0.0) for m in results.values()])
            for lang in first.answer_at_1_by_lang
        ]
    rows += [
        (f"abst. {kind}", [m.abstention_by_kind.get(kind, 0.0) for m in results.values()])
        for kind in first.abstention_by_kind
    ]
    lines = [f"{'metric':<16}" + "".join(f"{mode:>10}" for mode in results)]
    lines += [f"{label:<16}" + "".join(f"{v:>10.3f}" for v in values) for label, values in rows]
    lines.append(
        f"({first.in_domain} in-domain questions, {first.passage_questions} with expect_text, "
        f"{first.out_of_domain} out-of-domain)"
    )
    return "\n".join(lines)


def _index(config: Config, args: argparse.Namespace) -> int:
    from bot.embedding.install import ModelUnavailable, load_embedder
    from bot.knowledge import KnowledgeError
    from bot.retrieval.index import build_index

    index_dir = config.path(config.index_dir)
    try:
        embedder = load_embedder(config)
        if args.force:
            for name in ("manifest.json", "vectors.npy", "chunks.json"):
                (index_dir / name).unlink(missing_ok=True)
        report = build_index(config.path(config.knowledge_dir), index_dir, embedder, progress=_say)
    except (ModelUnavailable, KnowledgeError) as exc:
        raise Failure(str(exc)) from exc
    print(
        f"Index written to {index_dir}: {report.resources} resources, {report.chunks} passages "
        f"({report.embedded} embedded, {report.reused} unchanged), model {embedder.name} "
        f"({embedder.backend} {embedder.precision})."
    )
    return 0


def _knowledge(config: Config, args: argparse.Namespace) -> int:
    from bot.diagnosis.questionnaire import DIAGNOSTIC_FILE, check_diagnostic
    from bot.knowledge.loader import check_knowledge

    if args.action == "import":
        return _knowledge_import(config, args)
    knowledge = config.path(config.knowledge_dir)
    base, problems = check_knowledge(knowledge)
    if (knowledge / DIAGNOSTIC_FILE).exists():
        problems += [p for p in check_diagnostic(knowledge) if p not in problems]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found.", file=sys.stderr)
        return 1
    print(f"{len(base.resources)} resources, {len(base.roles)} métiers and the questionnaire: all valid.")
    return 0


def _knowledge_import(config: Config, args: argparse.Namespace) -> int:
    from bot.app import document_importer
    from bot.knowledge.importing import ImportOptions
    from bot.knowledge.importing.cli import run_import, words

    importer = document_importer(config)
    options = ImportOptions(
        args.source, args.title, words(args.roles), words(args.tags), args.type, args.date
    )
    return run_import(importer, args.path, options, dry_run=args.dry_run, out=sys.stdout, err=sys.stderr)


def _model(config: Config, args: argparse.Namespace) -> int:
    from bot.embedding.install import ModelUnavailable, install_model

    try:
        folder, how = install_model(config)
    except ModelUnavailable as exc:
        raise Failure(str(exc)) from exc
    print(f"{config.embedding.model}: {how} ({folder})")
    return 0


def _run(config: Config, args: argparse.Namespace) -> int:
    import os

    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        _say(text("sandbox_no_token"))
        return _chat(config, args)
    from bot import redaction
    from bot.telegram.run import run_bot

    redaction.install([token, config.telegram.webhook_secret])
    return _start(config, lambda: run_bot(config, token), secrets=(token, config.telegram.webhook_secret))


def _chat(config: Config, args: argparse.Namespace) -> int:
    from bot.telegram.sandbox import run_sandbox

    return _start(config, lambda: run_sandbox(config))


def _start(config: Config, serve: Callable[[], None], *, secrets: Sequence[str] = ()) -> int:
    """Run the bot; a start-up failure is one line `catabot: <file or key>: <problem>` and status 2."""
    from bot.redaction import redact
    from bot.startup import describe, quiet_bootstrap

    quiet_bootstrap()
    try:
        serve()
    except KeyboardInterrupt:
        print()
    except Exception as exc:
        line = describe(exc, config)
        if line is None:  # unexpected: its traceback only at DEBUG, through the redacting log handlers
            log.debug("start-up failure", exc_info=True)
            line = redact(f"start-up failed: {type(exc).__name__}: {exc}", secrets).splitlines()[0]
        print(f"catabot: {line}", file=sys.stderr)
        return 2
    return 0


def _db(config: Config, args: argparse.Namespace) -> int:
    import asyncio

    from bot.storage.database import normalize_url, open_database

    async def upgrade() -> str:
        database = await open_database(config.database.url, config.base_dir)
        await database.close()
        return normalize_url(config.database.url, config.base_dir)

    try:
        url = asyncio.run(upgrade())
    except OSError as exc:
        raise Failure(f"database: {exc}") from exc
    print(f"Database schema is up to date ({_safe_url(url)}).")
    return 0


def _safe_url(url: str) -> str:
    """The URL without its password, fit for output."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _diagnose(config: Config, args: argparse.Namespace) -> int:
    from bot.diagnosis.advice import choose
    from bot.diagnosis.cli import AnswersError, format_result, load_answers, run_terminal, to_json
    from bot.diagnosis.engine import score
    from bot.diagnosis.questionnaire import QuestionnaireError, open_questionnaire
    from bot.diagnosis.recommend import knowledge_chunks, recommend
    from bot.knowledge import KnowledgeError

    knowledge = config.path(config.knowledge_dir)
    try:
        questionnaire = open_questionnaire(knowledge)
        if args.answers:
            diagnosis = score(questionnaire, load_answers(questionnaire, args.answers))
        else:
            diagnosis = run_terminal(questionnaire, language=args.lang)
            if not diagnosis.complete:  # « q » or the end of the input: no result from a few answers
                print(text("diagnosis_stopped", args.lang))
                return 0  # stopping is the person's choice, not a failure
        recommendations = recommend(diagnosis, knowledge_chunks(knowledge))
        advice = choose(questionnaire, diagnosis)
    except (QuestionnaireError, AnswersError, KnowledgeError, OSError) as exc:
        raise Failure(str(exc)) from exc
    if args.json:
        found = to_json(diagnosis, recommendations, advice, args.lang)
        print(json.dumps(found, ensure_ascii=False, indent=2))
    else:
        print(format_result(diagnosis, recommendations, args.lang, advice))
    return 0


def _events(config: Config, args: argparse.Namespace) -> int:
    import asyncio

    from bot.app import open_event_service
    from bot.events.importer import EventImportError, read_events_file
    from bot.events.records import EventFields

    try:  # the whole file is checked first: one bad entry and nothing is written
        read = read_events_file(args.file)
    except EventImportError as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    except OSError as exc:
        raise _unreadable(args.file, exc) from exc
    for warning in read.warnings:
        print(f"{warning} (warning)")
    imported = read.events

    async def store() -> dict[str, int]:
        database, service = await open_event_service(config)
        outcomes = {"created": 0, "updated": 0, "unchanged": 0, "cancelled": 0}
        try:
            for item in imported:
                fields = EventFields(
                    item.title,
                    item.starts_at,
                    item.ends_at,
                    item.place,
                    item.link,
                    item.description,
                    item.audience,
                    item.all_day,
                )
                # a new time or a cancellation tells the subscribers, through the outbox
                _, outcome, cancelled = await service.import_event(
                    item.uid, fields, cancelled=item.status == "cancelled"
                )
                outcomes[str(outcome)] += 1
                outcomes["cancelled"] += cancelled
            kept = {item.uid for item in imported}
            for series in read.series:  # occurrences no longer in the file (a new EXDATE…) are cancelled
                assert read.window is not None
                outcomes["cancelled"] += await service.cancel_missing_occurrences(series, kept, *read.window)
        finally:
            await database.close()
        return outcomes

    counts = asyncio.run(store())
    print(
        f"{args.file}: {len(imported)} events — {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['cancelled']} cancelled."
    )
    return 0
