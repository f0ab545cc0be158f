"""The reader of `knowledge/diagnostic.yaml`: walks the YAML nodes, builds the questionnaire and reports every
problem as `file:line: field: what` (the line of the node's field name)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from bot.diagnosis.buttons import button_data_problems
from bot.diagnosis.questionnaire_records import (
    MAX_STATEMENTS,
    MIN_STATEMENTS,
    AnswerOption,
    ContextOption,
    ContextQuestion,
    Metier,
    Questionnaire,
    Statement,
    Thresholds,
)
from bot.diagnosis.yaml_nodes import NodeChecker, is_number, join_field
from bot.errors import Problem
from bot.knowledge.loader import read_source

_NULL_TAG = "tag:yaml.org,2002:null"

_TOP_FIELDS = ("version", "title", "intro", "sources", "answers", "thresholds", "context", "metiers")
_ANSWER_FIELDS = ("id", "label", "weight")
_THRESHOLD_FIELDS = ("present", "fragile", "min_answered")
_CONTEXT_FIELDS = ("id", "text", "help", "options")
_OPTION_FIELDS = ("id", "label", "tags", "note", "suits")
_METIER_FIELDS = ("id", "meaning_missing", "meaning_fragile", "check_with", "first_step", "statements")
_METIER_REQUIRED = ("id", "meaning_missing", "meaning_fragile", "check_with", "statements")
_FIRST_STEP_FIELDS = ("text", "source")
_STATEMENT_FIELDS = ("id", "text", "help", "weight", "skip_if", "if_skipped")


def parse(path: Path, known_roles: Iterable[str]) -> tuple[Questionnaire | None, list[Problem]]:
    """(questionnaire, problems sorted by line); the questionnaire only when there is no problem.
    `known_roles`: the métier ids, or a mapping id → label (roles.yaml)."""
    labels = dict(known_roles) if isinstance(known_roles, Mapping) else {r: r for r in known_roles}
    source, unreadable = read_source(path)
    if source is None:
        return None, unreadable
    loader = yaml.SafeLoader(source)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, [Problem(path, 1, "the file is empty")]
        checker = _Checker(path, loader, labels)
        questionnaire = checker.questionnaire(root)
        if questionnaire is not None:
            checker.problems += button_data_problems(questionnaire, checker.step_ids)
        problems = sorted(checker.problems, key=lambda p: p.line)
        return (questionnaire if not problems else None), problems
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [Problem(path, mark.line + 1 if mark is not None else 1, f"not valid YAML: {what}")]
    finally:
        loader.dispose()


class _Checker(NodeChecker):
    """Walks the YAML nodes, building the questionnaire and collecting problems with their lines."""

    def __init__(self, path: Path, loader: yaml.SafeLoader, labels: dict[str, str]) -> None:
        super().__init__(path, loader)
        self.labels = labels
        self.step_ids: dict[str, int] = {}  # step id → line, for duplicates
        self.choices: dict[str, tuple[str, ...]] = {}  # questions asked so far → their option ids

    def step_id(self, fields: dict[str, yaml.Node], field: str) -> str:
        """An id of a context question or a statement: unique across the whole questionnaire."""
        ident = self.ident(fields, field)
        if ident and ident in self.step_ids:
            self.bad(
                fields["id"],
                join_field(field, "id"),
                f"duplicate id {ident!r} (also at line {self.step_ids[ident]})",
            )
        elif ident:
            self.step_ids[ident] = fields["id"].start_mark.line + 1
        return ident

    # --- sections ------------------------------------------------------------------------------------
    def questionnaire(self, root: yaml.Node) -> Questionnaire | None:
        top = self.fields(root, "", _TOP_FIELDS, _TOP_FIELDS)
        if top is None:
            return None
        version = 0
        if "version" in top:
            value = self.value(top["version"])
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                version = value
            else:
                self.bad(top["version"], "version", f"must be a whole number from 1, got {value!r}")
        sources: list[str] = []
        for node in self.items(top.get("sources"), "sources"):
            value = self.value(node)
            if isinstance(value, str) and value.startswith(("http://", "https://")):
                sources.append(value)
            else:
                self.bad(node, "sources", f"must be an http(s) URL, got {value!r}")
        title, intro = self.text(top, "title", ""), self.text(top, "intro", "")
        answers = self.answers(top.get("answers"))
        thresholds = self.thresholds(top.get("thresholds"))
        context = self.context(top.get("context"))
        metiers = self.metiers(top.get("metiers"), answers)
        if self.problems or thresholds is None:
            return None
        return Questionnaire(
            path=self.path,
            version=version,
            title=title,
            intro=intro,
            sources=tuple(sources),
            answers=tuple(answers),
            thresholds=thresholds,
            context=tuple(context),
            metiers=tuple(metiers),
        )

    def answers(self, node: yaml.Node | None) -> list[AnswerOption]:
        answers: list[AnswerOption] = []
        for number, item in enumerate(self.items(node, "answers"), start=1):
            field = self.named(item, "answers", number)
            fields = self.fields(item, field, _ANSWER_FIELDS, ("id", "label"))
            if fields is None:
                continue
            ident, label = self.ident(fields, field), self.text(fields, "label", field)
            if ident and any(a.id == ident for a in answers):
                self.bad(fields["id"], join_field(field, "id"), f"duplicate answer id {ident!r}")
                continue
            weight: float | None = None
            if "weight" not in fields:
                self.bad(
                    item,
                    join_field(field, "weight"),
                    "missing field (a number from 0 to 1, or null: not counted)",
                )
            else:
                value = self.value(fields["weight"])
                if value is not None and not (is_number(value) and 0 <= value <= 1):
                    self.bad(
                        fields["weight"],
                        join_field(field, "weight"),
                        f"must be a number from 0 to 1 or null, got {value!r}",
                    )
                elif value is not None:
                    weight = float(value)
            if ident and label:
                answers.append(AnswerOption(ident, label, weight))
        if node is not None and answers and all(a.weight is None for a in answers):
            self.bad(node, "answers", "at least one answer needs a weight (every answer is « not counted »)")
        return answers

    def thresholds(self, node: yaml.Node | None) -> Thresholds | None:
        if node is None:
            return None
        fields = self.fields(node, "thresholds", _THRESHOLD_FIELDS, _THRESHOLD_FIELDS)
        if fields is None:
            return None
        numbers: dict[str, float] = {}
        for key in ("present", "fragile"):
            if key not in fields:
                continue
            value = self.value(fields[key])
            if is_number(value) and 0 <= value <= 100:
                numbers[key] = float(value)
            else:
                self.bad(fields[key], f"thresholds.{key}", f"must be a number from 0 to 100, got {value!r}")
        if len(numbers) == 2 and not numbers["fragile"] < numbers["present"]:
            self.bad(
                fields["fragile"],
                "thresholds",
                f"out of order: fragile ({numbers['fragile']:g}) must be lower than present "
                f"({numbers['present']:g})",
            )
        minimum = 0
        if "min_answered" in fields:
            value = self.value(fields["min_answered"])
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MIN_STATEMENTS:
                minimum = value
            else:
                self.bad(
                    fields["min_answered"],
                    "thresholds.min_answered",
                    f"must be a whole number from 1 to {MIN_STATEMENTS}, got {value!r}",
                )
        if len(numbers) < 2 or not minimum:
            return None
        return Thresholds(numbers["present"], numbers["fragile"], minimum)

    def context(self, node: yaml.Node | None) -> list[ContextQuestion]:
        questions: list[ContextQuestion] = []
        for number, item in enumerate(self.items(node, "context", empty_ok=True), start=1):
            field = self.named(item, "context", number)
            fields = self.fields(item, field, _CONTEXT_FIELDS, ("id", "text", "options"))
            if fields is None:
                continue
            ident = self.step_id(fields, field)
            text, help_text = self.text(fields, "text", field), self.text(fields, "help", field)
            options: list[ContextOption] = []
            option_nodes = self.items(fields.get("options"), join_field(field, "options"))
            if len(option_nodes) == 1:
                self.bad(fields["options"], join_field(field, "options"), "needs at least 2 options")
            for index, option_node in enumerate(option_nodes, start=1):
                where = self.named(option_node, f"{field}.options", index)
                option = self.fields(option_node, where, _OPTION_FIELDS, ("id", "label"))
                if option is None:
                    continue
                option_id = self.ident(option, where)
                if option_id and any(o.id == option_id for o in options):
                    self.bad(option["id"], join_field(where, "id"), f"duplicate option id {option_id!r}")
                    continue
                label = self.text(option, "label", where)
                tags = self.words(option, "tags", where)
                note = self.text(option, "note", where)
                suits = self.words(option, "suits", where)
                for metier_id in suits:
                    if metier_id not in self.labels:
                        self.bad(option["suits"], join_field(where, "suits"), f"unknown métier {metier_id!r} "
                                 f"(known, from roles.yaml: {', '.join(self.labels)})")  # fmt: skip
                if option_id and label:
                    options.append(ContextOption(option_id, label, tags, note, suits))
            if ident:
                self.choices[ident] = tuple(o.id for o in options)
            if ident and text and options:
                questions.append(ContextQuestion(ident, text, tuple(options), help_text))
        return questions

    def metiers(self, node: yaml.Node | None, answers: list[AnswerOption]) -> list[Metier]:
        metiers: list[Metier] = []
        seen: dict[str, int] = {}
        for number, item in enumerate(self.items(node, "metiers"), start=1):
            field = self.named(item, "metiers", number)
            fields = self.fields(item, field, _METIER_FIELDS, _METIER_REQUIRED)
            if fields is None:
                continue
            ident = self.ident(fields, field)
            if ident and ident not in self.labels:
                self.bad(
                    fields["id"],
                    join_field(field, "id"),
                    f"unknown métier {ident!r} (known, from roles.yaml: {', '.join(self.labels)})",
                )
            elif ident in seen:
                self.bad(
                    fields["id"], join_field(field, "id"), f"duplicate métier (also at line {seen[ident]})"
                )
            elif ident:
                seen[ident] = fields["id"].start_mark.line + 1
            statements = self.statements(fields.get("statements"), join_field(field, "statements"), answers)
            first_step, source = self.first_step(fields.get("first_step"), join_field(field, "first_step"))
            metier = Metier(
                id=ident,
                label=self.labels.get(ident, ident),
                statements=tuple(statements),
                meaning_missing=self.text(fields, "meaning_missing", field),
                meaning_fragile=self.text(fields, "meaning_fragile", field),
                check_with=self.text(fields, "check_with", field),
                first_step=first_step,
                first_step_source=source,
            )
            metiers.append(metier)
        if node is not None and isinstance(node, yaml.SequenceNode):
            for role in self.labels:
                if role not in seen:
                    self.bad(
                        node,
                        "metiers",
                        f"missing métier {role!r} (every métier of roles.yaml needs its part)",
                    )
        return metiers

    def first_step(self, node: yaml.Node | None, field: str) -> tuple[str, str]:
        """(text, source URL) of a métier's `first_step`, ("", "") when absent or wrong."""
        if node is None:
            return "", ""
        fields = self.fields(node, field, _FIRST_STEP_FIELDS, _FIRST_STEP_FIELDS)
        if fields is None:
            return "", ""
        step, source = self.text(fields, "text", field), self.text(fields, "source", field)
        if source and not source.startswith(("http://", "https://")):
            self.bad(fields["source"], join_field(field, "source"), f"must be an http(s) URL, got {source!r}")
            return "", ""
        return step, source

    def statements(self, node: yaml.Node | None, field: str, answers: list[AnswerOption]) -> list[Statement]:
        answer_ids = tuple(a.id for a in answers)
        nodes = self.items(node, field)
        if node is not None and nodes and not MIN_STATEMENTS <= len(nodes) <= MAX_STATEMENTS:
            self.bad(
                node, field, f"{len(nodes)} statements, expected from {MIN_STATEMENTS} to {MAX_STATEMENTS}"
            )
        statements: list[Statement] = []
        for number, item in enumerate(nodes, start=1):
            where = self.named(item, field, number)
            fields = self.fields(item, where, _STATEMENT_FIELDS, ("id", "text"))
            if fields is None:
                continue
            ident = self.step_id(fields, where)
            text, help_text = self.text(fields, "text", where), self.text(fields, "help", where)
            weight = 1.0
            if "weight" in fields:
                value = self.value(fields["weight"])
                if is_number(value) and value > 0:
                    weight = float(value)
                else:
                    self.bad(
                        fields["weight"],
                        join_field(where, "weight"),
                        f"must be a number above 0, got {value!r}",
                    )
            skip_if = self.skip_if(fields.get("skip_if"), join_field(where, "skip_if"))
            if_skipped: str | None = None
            if "if_skipped" in fields:
                value = self.value(fields["if_skipped"])
                if "skip_if" not in fields:
                    self.bad(
                        fields["if_skipped"], join_field(where, "if_skipped"), "makes sense only with skip_if"
                    )
                elif value not in answer_ids:
                    self.bad(
                        fields["if_skipped"],
                        join_field(where, "if_skipped"),
                        f"unknown answer id {value!r} (known: {', '.join(answer_ids)})",
                    )
                else:
                    if_skipped = str(value)
            if ident:
                self.choices[ident] = answer_ids
            if ident and text:
                statements.append(Statement(ident, text, weight, skip_if, if_skipped, help_text))
        return statements

    def skip_if(self, node: yaml.Node | None, field: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if node is None:
            return ()
        if not isinstance(node, yaml.MappingNode) or not node.value:
            self.bad(node, field, "expected {question id: [answer ids]}, e.g. {gl-lieu: [non]}")
            return ()
        rules: list[tuple[str, tuple[str, ...]]] = []
        for key_node, value_node in node.value:
            step = self.value(key_node)
            if not isinstance(step, str) or step not in self.choices:
                self.bad(
                    key_node,
                    field,
                    f"unknown question {step!r}: skip_if can only name a question asked before",
                )
                continue
            known = self.choices[step]
            values = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            chosen: list[str] = []
            for answer_node in values:
                answer = self.value(answer_node)
                if answer in known:
                    chosen.append(answer)
                else:
                    self.bad(
                        answer_node,
                        field,
                        f"unknown answer id {answer!r} for {step!r} (known: {', '.join(known)})",
                    )
            if chosen:
                rules.append((str(step), tuple(chosen)))
        return tuple(rules)
