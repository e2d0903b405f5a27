"""What the CLI tests share: the example config in a temp folder, running a command, storing events."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.cli.main import main
from receiver.config import load_config
from tests.helpers import ROOT

PAYLOADS = ROOT / "tests" / "testdata" / "payloads"


@pytest.fixture(name="workdir")
def workdir_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example config, rules and secrets copied to a temp dir (its own SQLite file)."""
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "secrets", tmp_path / "secrets")
    for var in ("FUSILLADE_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET", "HOOKYARD_CONFIG", "HOOKYARD_ALLOW_DEV_SECRETS"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def cli(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def ingest(config_path: Path, payloads: list[str | bytes], source: str = "fusillade") -> list[str]:
    """Store events through the real app (nothing is sent), each signed with the source's own
    scheme and first secret as `hookyard send` does; their ids. A str names a payload file."""
    from receiver.verify import SCHEMES

    config = load_config(config_path)
    src = config.sources[source]
    app = create_app(config, deliver=False)
    ids = []
    with TestClient(app) as client:
        for payload in payloads:
            body = (PAYLOADS / payload).read_bytes() if isinstance(payload, str) else payload
            headers = SCHEMES[src.scheme].sign(src.verify_options, src.secrets[0], body, time.time())
            r = client.post(f"/hooks/{source}", content=body, headers=headers)
            assert r.status_code == 202, r.text
            ids.append(r.json()["event_id"])
    return ids


def no_traceback(*outputs: str) -> None:
    for text in outputs:
        assert "Traceback" not in text, text
