"""The command line: a second adapter over the same domain as the Telegram bot.

`main` and the knowledge commands (ask, eval, index, knowledge, model, diagnose) are here; the arguments in
`bot.cli_parser`, the commands around the bot (run, chat, db, events) in `bot.cli_bot`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from bot.cli_bot import chat, db, events, run
from bot.cli_common import Failure, say, unreadable
from bot.cli_parser import build_parser
from bot.config import Config, ConfigError, load_config
from bot.messages import text

if TYPE_CHECKING:
    from bot.retrieval.evaluate import Metrics
    from bot.retrieval.search import Answer, Searcher

log = logging.getLogger("catabot")


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
    parser = build_parser()
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
        "run": run, "chat": chat, "db": db, "diagnose": _diagnose, "events": events,
    }  # fmt: skip
    try:
        return handlers[args.command](config, args)
    except (Failure, ConfigError) as exc:
        print(f"catabot: {exc}", file=sys.stderr)
        return 1


def _searcher(config: Config) -> Searcher:
    from bot.app import open_searcher
    from bot.embedding.install import ModelUnavailable
    from bot.knowledge import KnowledgeError

    try:
        return open_searcher(config, say=say)
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
    from bot.retrieval.citation import by_coordinators, citation

    lines: list[str] = []
    if answer.answered:
        best, leads = answer.hits[0], answer.hits[1:]
        lines += [
            best.passage,
            "",
            citation(best.chunk, language) or text("ask_answer_source", language, title=best.chunk.title),
            *(url for url in best.urls if not by_coordinators(url)),
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
        raise unreadable(args.file, exc) from exc
    except EvalFileError as exc:
        raise Failure(str(exc)) from exc
    if not cases:  # metrics of nothing would read as all-zero scores
        raise Failure(f"{args.file}: no questions in the file")
    searcher = _searcher(config)
    if args.calibrate:
        for key, weights in calibrate(searcher, cases).items():
            save_calibration(key, weights)
            say(f"Calibration saved for {key}: {weights}")
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
        report = build_index(config.path(config.knowledge_dir), index_dir, embedder, progress=say)
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
