"""``hookyard check`` warnings: sinks that load but whose every delivery would be refused."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from receiver.cli.main import main

PRIVATE_SINKS = """\
rules: []
storage: {url: 'sqlite:///h.db'}
sinks:
  - id: api
    kind: http
    base_url: http://127.0.0.1:9000
  - id: gh
    kind: github_status
    token: t0k3n-for-tests
    api_url: http://10.1.2.3/api/v3
  - id: gh-lab
    kind: github_status
    token: t0k3n-for-tests
    api_url: http://localhost:8000
    allow_private: true
  - id: fus
    kind: fusillade
    api_key: k3y-for-tests
    base_url: http://[::1]:8080
  - id: public
    kind: http
    base_url: https://api.example.com
  - id: chat
    kind: apprise
    urls: ['json://127.0.0.1:9/x']
"""


def test_check_warns_about_fixed_private_urls_without_allow_private(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(PRIVATE_SINKS)
    result = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert result.exit_code == 0  # a warning, not a problem: the config is valid
    tail = ": every delivery will be refused unless the sink sets allow_private: true"
    assert result.stderr.splitlines() == [
        f"{cfg}:6: sinks[0].base_url: warning: 127.0.0.1 is a loopback address{tail}",
        f"{cfg}:10: sinks[1].api_url: warning: 10.1.2.3 is a private address{tail}",
        f"{cfg}:19: sinks[3].base_url: warning: ::1 is a loopback address{tail}",
    ]
    assert result.stdout.startswith(f"{cfg}: ok: 0 sources, 6 sinks, 0 rules")
