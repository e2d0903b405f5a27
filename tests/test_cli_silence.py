"""``hookyard silence add|list|expire`` against the example config's SQLite store: output,
exit codes, clear errors and never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_env import cli, no_traceback, workdir_fixture  # noqa: F401


def test_add_list_expire(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    cfg = str(workdir / "config.yaml")
    code, out, err = cli(
        "silence", "add", "--config", cfg, "--match", "data.run.name=Nightly*", "--match", "source=fusillade",
        "--for", "2h", "--comment", "perf env down", "--by", "ana",
    )  # fmt: skip
    assert code == 0, err
    silence_id = out.split()[0]
    assert silence_id.startswith("sil_") and " active until " in out
    assert out.rstrip().endswith("data.run.name=Nightly* source=fusillade")
    code, out, err = cli("silence", "list", "--config", cfg, "--json")
    assert code == 0, err
    [item] = [json.loads(line) for line in out.splitlines()]
    shown = (item["id"], item["state"], item["comment"], item["created_by"])
    assert shown == (silence_id, "active", "perf env down", "ana")
    assert item["matchers"] == ["data.run.name=Nightly*", "source=fusillade"]
    code, out, err = cli("silence", "list", "--config", cfg)
    assert code == 0 and out.splitlines()[1] == "    perf env down (by ana)"
    code, out, err = cli("silence", "expire", "--config", cfg, silence_id)
    assert code == 0 and out.startswith(f"{silence_id} expired at "), err
    code, out, err = cli("silence", "expire", "--config", cfg, silence_id)
    assert code == 0 and out.startswith(f"{silence_id} had already ended at ")
    code, out, _ = cli("silence", "list", "--config", cfg, "--json")
    assert json.loads(out)["state"] == "expired"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--match", "nope", "--for", "2h", "--comment", "c"], 1,
         "'nope' is not a matcher like source=fusillade, data.run.name=Nightly* or type=~run\\..*"),
        (["--match", "source=x", "--for", "2 hours", "--comment", "c"], 2,
         "Invalid value for --for: '2 hours' is not a duration like 30s, 5m, 12h or 7d"),
        (["--match", "source=x", "--for", "2h", "--comment", "c", "--starts", "soon"], 2,
         "Invalid value for --starts: 'soon' is not a time such as 2026-03-01T22:00:00Z"),
        (["--match", "source=x", "--for", "2h"], 2, "Missing option '--comment'"),
        (["--match", "source=x", "--for", "2h", "--comment", "c", "--starts", "2000-01-01T00:00:00Z"], 1,
         "a silence must end after it starts and after now"),
    ],
)  # fmt: skip
def test_bad_silences_are_refused_clearly(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int, message: str
) -> None:
    monkeypatch.chdir(workdir)
    got, out, err = cli("silence", "add", "--config", str(workdir / "config.yaml"), *args)
    assert got == code and message in err, err
    no_traceback(out, err)
    got, out, err = cli("silence", "list", "--config", str(workdir / "config.yaml"))
    assert (got, out, err) == (0, "", "no silences\n")


def test_expire_an_unknown_silence(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    code, out, err = cli("silence", "expire", "--config", str(workdir / "config.yaml"), "sil_nope")
    assert (code, out, err) == (1, "", "no silence sil_nope\n")
