"""The command line's arguments: `catabot COMMAND …` (see README.md, whose commands are a contract)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.messages import DEFAULT_LANGUAGE, LANGUAGES


def build_parser() -> argparse.ArgumentParser:
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
    _language_option(ask, "the texts around the answer")

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
    _language_option(diagnose, "the texts around the questions")
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


def _language_option(parser: argparse.ArgumentParser, what: str) -> None:
    """`--lang fr|en` (default: the bot's default language) for `what`."""
    parser.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE, help=f"language of {what}")
