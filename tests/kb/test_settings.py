"""The settings table drives the environment, the CLI and the README: they must agree."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import settings
from kb.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_then_environment_then_overrides():
    assert settings.load({}, environ={})["port"] == 8080
    assert settings.load({}, environ={"KB_PORT": "9000"})["port"] == 9000
    assert settings.load({"port": 9100}, environ={"KB_PORT": "9000"})["port"] == 9100


def test_bad_value_names_the_variable():
    with pytest.raises(ValueError, match="KB_PORT"):
        settings.load({}, environ={"KB_PORT": "eighty"})


def test_base_iri_gets_a_trailing_slash():
    assert settings.load({"base_iri": "http://x.test/kb"}, environ={})["base_iri"] == "http://x.test/kb/"


def test_every_setting_is_in_the_readme_table():
    text = README.read_text(encoding="utf-8")
    assert settings.markdown_table() in text, "README's configuration table is stale: run `kb settings --markdown`"
    documented = set(re.findall(r"`(KB_[A-Z_]+)`", text))
    assert {s.env for s in settings.SETTINGS} <= documented


def test_every_non_secret_setting_is_a_serve_option():
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    for s in settings.SETTINGS:
        if not s.secret:
            assert s.option in result.output, s.option
