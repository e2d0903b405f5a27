"""The image's runtime layout and start command, minus Docker (no engine runs here): the
Dockerfile's own lines are read and replayed on a temp folder standing in for the image."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from receiver.config import load_config
from receiver.daemon.startup import exposure_problem
from tests.helpers import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
WORKDIR = re.findall(r"^WORKDIR (\S+)", DOCKERFILE, flags=re.M)[-1]  # the runtime stage's
# Real secrets for every source of the example config, as `docker run -e …` would pass them.
REAL_SECRETS = {
    "FUSILLADE_WEBHOOK_SECRET": "whsec_prod_fusillade_8c1d",
    "GITHUB_WEBHOOK_SECRET": "gh-prod-secret-40aa",
    "AF_WEBHOOK_SECRET": "whsec_cHJvZC1hdXRvbWF0ZWQtZnV0dXJlLWtleQ==",
    "BUG0_WEBHOOK_TOKEN": "bug0-prod-token-77e2",
    "FUME_WEBHOOK_SECRET": "whsec_cHJvZC1mdW1lLXNlY3JldC1rZXktMQ==",
    "CI_SECRET": "ci-prod-secret-1b90",
}


def dockerfile(pattern: str) -> re.Match[str]:
    m = re.search(pattern, DOCKERFILE, flags=re.M)
    assert m is not None, pattern
    return m


def image_layout(root: Path, link_target: str | None = None) -> tuple[Path, Path]:
    """``root`` as the image's filesystem after an empty bind mount on the volume: the config
    folder from WORKDIR/COPY, the data link from the Dockerfile's own ``ln -s``, an empty volume."""
    volume = root / dockerfile(r'^VOLUME \["([^"]+)"\]').group(1).lstrip("/")
    target, link = dockerfile(r"ln -s (\S+) (\S+)").groups()
    etc = root / WORKDIR.lstrip("/")
    etc.mkdir(parents=True)
    shutil.copy(ROOT / "config.example.yaml", etc / "config.yaml")
    shutil.copytree(ROOT / "rules", etc / "rules")
    shutil.copytree(ROOT / "secrets", etc / "secrets")
    volume.mkdir(parents=True)  # the bind-mounted host folder: empty
    (root / link.lstrip("/")).symlink_to(root / (link_target or target).lstrip("/"))
    return etc, volume


def hookyard(etc: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    config_env = dockerfile(r"HOOKYARD_CONFIG=(\S+)").group(1)
    environ = {**os.environ, **(env or {}), "HOOKYARD_CONFIG": str(etc / Path(config_env).name)}
    return subprocess.run(
        [sys.executable, "-m", "receiver", *args], cwd=etc, env=environ, capture_output=True, text=True, timeout=120
    )


def test_the_data_folder_is_the_volume_itself() -> None:
    volume = dockerfile(r'^VOLUME \["([^"]+)"\]').group(1)
    target, link = dockerfile(r"ln -s (\S+) (\S+)").groups()
    assert target == volume
    assert link == WORKDIR + "/data"


def test_an_empty_bind_mount_is_a_working_data_folder(tmp_path: Path) -> None:
    etc, volume = image_layout(tmp_path)
    done = hookyard(etc, "check")
    assert done.returncode == 0, done.stderr
    assert "store sqlite ok" in done.stdout
    assert (volume / "hookyard.db").exists()


def test_the_old_layout_broke_on_an_empty_bind_mount_and_says_so_in_one_line(tmp_path: Path) -> None:
    etc, _ = image_layout(tmp_path, link_target="/var/lib/hookyard/data")
    done = hookyard(etc, "check")
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize(("env", "refused"), [({}, True), (REAL_SECRETS, False)])
def test_the_image_command_needs_real_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], refused: bool
) -> None:
    cmd = json.loads(dockerfile(r"^CMD (\[.*\])$").group(1))
    assert cmd[:2] == ["hookyard", "serve"]
    host = cmd[cmd.index("--host") + 1]
    etc, _ = image_layout(tmp_path)
    if not refused:
        (etc / "secrets" / "nunu.secret").write_text("nunu-prod-secret-03fe\n")  # the mounted real one
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    problem = exposure_problem(load_config(etc / "config.yaml"), host)
    assert (problem is not None) == refused
    if refused:
        assert problem is not None and problem.startswith(f"refusing to listen on {host}: sources fusillade, ")
