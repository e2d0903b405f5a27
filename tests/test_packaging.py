"""What the Dockerfile does, minus Docker: build the wheel, install it cleanly, run it on the
image's config layout. (No Docker engine runs here; this covers the steps it executes.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from tests.helpers import ROOT


def test_dockerfile_copies_only_what_exists_and_runs_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.M):
        assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
    assert re.search(r"^USER hookyard$", text, flags=re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text


def test_wheel_ships_package_data_and_runs_from_a_clean_install(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(ROOT)],
        check=True,
    )
    (wheel,) = wheels.glob("hookyard-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "receiver/store/migrations/sqlite/0001_init.sql",
        "receiver/schema/event.schema.json",
        "receiver/cli/main.py",
        "receiver/web/static/vendor/chart.umd.min.js",  # the run page's chart, vendored with its licence
        "receiver/web/static/vendor/chart.js.LICENSE.md",
        "receiver/web/static/runs-chart.js",
    ):
        assert needed in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "hookyard = receiver.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()

    # Install the wheel alone into a fresh target (dependencies come from this venv) and run it
    # from outside the source tree, on the image's layout: /etc/hookyard/{config.yaml,rules,secrets}.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
    )
    etc = tmp_path / "etc"
    etc.mkdir()
    shutil.copy(ROOT / "config.example.yaml", etc / "config.yaml")
    shutil.copytree(ROOT / "rules", etc / "rules")
    shutil.copytree(ROOT / "secrets", etc / "secrets")
    env = {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{sysconfig.get_paths()['purelib']}"}
    run = [sys.executable, "-c", "from receiver.cli.main import main; main()"]
    out = subprocess.run([*run, "check", "--config", "config.yaml"], cwd=etc, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "ok: 7 sources, 6 sinks" in out.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import receiver; print(receiver.__file__)"],
        cwd=etc,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(target))
    # The installed package serves the vendored chart library itself (no CDN).
    served = "from receiver.web.html import HERE, Static; print(len(Static(HERE / 'static' / 'vendor').files))"
    out = subprocess.run([sys.executable, "-c", served], cwd=etc, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1", out.stdout
