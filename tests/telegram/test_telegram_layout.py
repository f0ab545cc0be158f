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


def _feature_of(path: Path) -> str:
    """The feature a module belongs to: `events` for features/events.py and for features/events/cards.py."""
    return path.relative_to(FEATURES_DIR).parts[0].removesuffix(".py")


def _layout_problems(path: Path, feature: str) -> list[str]:
    """What breaks the rule in `path`, a module of `feature`: an import of `bot.telegram` that is neither a
    shared module nor a module of the feature itself, an import inside a function, a flow store reached
    around the service."""
    own = f"bot.telegram.features.{feature}"
    problems = []
    for module, at_top in _imports(path):
        if module.startswith("bot.telegram"):
            shared = (
                module == "bot.telegram"
                or any(module == m or module.startswith(f"{m}.") for m in SHARED)
                or module == own
                or module.startswith(f"{own}.")
            )
            if not shared:
                problems.append(f"{path.name} imports {module}")
            if not at_top:
                problems.append(f"{path.name} imports {module} inside a function")
        if module.startswith("bot.storage.conversations"):
            problems.append("flows go through the service")
    return problems


def test_feature_modules_import_only_the_shared_modules_and_never_inside_functions() -> None:
    modules = sorted(
        p for p in FEATURES_DIR.rglob("*.py") if p.parent != FEATURES_DIR or p.stem != "__init__"
    )
    assert {_feature_of(p) for p in modules} >= {
        "start",
        "questions",
        "account",
        "diagnosis",
        "events",
        "announcements",
    }
    assert len([p for p in modules if _feature_of(p) == "events"]) > 1, "the walk reaches subpackages"
    for path in modules:
        problems = _layout_problems(path, _feature_of(path))
        assert not problems, problems


def test_the_walk_catches_a_feature_importing_another(tmp_path: Path) -> None:
    cards = tmp_path / "cards.py"
    cards.write_text("from bot.telegram.features.events.buttons import event_data\n", encoding="utf-8")
    assert _layout_problems(cards, "events") == []
    cards.write_text("from bot.telegram.features.questions import feedback_data\n", encoding="utf-8")
    assert _layout_problems(cards, "events") == [
        "cards.py imports bot.telegram.features.questions",
        "cards.py imports bot.telegram.features.questions.feedback_data",
    ]
    cards.write_text("def f():\n    from bot.telegram import features\n", encoding="utf-8")
    assert _layout_problems(cards, "events") == [
        "cards.py imports bot.telegram inside a function",
        "cards.py imports bot.telegram.features",
        "cards.py imports bot.telegram.features inside a function",
    ]


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
    for feature in FEATURES:  # a feature's handlers live in its module or in the modules of its package
        assert any(o == feature.__name__ or o.startswith(f"{feature.__name__}.") for o in owners), feature
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
