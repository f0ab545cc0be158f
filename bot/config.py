"""Configuration: `config.yaml`, then `CATABOT_<SECTION>_<KEY>` environment overrides, validated at start.

Every key is declared once, in the dataclasses below; the loader derives the accepted keys, their types and
the names of their environment variables from them, so an error always names the key, and the variable when
the value came from the environment. A `CATABOT_…` variable that names no key is refused like an unknown key
in the file (except `CATABOT_CONFIG`, the config file's path, and `CATABOT_TEST_…`, read by the tests).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import CatabotError
from bot.text import NotUtf8, read_utf8

DEFAULT_CONFIG_FILE = "config.yaml"
BACKENDS = ("auto", "openvino", "torch")
PRECISIONS = ("auto", "fp32", "bf16")


class ConfigError(CatabotError, ValueError):
    """A configuration value is missing or wrong; the message names the key."""


@dataclass(frozen=True)
class EmbeddingConfig:
    model: str = "intfloat/multilingual-e5-small"
    cache_dir: str = "~/.cache/catabot/models"
    batch_size: int = 32
    threads: int = 1
    streams: int = 0  # question batches encoded at once (OpenVINO); 0: as many as cores / threads
    backend: str = "auto"
    precision: str = "auto"
    query_cache: int = 1024


@dataclass(frozen=True)
class RetrievalConfig:
    leads: int = 3
    candidates: int = 20
    rrf_k: int = 10
    dense_weight: float = 2.0
    lexical_weight: float = 1.0
    max_passage_chars: int = 700
    max_question_chars: int = 1000
    answer_threshold: float = 0.35
    refresh_seconds: float = 30.0  # how often a running bot checks knowledge/ and swaps in a new index


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite+aiosqlite:///data/catabot.db"
    question_retention_days: int = 365


@dataclass(frozen=True)
class TelegramConfig:
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str = ""


@dataclass(frozen=True)
class EventsConfig:
    reminder_offsets: tuple[str, ...] = ("7d", "1d", "2h")
    tick_seconds: int = 60


@dataclass(frozen=True)
class DeliveryConfig:
    rate: float = 25.0
    per_chat_interval: float = 1.0
    group_per_minute: int = 20
    max_attempts: int = 5
    claim_timeout: float = 120.0


@dataclass(frozen=True)
class AnnouncementsConfig:
    require_approval: bool = False
    progress_seconds: int = 3
    topics: tuple[str, ...] = ("webinaires", "appels-a-projets", "nouvelles-ressources")


@dataclass(frozen=True)
class ImporterConfig:
    max_file_mb: float = 20.0
    folder: str = "documents"


@dataclass(frozen=True)
class Config:
    knowledge_dir: str = "knowledge"
    index_dir: str = "index"
    log_level: str = "WARNING"
    admins: tuple[int, ...] = ()
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    announcements: AnnouncementsConfig = field(default_factory=AnnouncementsConfig)
    importer: ImporterConfig = field(default_factory=ImporterConfig)
    base_dir: Path = field(default=Path("."), compare=False)

    def path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder, with `~` expanded."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.name != "base_dir"}


def _convert(key: str, value: Any, kind: Any, source: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    elif typing.get_origin(kind) is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            (item_kind, _) = typing.get_args(kind)
            return tuple(_convert(f"{key}[]", v, item_kind, source) for v in value)
    elif isinstance(kind, types.UnionType):
        raise AssertionError(f"unsupported type for {key}")
    raise ConfigError(f"{source}: {key}: expected {_kind_name(kind)}, got {value!r}")


def _kind_name(kind: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(kind, "a list")


ENV_PREFIX = "CATABOT_"
OTHER_VARIABLES = frozenset({"CATABOT_CONFIG"})  # read before the config; `CATABOT_TEST_…` are the tests'


def _env_name(key: str) -> str:
    return ENV_PREFIX + key.replace(".", "_").upper()


def environment_variables(cls: type | None = None, prefix: str = "") -> dict[str, str]:
    """Every `CATABOT_…` variable overriding a key of `cls` (default `Config`): {variable: dotted key}."""
    names: dict[str, str] = {}
    for name, kind in _fields(cls or Config).items():
        if dataclasses.is_dataclass(kind):
            names |= environment_variables(typing.cast(type, kind), f"{prefix}{name}.")
        else:
            names[_env_name(prefix + name)] = prefix + name
    return names


def _check_variables(env: Mapping[str, str]) -> None:
    known = environment_variables()
    for name in sorted(env):
        ours = name.startswith(ENV_PREFIX) and not name.startswith(ENV_PREFIX + "TEST_")
        if ours and name not in known and name not in OTHER_VARIABLES:
            close = difflib.get_close_matches(name, [*known, *OTHER_VARIABLES], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{name}: unknown setting{hint}")


def _build(
    cls: type,
    data: Mapping[str, Any],
    prefix: str,
    source: str,
    env: Mapping[str, str],
    from_env: set[str] | None = None,
) -> Any:
    unknown = set(data) - set(_fields(cls))
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(f"{source}: {prefix}{name}: unknown key (known: {', '.join(_fields(cls))})")
    values: dict[str, Any] = {}
    for name, kind in _fields(cls).items():
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(kind):
            section = data.get(name) or {}
            if not isinstance(section, Mapping):
                raise ConfigError(f"{source}: {key}: expected a section of keys, got {section!r}")
            values[name] = _build(typing.cast(type, kind), section, f"{key}.", source, env, from_env)
            continue
        env_name = _env_name(key)
        if env_name in env:
            values[name] = _convert(key, env[env_name], kind, f"environment {env_name}")
            if from_env is not None:
                from_env.add(key)
        elif name in data:
            values[name] = _convert(key, data[name], kind, source)
    return cls(**values)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate the config. `path` defaults to `$CATABOT_CONFIG`, then `config.yaml` if it exists."""
    env = os.environ if env is None else env
    chosen = Path(path or env.get("CATABOT_CONFIG") or DEFAULT_CONFIG_FILE)
    data: Any = {}
    if chosen.exists():
        try:
            data = yaml.safe_load(read_utf8(chosen)) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{chosen}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
        except NotUtf8 as exc:
            raise ConfigError(f"{chosen}:{exc.line}: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{chosen}: cannot read the file ({exc.strerror or exc})") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"{chosen}: expected a mapping of keys at the top level")
    elif path is not None or "CATABOT_CONFIG" in env:
        raise ConfigError(f"{chosen}: config file not found")
    _check_variables(env)
    from_env: set[str] = set()
    config: Config = _build(Config, data, "", str(chosen), env, from_env)
    config = dataclasses.replace(config, base_dir=chosen.parent.resolve())
    _validate(config, lambda key: f"environment {_env_name(key)}" if key in from_env else str(chosen))
    return config


_DATABASES = {"sqlite", "postgresql", "postgres"}


def _validate(config: Config, source: Callable[[str], str]) -> None:
    """Check the values' ranges; `source(key)` names where a key's value came from (file or variable)."""
    checks: list[tuple[bool, str]] = [
        (config.retrieval.leads >= 0, "retrieval.leads: must be 0 or more"),
        (config.retrieval.candidates >= 1, "retrieval.candidates: must be 1 or more"),
        (config.retrieval.rrf_k >= 1, "retrieval.rrf_k: must be 1 or more"),
        (config.retrieval.max_passage_chars >= 100, "retrieval.max_passage_chars: must be 100 or more"),
        (config.retrieval.max_question_chars >= 10, "retrieval.max_question_chars: must be 10 or more"),
        (0.0 <= config.retrieval.answer_threshold <= 1.0, "retrieval.answer_threshold: must be within 0..1"),
        (config.retrieval.refresh_seconds > 0, "retrieval.refresh_seconds: must be more than 0"),
        (config.embedding.batch_size >= 1, "embedding.batch_size: must be 1 or more"),
        (config.embedding.backend in BACKENDS, f"embedding.backend: one of {', '.join(BACKENDS)}"),
        (config.embedding.precision in PRECISIONS, f"embedding.precision: one of {', '.join(PRECISIONS)}"),
        (config.embedding.streams >= 0, "embedding.streams: batches at once, 0 (automatic) or more"),
        (config.embedding.query_cache >= 0, "embedding.query_cache: questions kept, 0 or more"),
        (config.database.question_retention_days >= 1, "database.question_retention_days: must be 1 or more"),
        (
            "://" in config.database.url,
            "database.url: expected a URL such as sqlite+aiosqlite:///data/catabot.db",
        ),
        (
            config.database.url.partition("://")[0].partition("+")[0] in _DATABASES,
            f"database.url: unsupported database {config.database.url.partition('://')[0]!r}"
            " (use sqlite+aiosqlite:// or postgresql+asyncpg://)",
        ),
        (
            not config.telegram.webhook_secret
            or re.fullmatch(r"[A-Za-z0-9_-]{1,256}", config.telegram.webhook_secret) is not None,
            "telegram.webhook_secret: 1 to 256 characters among A-Z, a-z, 0-9, _ and - (Telegram's rule)",
        ),
        (1 <= config.telegram.webhook_port <= 65535, "telegram.webhook_port: must be a TCP port (1-65535)"),
        (config.events.tick_seconds >= 1, "events.tick_seconds: must be 1 or more"),
        (0 < config.delivery.rate <= 30, "delivery.rate: messages per second, above 0 and at most 30"),
        (config.delivery.per_chat_interval >= 0, "delivery.per_chat_interval: seconds, 0 or more"),
        (1 <= config.delivery.group_per_minute <= 20, "delivery.group_per_minute: 1 to 20"),
        (config.delivery.max_attempts >= 1, "delivery.max_attempts: must be 1 or more"),
        (config.delivery.claim_timeout >= 4, "delivery.claim_timeout: seconds, 4 or more"),
        (config.announcements.progress_seconds >= 1, "announcements.progress_seconds: must be 1 or more"),
        (
            all(re.fullmatch(r"[a-z0-9-]{1,30}", t) for t in config.announcements.topics),
            "announcements.topics: short ids of lowercase letters, digits and hyphens (at most 30)",
        ),
        (config.importer.max_file_mb > 0, "importer.max_file_mb: megabytes, above 0"),
        (
            re.fullmatch(r"[a-z0-9][a-z0-9_-]*", config.importer.folder) is not None,
            "importer.folder: one folder name of lowercase letters, digits, hyphens",
        ),
        (
            config.log_level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"},
            "log_level: DEBUG, INFO, WARNING or ERROR",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{source(message.partition(':')[0])}: {message}")
    from bot.events.planning import parse_offsets

    try:
        parse_offsets(config.events.reminder_offsets)
    except ValueError as exc:
        raise ConfigError(f"{source('events.reminder_offsets')}: events.reminder_offsets: {exc}") from exc
