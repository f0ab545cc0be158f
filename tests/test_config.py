from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.config import Config, ConfigError, environment_variables, load_config
from tests.conftest import ROOT


def test_repository_config_loads_with_documented_defaults() -> None:
    config = load_config(ROOT / "config.yaml", env={})
    assert config.embedding.model == "intfloat/multilingual-e5-small"
    assert config.path(config.knowledge_dir) == ROOT / "knowledge"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("retrieval:\n  leads: 3\n", encoding="utf-8")
    env = {"CATABOT_RETRIEVAL_LEADS": "5", "CATABOT_EMBEDDING_MODEL": "fake:32"}
    config = load_config(tmp_path / "config.yaml", env=env)
    assert config.retrieval.leads == 5
    assert config.embedding.model == "fake:32"


def test_config_path_comes_from_environment(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text("log_level: DEBUG\n", encoding="utf-8")
    config = load_config(env={"CATABOT_CONFIG": str(tmp_path / "other.yaml")})
    assert config.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        ("retrieval:\n  leads: beaucoup\n", {}, "retrieval.leads: expected an integer, got 'beaucoup'"),
        ("retrieval:\n  lead: 3\n", {}, "retrieval.lead: unknown key"),
        ("embedding: 3\n", {}, "embedding: expected a section of keys"),
        (
            "",
            {"CATABOT_RETRIEVAL_ANSWER_THRESHOLD": "high"},
            "environment CATABOT_RETRIEVAL_ANSWER_THRESHOLD",
        ),
        ("retrieval:\n  answer_threshold: 2\n", {}, "retrieval.answer_threshold: must be within 0..1"),
        ("retrieval:\n  leads: [1\n", {}, "config.yaml:3: not valid YAML"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, content: str, env: dict[str, str], message: str) -> None:
    (tmp_path / "config.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=None) as caught:
        load_config(tmp_path / "config.yaml", env=env)
    assert message in str(caught.value)


def test_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml", env={})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CATABOT_RETRIEVAL_LEADS": "-1"},
            "environment CATABOT_RETRIEVAL_LEADS: retrieval.leads: must be 0 or more",
        ),
        (
            {"CATABOT_EMBEDDING_BACKEND": "gpu"},
            "environment CATABOT_EMBEDDING_BACKEND: embedding.backend: one of",
        ),
        (
            {"CATABOT_DATABASE_URL": "mysql://x"},
            "environment CATABOT_DATABASE_URL: database.url: unsupported",
        ),
        ({"CATABOT_LOG_LEVEL": "LOUD"}, "environment CATABOT_LOG_LEVEL: log_level:"),
        ({"CATABOT_EVENTS_REMINDER_OFFSETS": "soon"}, "environment CATABOT_EVENTS_REMINDER_OFFSETS: events."),
    ],
)
def test_a_bad_value_from_the_environment_names_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    (tmp_path / "config.yaml").write_text("retrieval:\n  leads: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "config.yaml", env=env)
    assert str(caught.value).startswith(message)
    assert "config.yaml" not in str(caught.value)


def test_a_misspelt_variable_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ROOT / "config.yaml", env={"CATABOT_RETRIEVAL_LEDS": "3"})
    assert (
        str(caught.value) == "CATABOT_RETRIEVAL_LEDS: unknown setting (did you mean CATABOT_RETRIEVAL_LEADS?)"
    )
    kept = {
        "CATABOT_CONFIG": str(ROOT / "config.yaml"),
        "CATABOT_ADMINS": "1,2",
        "CATABOT_TEST_ANYTHING": "x",
    }
    assert load_config(env=kept).admins == (1, 2)
    assert {"CATABOT_DATABASE_URL", "CATABOT_TELEGRAM_WEBHOOK_SECRET"} <= set(environment_variables())


def test_the_cli_refuses_a_misspelt_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CATABOT_RETRIEVAL_LEDS", "3")
    assert main(["--config", str(ROOT / "config.yaml"), "ask", "x"]) == 2
    assert capsys.readouterr().err == (
        "catabot: CATABOT_RETRIEVAL_LEDS: unknown setting (did you mean CATABOT_RETRIEVAL_LEADS?)\n"
    )


def test_config_yaml_documents_every_key_with_its_default() -> None:
    written = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    flat = {
        f"{section}.{k}": v
        for section, keys in written.items()
        if isinstance(keys, dict)
        for k, v in keys.items()
    }
    flat |= {k: v for k, v in written.items() if not isinstance(v, dict)}
    assert set(flat) == set(environment_variables().values())
    defaults = Config()
    for key, value in flat.items():
        default = (
            getattr(defaults, key)
            if "." not in key
            else getattr(getattr(defaults, key.split(".")[0]), key.split(".")[1])
        )
        assert (tuple(value) if isinstance(value, list) else value) == default, key
