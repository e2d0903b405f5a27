"""Startup failures as an operator meets them: one located line, exit 1 (2 for usage errors),
the same from `check` as from `serve`, and never a traceback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from receiver.config import load_config
from receiver.daemon.startup import exposure_problem, exposure_warning, is_dev_only
from tests.cli_env import cli, no_traceback, workdir_fixture  # noqa: F401
from tests.helpers import Daemon, free_port


def _dangling_data(folder: Path) -> str:
    (folder / "data").symlink_to(folder / "gone" / "data")
    return "data"


def _unreachable_postgres(folder: Path) -> str:
    cfg = folder / "config.yaml"
    url = f"postgresql://hookyard:pg-pass-9f31@127.0.0.1:{free_port()}/hookyard"
    # A short connect bound keeps the test quick; the retries before it are logged.
    cfg.write_text(cfg.read_text().replace('"sqlite:///data/hookyard.db"', f'"{url}"\n  connect_timeout_seconds: 1'))
    return "127.0.0.1"


def _missing_rules_folder(folder: Path) -> str:
    cfg = folder / "config.yaml"
    text = cfg.read_text().replace("rules: [rules/]", "rules: [rules/, no-such-rules/]")
    cfg.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "no-such-rules/" in row)
    return f"{cfg}:{line}: rules[1]: no such file or directory"


STORE_READERS = ("check", "events", "deliveries", "serve")
CASES = [
    *[(_dangling_data, c) for c in STORE_READERS],
    *[(_unreachable_postgres, c) for c in STORE_READERS],
    *[(_missing_rules_folder, c) for c in ("check", "serve", "retry")],  # the commands that load rules
]


@pytest.mark.parametrize(("breakage", "command"), CASES, ids=[f"{b.__name__[1:]}-{c}" for b, c in CASES])
def test_every_startup_failure_is_one_line_and_exit_1(
    workdir: Path, breakage: Callable[[Path], str], command: str
) -> None:
    said = breakage(workdir)
    args = ["dlv_x"] if command == "retry" else []
    code, out, err = cli(command, "--config", str(workdir / "config.yaml"), *args)
    no_traceback(out, err)
    assert code == 1, (out, err)
    # serve has its logging set up: the store's bounded retries show as warnings before the error.
    retries = [line for line in err.splitlines() if "WARNING hookyard.store: PostgreSQL at " in line]
    lines = [line for line in err.splitlines() if line not in retries]
    assert len(lines) == 1, err
    assert said in lines[0]
    if said.startswith(str(workdir)):
        assert lines[0] == said
    assert "pg-pass-9f31" not in out + err


def test_usage_errors_exit_2(workdir: Path) -> None:
    code, _, err = cli("serve", "--config", str(workdir / "config.yaml"), "--log-level", "loud")
    assert code == 2
    assert "Invalid value for '--log-level': 'loud' is not one of 'critical', 'error', 'warning', 'info'" in err
    no_traceback(err)


def test_check_opens_the_store_and_builds_everything(workdir: Path) -> None:
    code, out, err = cli("check", "--config", str(workdir / "config.yaml"))
    assert (code, err) == (0, "")
    assert out.endswith("store sqlite ok\n")
    assert (workdir / "data" / "hookyard.db").exists()  # migrated, as serve would


@pytest.mark.parametrize(
    ("host", "env", "refused"),
    [
        ("127.0.0.1", {}, False),
        ("::1", {}, False),
        ("localhost", {}, False),
        ("0.0.0.0", {}, True),
        ("192.0.2.10", {}, True),
        ("0.0.0.0", {"HOOKYARD_ALLOW_DEV_SECRETS": "1"}, False),
        ("0.0.0.0", {"FUSILLADE_WEBHOOK_SECRET": "whsec_real_4a7f", "GITHUB_WEBHOOK_SECRET": "gh-real-91c2"}, True),
    ],
)
def test_dev_secrets_keep_the_daemon_on_loopback(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, host: str, env: dict[str, str], refused: bool
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = load_config(workdir / "config.yaml")
    problem = exposure_problem(config, host)
    assert (problem is not None) == refused
    if problem is not None:
        assert problem.startswith(f"refusing to listen on {host}: sources ")
        # Sources whose secret came from the environment are not named; the others are.
        assert ("fusillade," in problem) == ("FUSILLADE_WEBHOOK_SECRET" not in env)
        assert "--allow-dev-secrets" in problem


def test_no_dev_secret_left_means_exposed_is_fine(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = workdir / "config.yaml"
    text = re.sub(r":-[^}]*dev[-_]only[^}]*\}", "}", cfg.read_text())
    text = text.replace(":-whsec_ZGV2LW9ubHktYXV0b21hdGVkLWZ1dHVyZQ==}", "}").replace(
        ":-whsec_ZGV2LW9ubHktZnVtZS1zZWNyZXQ=}", "}"
    )
    cfg.write_text(text.replace("host: 127.0.0.1", "host: 0.0.0.0"))
    (workdir / "secrets" / "nunu.secret").write_text("nunu-real-secret-51f0\n")
    for var in re.findall(r"\$\{([A-Z0-9_]+)\}", text):
        monkeypatch.setenv(var, f"real-{var.lower()}-7d1e")
    monkeypatch.setenv("AF_WEBHOOK_SECRET", "whsec_cmVhbC1hZi1zZWNyZXQtZm9yLXRlc3Q=")
    monkeypatch.setenv("FUME_WEBHOOK_SECRET", "whsec_cmVhbC1mdW1lLXNlY3JldC1mb3ItdGVzdA==")
    code, out, err = cli("check", "--config", str(cfg))
    assert (code, err) == (0, ""), err
    assert "ok: 7 sources" in out
    # One source left on its dev-only secret (a file this time) is refused by check, as serve would refuse it.
    (workdir / "secrets" / "nunu.secret").write_text("dev-only-nunu-secret\n")
    code, _, err = cli("check", "--config", str(cfg))
    assert code == 1
    assert err.splitlines() == [
        f"error: {exposure_problem(load_config(cfg), '0.0.0.0')}",
    ]
    assert "sources nunu " in err


@pytest.mark.parametrize(
    ("secret", "dev"),
    [
        ("whsec_dev_only_fusillade", True),
        ("dev-only-github-secret", True),
        ("whsec_ZGV2LW9ubHktYXV0b21hdGVkLWZ1dHVyZQ==", True),  # base64 of dev-only-automated-future
        ("whsec_cmVhbC1hZi1zZWNyZXQtZm9yLXRlc3Q=", False),
        ("s3cr3t-prod", False),
        ("whsec_!!!", False),
    ],
)
def test_dev_only_secrets_are_recognised(secret: str, dev: bool) -> None:
    assert is_dev_only(secret) is dev


@pytest.mark.parametrize(
    ("host", "token", "warned"),
    [("127.0.0.1", "", False), ("0.0.0.0", "", True), ("0.0.0.0", "page-token-6d0b-4e7c-9a1f-52d3c8b0e6a4", False)],
)
def test_a_public_address_without_a_web_token_is_warned_about(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, host: str, token: str, warned: bool
) -> None:
    monkeypatch.setenv("HOOKYARD_WEB_TOKEN", token)
    warning = exposure_warning(load_config(workdir / "config.yaml"), host)
    assert (warning is not None) == warned
    assert warning is None or warning.startswith(f"listening on {host} without web.token: ")


def test_serve_refuses_dev_secrets_on_a_public_address(workdir: Path) -> None:
    # A documentation address (not on this machine): were the guard missing, nothing could listen there.
    code, out, err = cli("serve", "--config", str(workdir / "config.yaml"), "--host", "192.0.2.10", "--port", "0")
    assert code == 1
    assert err.startswith("error: refusing to listen on 192.0.2.10: sources fusillade, github, ")
    assert len(err.splitlines()) == 1
    no_traceback(out, err)


def test_a_busy_port_is_one_line_before_anything_starts(workdir: Path) -> None:
    """A real process: the second daemon must not print "startup complete" and then die."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "receiver", "serve", "--config", str(workdir / "config.yaml"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=workdir,
            env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
        )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: address already in use"]
    assert "startup complete" not in proc.stdout + proc.stderr


def test_a_daemon_that_never_gets_healthy_is_not_left_running(workdir: Path) -> None:
    """The test helper's own bound: hitting it stops the process it started."""
    daemon = Daemon(workdir / "config.yaml")
    with pytest.raises(RuntimeError, match="did not become healthy"):
        daemon.start(timeout=0)
    assert daemon.proc is None
