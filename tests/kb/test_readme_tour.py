"""The README's quick tour works as written: every local URL it shows answers, and its commands exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
URLS = sorted(set(re.findall(r"http://127\.0\.0\.1:8080(/[^\s'\"`)]*)", README)))


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    assert "scripts/serve.sh" in README and "scripts/test.sh" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci


@pytest.mark.parametrize("path", URLS)
def test_every_tour_url_answers(client, path):
    resp = client.get(path, headers={"Accept": "text/turtle"}, follow_redirects=True)
    assert resp.status_code in (200, 400), (path, resp.status_code)  # /sparql without a query may be 400
    if path.startswith("/id/"):
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("text/turtle")


def test_every_kb_command_in_the_readme_exists():
    from kb.cli import cli

    commands = set(re.findall(r"`kb ([a-z]+)", README))
    assert commands
    for name in commands:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
