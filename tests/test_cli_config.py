"""Which config a command reads, and what it needs from it: read-only commands work without
the webhook secrets; every command honours --config (before or after it) and HOOKYARD_CONFIG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from receiver.config import load_config
from receiver.lazy_secrets import SecretUnavailable
from receiver.verify.base import RawRequest
from tests.cli_env import PAYLOADS, cli, ingest, no_traceback, workdir_fixture  # noqa: F401

COMPLETED = str(PAYLOADS / "fusillade" / "completed.json")
UNSET = {
    "${FUSILLADE_WEBHOOK_SECRET:-whsec_dev_only_fusillade}": "${FUSILLADE_WEBHOOK_SECRET}",
    "${SLACK_PERF_WEBHOOK_URL:-json://127.0.0.1:9/dev-null}": "${SLACK_PERF_WEBHOOK_URL}",
    "${GITHUB_TOKEN:-dev-only-token}": "${GITHUB_TOKEN}",
}


def line_of(cfg: Path, needle: str) -> int:
    """The config line that holds ``needle`` (the example config is edited often: no fixed numbers)."""
    return next(n for n, line in enumerate(cfg.read_text().splitlines(), 1) if needle in line)


@pytest.fixture
def no_secrets(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """A deployed config whose secrets come only from the environment, with stored events,
    read on a machine where those variables are not set."""
    cfg = workdir / "config.yaml"
    text = cfg.read_text()
    for old, new in UNSET.items():
        text = text.replace(old, new)
    cfg.write_text(text)
    monkeypatch.setenv("FUSILLADE_WEBHOOK_SECRET", "whsec_dev_only_fusillade")
    monkeypatch.setenv("SLACK_PERF_WEBHOOK_URL", "json://127.0.0.1:9/x")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test_5f2a")
    ids = ingest(cfg, ["fusillade/completed.json"])
    for var in ("FUSILLADE_WEBHOOK_SECRET", "SLACK_PERF_WEBHOOK_URL", "GITHUB_TOKEN"):
        monkeypatch.delenv(var)
    return cfg, ids


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["events", "--json"], '"type": "run.completed"'),
        (["deliveries"], "rule load-test-compare-baseline[0]"),
        (["normalize", "--source", "fusillade", COMPLETED], '"type": "run.completed"'),
        (["rules", "test", "--source", "fusillade", COMPLETED], "MATCH load-test-compare-baseline"),
    ],
)
def test_read_only_commands_need_no_secrets(no_secrets: tuple[Path, list[str]], args: list[str], expect: str) -> None:
    cfg, _ = no_secrets
    code, out, err = cli(*args, "--config", str(cfg))
    assert (code, err) == (0, ""), err
    assert expect in out


@pytest.mark.parametrize(
    "args",
    [["check"], ["send", "--source", "fusillade", "--url", "http://127.0.0.1:9/hooks/fusillade", COMPLETED]],
)
def test_commands_that_use_secrets_say_which_is_missing(no_secrets: tuple[Path, list[str]], args: list[str]) -> None:
    cfg, _ = no_secrets
    code, out, err = cli(*args, "--config", str(cfg))
    assert code == 1
    fus, slack = line_of(cfg, "FUSILLADE_WEBHOOK_SECRET"), line_of(cfg, "SLACK_PERF_WEBHOOK_URL")
    assert f"{cfg}:{fus}: sources[0].secrets[0]: environment variable FUSILLADE_WEBHOOK_SECRET is not set" in err
    assert f"{cfg}:{slack}: sinks[0].urls[0].url: environment variable SLACK_PERF_WEBHOOK_URL is not set" in err
    no_traceback(out, err)


def test_a_deferred_secret_says_so_where_it_is_used(no_secrets: tuple[Path, list[str]]) -> None:
    cfg, _ = no_secrets
    config = load_config(cfg, secrets=False)
    with pytest.raises(SecretUnavailable) as info:
        config.sources["fusillade"].verifier.verify(RawRequest(body=b"{}"), 0.0)
    assert str(info.value) == (
        f"{cfg}:{line_of(cfg, 'FUSILLADE_WEBHOOK_SECRET')}: sources[0].secrets[0]: "
        "environment variable FUSILLADE_WEBHOOK_SECRET is not set"
    )
    assert config.sinks["slack-perf"].options is None  # kept for rule validation: id and kind only


def test_an_unset_variable_outside_secrets_is_still_an_error(workdir: Path) -> None:
    cfg = workdir / "config.yaml"
    cfg.write_text(cfg.read_text().replace("sqlite:///data/hookyard.db", "sqlite:///${HY_DATA_DIR}/h.db"))
    code, _, err = cli("events", "--config", str(cfg))
    assert code == 1
    line = line_of(cfg, "HY_DATA_DIR")
    assert err.splitlines() == [f"{cfg}:{line}: storage.url: environment variable HY_DATA_DIR is not set"]


def test_config_before_after_and_from_the_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = str(workdir / "config.yaml")
    ingest(workdir / "config.yaml", ["fusillade/completed.json"])
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no config.example.yaml here
    cases = [
        (["--config", cfg, "events", "--json"], {}),
        (["events", "--json", "--config", cfg], {}),
        (["events", "--json"], {"HOOKYARD_CONFIG": cfg}),
        (["--config", "nope.yaml", "events", "--json", "--config", cfg], {}),  # the nearer one wins
        (["events", "--json", "--config", cfg], {"HOOKYARD_CONFIG": "nope.yaml"}),
    ]
    for args, env in cases:
        code, out, err = cli(*args, env=env)
        assert (code, err) == (0, ""), (args, err)
        assert json.loads(out.splitlines()[0])["type"] == "run.completed"


@pytest.mark.parametrize(
    ("args", "env", "expect"),
    [
        (["events"], {}, "config.example.yaml: no such config file (the default, looked up in "),
        (["deliveries"], {"HOOKYARD_CONFIG": "gone.yaml"}, "gone.yaml: no such config file (given by HOOKYARD_CONFIG)"),
        (["check", "--config", "gone.yaml"], {}, "gone.yaml: no such config file (given with --config)"),
        (["--config", "gone.yaml", "events"], {}, "gone.yaml: no such config file (given with --config)"),
    ],
)
def test_a_missing_config_says_how_to_point_at_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], expect: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOOKYARD_CONFIG", raising=False)
    code, out, err = cli(*args, env=env)
    assert out == ""
    assert code == 1
    assert err.startswith(expect)
    assert "pass --config FILE (before or after the command) or set HOOKYARD_CONFIG=FILE" in err
    assert len(err.splitlines()) == 1
