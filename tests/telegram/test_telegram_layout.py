"""The Telegram adapter's layout: features register themselves and never import one another."""

from __future__ import annotations

import ast
from pathlib import Path

from telegram.ext import CallbackQueryHandler

from bot.telegram import callbacks
from bot.telegram.app import FEATURES, build_application
from bot.telegram.context import stale_button
from bot.telegram.features import account, announcements, diagnosis, events, importer, questions, start
from tests.conftest import ROOT

FEATURES_DIR = ROOT / "bot" / "telegram" / "features"
SHARED = {
    "bot.telegram.context", "bot.telegram.replies", "bot.telegram.render", "bot.telegram.callbacks",
    "bot.telegram.transport", "bot.telegram.updates",
}  # fmt: skip


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at top level) of every import in `path`, `from x import y` counted as x and x.y."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
            found += [(f"{node.module}.{alias.name}", id(node) in top) for alias in node.names]
    return found


def test_feature_modules_import_only_the_shared_modules_and_never_inside_functions() -> None:
    modules = sorted(FEATURES_DIR.glob("*.py"))
    assert {p.stem for p in modules} >= {
        "start",
        "questions",
        "account",
        "diagnosis",
        "events",
        "announcements",
    }
    for path in modules:
        for module, at_top in _imports(path):
            if module.startswith("bot.telegram"):
                shared = module == "bot.telegram" or any(
                    module == m or module.startswith(f"{m}.") for m in SHARED
                )
                assert shared, f"{path.name} imports {module}"
                assert at_top, f"{path.name} imports {module} inside a function"
            assert not module.startswith("bot.storage.conversations"), "flows go through the service"


def test_shared_modules_never_import_a_feature() -> None:
    for name in SHARED:
        path = ROOT / (name.replace(".", "/") + ".py")
        assert not [m for m, _ in _imports(path) if m.startswith("bot.telegram.features")], name


def test_every_feature_registers_its_own_handlers_and_patterned_buttons() -> None:
    async def services() -> object:
        raise AssertionError("not opened: the application is only built")

    application = build_application("1:fake", services, rate_limit=False, deliver=False)  # type: ignore[arg-type]
    handlers = [handler for group in application.handlers.values() for handler in group]
    owners = {handler.callback.__module__ for handler in handlers}
    assert {feature.__name__ for feature in FEATURES} <= owners
    buttons = [h for h in application.handlers[0] if isinstance(h, CallbackQueryHandler)]
    assert all(h.pattern is not None for h in buttons[:-1]), "each feature answers its own buttons"
    assert buttons[-1].pattern is None and buttons[-1].callback is stale_button, "then the stale ones"
    flows = "the event, announcement, coordinator answer, 👎 reason and document import flows"
    assert len([g for g in application.handlers if g < 0]) == 5, flows


def test_the_longest_callback_data_fits_telegram_limit() -> None:
    huge = 2**63 - 1
    longest = [
        events.event_data("xc", huge), events.event_data("p", huge, "maybe"), events.page_data(huge),
        events.subscription_data("t", "x" * 32), announcements.announce_data("top", huge, "x" * 32),
        questions.feedback_data(huge, -1), diagnosis.diag_data("a", "x" * 20, "y" * 20),
        account.forget_data(True, huge), start.language_data("fr"), importer.import_data("ok", "f" * 16),
    ]  # fmt: skip
    assert all(callbacks.fits(data) for data in longest), [d for d in longest if not callbacks.fits(d)]
