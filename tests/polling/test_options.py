"""``polling:`` and a source's ``poll:`` (receiver/runs/watch.py, receiver/polling/options.py): strict,
located, every problem at once, and the pollers' own checks before the daemon starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.app import create_app
from receiver.config import load_config
from receiver.daemon.startup import preflight
from receiver.errors import ConfigError
from receiver.store import open_configured

BASE = """\
rules: []
polling: {interval_seconds: 10, max_duration_seconds: 600}
sources:
  - id: fus
    kind: fusillade
    secrets: [whsec_options_1]
    poll: {sink: fusillade-api, start_on: [run.started], interval_seconds: 5}
  - {id: gh, kind: github, secrets: [gh_options_1]}
sinks:
  - {id: fusillade-api, kind: fusillade, api_key: fus_options_key}
  - {id: slack, kind: apprise, urls: ["json://127.0.0.1:9/x"]}
"""


NUNU = ("- {{id: nu, kind: nunu, secrets: [nu_options_1], verify: {{scheme: hmac, header: X-Sig}},"
        " poll: {{sink: fusillade-api, watch: {watch}}}}}")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_options_load_compiled(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert (config.polling.interval_seconds, config.polling.max_duration_seconds) == (10.0, 600.0)
    assert config.polling.max_interval_seconds == 120.0  # the defaults stand
    poll = config.sources["fus"].poll
    assert poll is not None and (poll.sink, poll.types, poll.interval_seconds) == ("fusillade-api",
                                                                                   frozenset({"run.started"}), 5.0)
    assert config.sources["gh"].poll is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("max_duration_seconds: 600}", "max_duration_seconds: 600, bogus: 1}",
         ["config.yaml:2: polling.bogus: unknown key"]),
        ("interval_seconds: 5}", "interval_seconds: 5, every: 3}",
         ["config.yaml:7: sources[0].poll.every: unknown key"]),
        ("poll: {sink: fusillade-api,", "poll: {sink: nowhere,",
         ["config.yaml:7: sources[0].poll.sink: no sink 'nowhere'"]),
        ("poll: {sink: fusillade-api,", "poll: {sink: slack,",
         ["config.yaml:7: sources[0].poll.sink: must be an http sink or a platform preset"]),
        ("polling: {interval_seconds: 10,", "polling: {interval_seconds: 0,",
         ["config.yaml:2: polling.interval_seconds: Input should be greater than or equal to 1"]),
    ],
)  # fmt: skip
def test_problems_are_located(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, BASE.replace(old, new)))
    assert [str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems] == expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("- {id: gh, kind: github, secrets: [gh_options_1]}",
         "- {id: gh, kind: github, secrets: [gh_options_1], poll: {sink: fusillade-api}}",
         "config.yaml:8: sources[1].poll: kind 'github' has no poller (pollable: automatedfuture, fusillade, nunu)"),
        ("interval_seconds: 5}", "interval_seconds: 5, watch: {status: running}}",
         "config.yaml:7: sources[0].poll.watch: fusillade documents no list of runs to watch"),
        # watch: options are the poller's own, as strict as the rest of the config.
        ("- {id: gh, kind: github, secrets: [gh_options_1]}", NUNU.format(watch="{statuses: running}"),
         "config.yaml:8: sources[1].poll.watch.statuses: unknown key"),
        ("- {id: gh, kind: github, secrets: [gh_options_1]}", NUNU.format(watch="{status: 3}"),
         "config.yaml:8: sources[1].poll.watch.status: must be a status word or a list of them"),
    ],
)  # fmt: skip
def test_the_pollers_checks_stop_the_daemon_before_it_starts(tmp_path: Path, old: str, new: str, expected: str) -> None:
    config = load_config(write(tmp_path, BASE.replace(old, new)))
    with pytest.raises(ConfigError) as err:
        preflight(config)
    assert [str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems] == [expected]


def test_polls_and_deliveries_share_each_sinks_rate_limiter(tmp_path: Path) -> None:
    """One budget per platform: the engine takes the dispatcher's own bucket, and the fusillade
    preset defaults to its published 100 requests per 10 s."""
    config = load_config(write(tmp_path, BASE.replace("api_key: fus_options_key}", "api_key: fus_options_key}\n"
                                                      "  - {id: hook, kind: http, rate_per_second: 2}")))  # fmt: skip
    rt = create_app(config, store=open_configured(config)).hookyard
    fusillade = rt.dispatcher.bucket("fusillade-api")
    assert fusillade is not None and (fusillade.rate, fusillade.burst) == (10.0, 10)
    assert rt.poller.buckets("fusillade-api") is fusillade
    assert rt.poller.buckets("hook") is rt.dispatcher.bucket("hook") is not None
    assert rt.poller.buckets("slack") is None  # no rate limit configured: none
    # The runs a trigger starts are polled where the poller reads runs (not Automated Future's).
    assert rt.dispatcher.poll_platforms == {"fusillade", "nunu"}
