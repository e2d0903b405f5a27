"""Config loading: every problem located as ``file:line: key.path: problem``."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.config import load_config
from receiver.errors import ConfigError
from tests.helpers import ROOT, assert_no_secret

GOOD_SOURCE = """sources:
  - id: fus
    kind: fusillade
    secrets: ["s3cret-value"]
"""

CASES = [
    # (config text, expected problem lines with {f} for the file name)
    ("serverr: {}\n", ["{f}:1: serverr: unknown key"]),
    (
        "server:\n  port: eighty\n",
        ["{f}:2: server.port: Input should be a valid integer, unable to parse string as an integer"],
    ),
    ("server:\n  port: 70000\n", ["{f}:2: server.port: Input should be less than or equal to 65535"]),
    ("server:\n  processes: 0\n", ["{f}:2: server.processes: Input should be greater than or equal to 1"]),
    ("server:\n  processes: 65\n", ["{f}:2: server.processes: Input should be less than or equal to 64"]),
    (
        "server:\n  header_timeout_seconds: 0\n  max_header_bytes: 100\n",
        [
            "{f}:3: server.max_header_bytes: Input should be greater than or equal to 1024",
            "{f}:2: server.header_timeout_seconds: Input should be greater than 0",
        ],
    ),
    (
        "sources:\n  - id: a\n    kind: nope\n    secrets: [x]\n",
        [
            "{f}:3: sources[0].kind: unknown kind 'nope' (known: automatedfuture, bug0, fume, fusillade, generic, "
            "github, nunu)"
        ],
    ),
    (
        'sources:\n  - id: a\n    kind: fusillade\n    secrets: ["${HOOKYARD_TEST_MISSING}"]\n',
        ["{f}:4: sources[0].secrets[0]: environment variable HOOKYARD_TEST_MISSING is not set"],
    ),
    (
        "sources:\n  - id: a\n    kind: generic\n    secrets: [x]\n",
        ["{f}:2: sources[0].verify: required: kind 'generic' has no default verification scheme"],
    ),
    (
        "sources:\n  - id: a\n    kind: generic\n    verify: {scheme: none}\n",
        ["{f}:4: sources[0].verify.scheme: scheme none needs insecure: true on the source"],
    ),
    (
        "sources:\n  - id: a\n    kind: fusillade\n",
        ["{f}:2: sources[0].secrets: at least one secret is required"],
    ),
    (
        "sources:\n  - id: a\n    kind: fusillade\n    secrets: ['  ']\n",
        ["{f}:4: sources[0].secrets[0]: secret is empty"],
    ),
    (
        "sources:\n  - id: a\n    kind: fusillade\n    secret_file: missing.secret\n",
        [
            "{f}:4: sources[0].secret_file: cannot read secret file '{d}/missing.secret': No such file or directory"
        ],
    ),
    (
        GOOD_SOURCE + "  - id: fus\n    kind: github\n    secrets: [y]\n",
        ["{f}:5: sources[1].id: duplicate source id 'fus'"],
    ),
    (
        "sources:\n  - id: a\n    kind: generic\n    verify: {scheme: hmac, header: X-Sig, bogus: 1}\n"
        "    secrets: [x]\n",
        ["{f}:4: sources[0].verify.bogus: unknown key"],
    ),
    (
        "sources:\n  - id: a\n    kind: generic\n    verify: {scheme: rot13}\n    secrets: [x]\n",
        [
            "{f}:4: sources[0].verify.scheme: unknown scheme 'rot13' (known: github, hmac, none, slack, standard, "
            "stripe, token)"
        ],
    ),
    (
        "sources:\n  - id: 'bad id!'\n    kind: fusillade\n    secrets: [x]\n",
        ["{f}:2: sources[0].id: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}$'"],
    ),
    (
        # A model-level check that names its key points at that key's line.
        "sources:\n  - id: a\n    kind: generic\n    verify:\n      scheme: hmac\n      header: X-Sig\n"
        "      signed_string: '{{ts}}.{{body}}'\n    secrets: [x]\n",
        ["{f}:7: sources[0].verify.signed_string: unknown placeholder(s) ['ts']; use {{body}}, {{timestamp}}, {{id}}"],
    ),
    ("storage:\n  url: mysql://x\n", ["{f}:2: storage.url: must start with sqlite:/// or postgresql://"]),
    (
        "storage:\n  busy_timeout_seconds: 0\n  connect_timeout: 3\n",
        [
            "{f}:2: storage.busy_timeout_seconds: Input should be greater than 0",
            "{f}:3: storage.connect_timeout: unknown key",
        ],
    ),
    # storage.retention: strict, every problem located at once.
    (
        "storage:\n  retention:\n    events_days: 0\n    batch_size: 20000\n    keep: forever\n",
        [
            "{f}:3: storage.retention.events_days: Input should be greater than 0",
            "{f}:4: storage.retention.batch_size: Input should be less than or equal to 10000",
            "{f}:5: storage.retention.keep: unknown key",
        ],
    ),
    ("server:\n  port: 1\n  port: 2\n", ["{f}:3: server.port: duplicate key"]),
    ("server: [unclosed\n", ["{f}:2: invalid YAML: expected ',' or ']', but got '<stream end>'"]),
    ("- just\n- a list\n", ["{f}:1: the config must be a mapping"]),
    (
        "server:\n  port: !port 1\n",
        ["{f}:2: server.port: invalid YAML: could not determine a constructor for the tag '!port'"],
    ),
    (
        "server:\n  host: 2026-13-45\n",
        ["{f}:2: server.host: invalid YAML: cannot read '2026-13-45' as timestamp: month must be in 1..12"],
    ),
    (
        "sources:\n  - id: a\n    kind: fusillade\n    secrets: [x]\n    insecure: true\n",
        ["{f}:5: sources[0].insecure: insecure: true is only for scheme none"],
    ),
    # normalize: keys are checked as a whole block; each problem still names its own key and line,
    # written flat, nested or mixed.
    *[
        ("sources:\n  - id: a\n    kind: fusillade\n    secrets: [x]\n    normalize:\n" + block, [expected])
        for block, expected in [
            (
                "      type: event\n      data.run.colour: x\n",
                "{f}:7: sources[0].normalize.data.run.colour: unknown key (known: id, name, project, status, "
                "outcome, url, ci_url, started_at, finished_at, duration_ms)",
            ),
            (
                "      data:\n        run:\n          id: x\n          colour: x\n",
                "{f}:9: sources[0].normalize.data.run.colour: unknown key (known: id, name, project, status, "
                "outcome, url, ci_url, started_at, finished_at, duration_ms)",
            ),
            (
                "      data:\n        git.sha: x\n        weather.temp: x\n",
                "{f}:8: sources[0].normalize.data.weather.temp: unknown section (known: run, metrics, counts, test, "
                "bug, git, deployment)",
            ),
            (
                "      type: event\n      data.run.outcome: {path: x, map: {a: maybe}}\n",
                "{f}:7: sources[0].normalize.data.run.outcome: 'maybe' is not an outcome (passed, failed, "
                "errored, cancelled, skipped, known_failure)",
            ),
            (
                "      type: event\n      data.run: x\n",
                "{f}:7: sources[0].normalize.data.run: write data keys as data.<section>.<key>",
            ),
            (
                "      data: 5\n",
                "{f}:6: sources[0].normalize.data: must be a mapping of sections (run, metrics, …) to keys",
            ),
            (
                "      data:\n        run: x\n",
                "{f}:7: sources[0].normalize.data.run: must be a mapping of keys to rules",
            ),
        ]
    ],
    # Only a github source recognises Bug0's statuses, by a context that is not empty.
    (
        "sources:\n  - id: g\n    kind: github\n    secrets: [x]\n    normalize: {bug0_context: ''}\n"
        "  - id: n\n    kind: nunu\n    secrets: [x]\n    verify: {scheme: token, header: X-T}\n"
        "    normalize: {bug0_context: bug0}\n",
        [
            "{f}:5: sources[0].normalize.bug0_context: String should have at least 1 character",
            "{f}:10: sources[1].normalize.bug0_context: unknown key",
        ],
    ),
    # A send may not outlast its lease (it would be claimed again while in flight).
    (
        "delivery:\n  lease_seconds: 20\nsinks:\n  - id: h\n    kind: http\n    base_url: http://x.example\n"
        "    timeout_seconds: 30\n",
        ["{f}:7: sinks[0].timeout_seconds: 30 s must be shorter than delivery.lease_seconds (20 s)"],
    ),
    (
        "delivery:\n  lease_seconds: 5\nsinks:\n  - id: h\n    kind: http\n  - id: g\n    kind: http\n",
        [
            "{f}:4: sinks[0].timeout_seconds: 10 s must be shorter than delivery.lease_seconds (5 s)",
            "{f}:6: sinks[1].timeout_seconds: 10 s must be shorter than delivery.lease_seconds (5 s)",
        ],
    ),
    ("server:\n  log_format: xml\n", ["{f}:2: server.log_format: Input should be 'text' or 'json'"]),
    (
        # Several problems are all reported, not only the first.
        "server:\n  port: -1\nsources:\n  - id: a\n    kind: nope\n    secrets: [x]\n  - id: b\n    kind: fusillade\n",
        ["{f}:2: server.port: Input should be greater than or equal to 0"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_problems_are_located_exactly(tmp_path: Path, text: str, expected: list[str]) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    got = [str(p) for p in info.value.problems]
    assert got == [e.format(f=cfg, d=tmp_path) for e in expected]


def test_all_compile_problems_are_collected(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("sources:\n  - id: a\n    kind: nope\n    secrets: [x]\n  - id: b\n    kind: fusillade\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    assert [p.path for p in info.value.problems] == ["sources[0].kind", "sources[1].secrets"]


def test_env_expansion_defaults_and_secret_files(tmp_path: Path) -> None:
    (tmp_path / "gh.secret").write_text("from-a-file\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "server:\n  port: ${PORT:-9999}\n"
        "storage:\n  url: sqlite:///db/x.db\n"
        "sources:\n"
        "  - id: gh\n    kind: github\n    secrets: ['${GH_SECRET}']\n    secret_file: gh.secret\n"
        "  - id: cost\n    kind: fusillade\n    secrets: ['$${literal}']\n"
    )
    config = load_config(cfg, env={"GH_SECRET": "from-env"})
    assert config.server.port == 9999
    assert config.storage_url == f"sqlite:///{tmp_path}/db/x.db"
    assert [s.reveal() for s in config.sources["gh"].secrets] == ["from-env", "from-a-file"]
    assert config.sources["cost"].secrets[0].reveal() == "${literal}"
    assert config.rule_paths == [tmp_path / "rules/"]
    # Nothing about a compiled source shows its secrets.
    assert_no_secret([repr(config.sources["gh"]), repr(config)], ["from-env", "from-a-file"])


def test_problems_never_contain_secret_values(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "sources:\n  - id: a\n    kind: generic\n    verify: {scheme: standard}\n"
        "    secrets: ['not-a-whsec-secret-xyz']\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    assert [p.path for p in info.value.problems] == ["sources[0].secrets"]
    assert_no_secret([str(info.value)], ["not-a-whsec-secret-xyz"])


def test_example_config_loads() -> None:
    config = load_config(ROOT / "config.example.yaml", env={})
    assert set(config.sources) >= {"fusillade", "github", "automatedfuture", "nunu", "bug0", "fume", "ci"}
    assert config.server.port == 8080
    assert config.storage_url.endswith("/data/hookyard.db")
