"""Rule problems found at load, all in one round: ``load_rules``, ``hookyard check`` and reload.

Rules are loaded against a real config (real sink kinds, an apprise sink whose URLs carry
tags), so the checks a sink kind adds (a ``tag`` no URL carries) are the real ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from receiver.app import create_app
from receiver.cli.main import main
from receiver.config import load_config
from receiver.errors import ConfigError
from receiver.rules import load_rules_for

CONFIG = """\
rules: [rules/]
storage: {url: 'sqlite:///h.db'}
sinks:
  - id: slack-perf
    kind: apprise
    urls:
      - {url: 'json://127.0.0.1:9/perf', tag: perf}
      - {url: 'json://127.0.0.1:9/ops', tag: [ops, oncall]}
  - id: email-qa
    kind: apprise
    urls: ['json://127.0.0.1:9/mail']
  - id: github
    kind: github_status
    token: t0k3n-for-tests
"""
KNOWN = "(known: email-qa, github, slack-perf)"


def workdir(tmp_path: Path, rules: dict[str, str]) -> Path:
    (tmp_path / "rules").mkdir()
    for name, text in rules.items():
        (tmp_path / "rules" / name).write_text(text)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    return cfg


# (id, rule files, the exact list of problems: every one, once, in file and line order)
BROKEN: list[tuple[str, dict[str, str], list[str]]] = [
    (
        "misspelt-key-hides-nothing-else-in-the-rule",
        {
            "r.yaml": """rules:
  - name: a
    mtach: {type: run.completed}
    when: "event.x >"
    actions:
      - sink: nowhere
        title: "{{ oops }"
        body: b
      - sink: github
        state: broken
        context: "{{ x }"
"""
        },
        [
            "r.yaml:3: rules[0].mtach: unknown key",
            "r.yaml:4: rules[0].when: invalid expression: unexpected 'end of template'",
            f"r.yaml:6: rules[0].actions[0].sink: unknown sink 'nowhere' {KNOWN}",
            "r.yaml:7: rules[0].actions[0].title: invalid template: unexpected '}'",
            "r.yaml:10: rules[0].actions[1].state: Input should be 'pending', 'success', 'failure' or 'error'",
            "r.yaml:11: rules[0].actions[1].context: invalid template: unexpected '}'",
        ],
    ),
    (
        "template-error-once-next-to-a-missing-key-and-a-bad-emit",
        {
            "r.yaml": """rules:
  - name: a
    actions:
      - sink: slack-perf
        title: "{{ event.subject }"
        colour: red
        emit: "not a type"
"""
        },
        [
            "r.yaml:4: rules[0].actions[0].body: required key is missing",
            "r.yaml:5: rules[0].actions[0].title: invalid template: unexpected '}'",
            "r.yaml:6: rules[0].actions[0].colour: unknown key",
            "r.yaml:7: rules[0].actions[0].emit: must be an event type such as comparison.completed",
        ],
    ),
    (
        "duplicate-name-next-to-other-errors",
        {
            "a.yaml": "rules:\n  - name: gate\n    stop: maybe\n",
            "b.yaml": "rules:\n  - name: gate\n    actions: [{sink: nowhere}]\n  - name: other\n",
        },
        [
            "a.yaml:3: rules[0].stop: Input should be a valid boolean",
            "b.yaml:2: rules[0].name: duplicate rule name 'gate' (first defined at a.yaml:2)",
            f"b.yaml:3: rules[0].actions[0].sink: unknown sink 'nowhere' {KNOWN}",
        ],
    ),
    (
        "duplicate-names-on-one-line",
        {"r.yaml": "rules: [{name: x}, {name: x, actions: []}]\n"},
        ["r.yaml:1: rules[1].name: duplicate rule name 'x' (first defined at r.yaml:1)"],
    ),
    (
        "unknown-file-key-hides-nothing",
        {"r.yaml": "variables: {a: 1}\nrules:\n  - name: a\n    actions: [{sink: nowhere}]\n"},
        [
            "r.yaml:1: variables: unknown key",
            f"r.yaml:4: rules[0].actions[0].sink: unknown sink 'nowhere' {KNOWN}",
        ],
    ),
    (
        "rules-and-actions-that-are-not-mappings",
        {"r.yaml": "rules:\n  - just-a-name\n  - name: b\n    actions:\n      - slack-perf\n"},
        [
            "r.yaml:2: rules[0]: a rule is a mapping with name:, match:, actions: …",
            "r.yaml:5: rules[1].actions[0]: an action is a mapping with sink: and the sink's parameters",
        ],
    ),
    (
        "tag-that-no-url-carries",
        {
            "r.yaml": """rules:
  - name: a
    actions:
      - {sink: slack-perf, title: t, body: b, tag: qa}
      - {sink: slack-perf, title: t, body: b, tag: [qa, nightly]}
      - {sink: email-qa, title: t, body: b, tag: perf}
      - {sink: slack-perf, title: t, body: b, tag: perf}
      - {sink: slack-perf, title: t, body: b, tag: [qa, oncall]}
      - {sink: slack-perf, title: t, body: b, tag: all}
      - {sink: slack-perf, title: t, body: b, tag: "{{ event.platform }}"}
      - {sink: slack-perf, title: t, body: b}
"""
        },
        [
            "r.yaml:4: rules[0].actions[0].tag: no URL of sink 'slack-perf' has tag 'qa' "
            "(its URLs' tags: oncall, ops, perf); every delivery would fail",
            "r.yaml:5: rules[0].actions[1].tag: no URL of sink 'slack-perf' has tag ['qa', 'nightly'] "
            "(its URLs' tags: oncall, ops, perf); every delivery would fail",
            "r.yaml:6: rules[0].actions[2].tag: no URL of sink 'email-qa' has tag 'perf' "
            "(its URLs have no tags); every delivery would fail",
        ],
    ),
]


@pytest.mark.parametrize(("rules", "expected"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_every_problem_is_reported_at_once(tmp_path: Path, rules: dict[str, str], expected: list[str]) -> None:
    cfg = workdir(tmp_path, rules)
    where = f"{tmp_path}/rules/"
    with pytest.raises(ConfigError) as info:
        load_rules_for(load_config(cfg))
    assert [str(p).replace(where, "") for p in info.value.problems] == expected
    # `hookyard check` prints exactly these, once each, and exits 1.
    result = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert [line.replace(where, "") for line in result.stderr.splitlines()] == expected


def test_tagged_urls_load_and_check_says_ok(tmp_path: Path) -> None:
    rules = "rules:\n  - name: a\n    actions: [{sink: slack-perf, title: t, body: b, tag: ops}]\n"
    cfg = workdir(tmp_path, {"r.yaml": rules})
    ruleset = load_rules_for(load_config(cfg))
    assert [a.params["tag"] for a in ruleset.rules[0].actions] == ["ops"]
    result = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.startswith(f"{cfg}: ok: 0 sources, 3 sinks, 1 rules")


def test_reload_refuses_an_action_whose_tag_no_url_carries(tmp_path: Path) -> None:
    good = "rules:\n  - name: a\n    actions: [{sink: slack-perf, title: t, body: b, tag: perf}]\n"
    cfg = workdir(tmp_path, {"r.yaml": good})
    loaded = load_config(cfg)
    app = create_app(loaded, deliver=False)
    before = app.hookyard.router.ruleset

    (tmp_path / "rules" / "r.yaml").write_text(good.replace("tag: perf", "tag: qa"))
    assert app.reloader.reload() is False
    assert app.hookyard.router.ruleset is before
    assert app.hookyard.reload_error == (
        f"{tmp_path}/rules/r.yaml:3: rules[0].actions[0].tag: no URL of sink 'slack-perf' has tag 'qa' "
        "(its URLs' tags: oncall, ops, perf); every delivery would fail"
    )
