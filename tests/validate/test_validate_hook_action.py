"""The pre-commit hook (through `pre-commit try-repo`, in a temporary git repository) and the composite
GitHub Action (its `kb validate` step run with bash, as the runner would)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_validate_renderers import assert_sarif_valid
from validate_helpers import EXAMPLES, ROOT, require_examples

HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def git(repo, *args):
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_hook_definition():
    (hook,) = HOOKS
    assert hook["id"] == "kb-validate" and hook["language"] == "python"
    assert hook["entry"].split()[:2] == ["kb", "validate"]
    files = re.compile(hook["files"])
    for name in ("a.ttl", "d/b.nt", "c.trig", "e.jsonld", "f.rdf", "g.owl", "h.nq", "i.turtle"):
        assert files.search(name), name
    for name in ("package.json", "README.md", "a.ttl.bak", "pom.xml"):
        assert not files.search(name), name


def test_action_definition():
    assert ACTION["runs"]["using"] == "composite"
    assert {"paths", "fail-on", "python-version", "against", "sarif"} <= set(ACTION["inputs"])
    steps = ACTION["runs"]["steps"]
    install = next(s for s in steps if s.get("name") == "Install thb-kb")
    assert "pip install" in install["run"] and install["env"]["THB_KB_SOURCE"] == "${{ github.action_path }}"
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert "inputs.sarif" in upload["if"]
    for step in steps:  # inputs reach scripts through env only (no ${{ }} expansion inside shell code)
        assert "${{" not in step.get("run", "")


def run_action_step(workdir: Path, **inputs) -> subprocess.CompletedProcess:
    step = next(s for s in ACTION["runs"]["steps"] if s.get("name") == "kb validate")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    for key, value in step["env"].items():
        name = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", value).group(1)
        env[key] = inputs.get(name.replace("-", "_"), ACTION["inputs"][name]["default"])
    bindir = Path(sys.executable).parent
    if not (bindir / "kb").exists():
        pytest.skip("the kb script is not installed next to this Python")
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(["bash", "-c", step["run"]], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=300)


def test_action_step_annotates_and_writes_sarif(tmp_path):
    require_examples()
    (tmp_path / "data").mkdir()
    shutil.copy(EXAMPLES / "context.ttl", tmp_path / "data" / "base.ttl")
    shutil.copy(EXAMPLES / "event-EventShape-valid.ttl", tmp_path / "data" / "event.ttl")
    ok = run_action_step(tmp_path, paths="data/event.ttl")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1].startswith("kb validate: PASSED")
    shutil.copy(EXAMPLES / "report-ReportShape-invalid.ttl", tmp_path / "data" / "report.ttl")
    bad = run_action_step(tmp_path, paths="data", sarif="kb.sarif", fail_on="violation")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    errors = [line for line in bad.stdout.splitlines() if line.startswith("::error ")]
    assert errors and all(line.startswith("::error file=data/report.ttl,line=") for line in errors), bad.stdout
    sarif = assert_sarif_valid((tmp_path / "kb.sarif").read_text(encoding="utf-8"))
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert uris == {"data/report.ttl"}


@pytest.mark.slow
def test_pre_commit_hook_on_a_valid_and_an_invalid_commit(tmp_path):
    """pre-commit clones this repository, builds a virtualenv and pip-installs thb-kb into it (from PyPI)."""
    require_examples()
    pre_commit = Path(sys.executable).parent / "pre-commit"
    from conftest import require

    require(pre_commit.exists(), "pre-commit (test extra)")
    repo = tmp_path / "contrib"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ci@example.org")
    git(repo, "config", "user.name", "CI")
    shutil.copy(EXAMPLES / "context.ttl", repo / "base.ttl")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    shutil.copy(EXAMPLES / "event-EventShape-valid.ttl", repo / "event.ttl")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "a valid event")
    valid = git(repo, "rev-parse", "HEAD")
    shutil.copy(EXAMPLES / "agency-AgencyShape-invalid.ttl", repo / "agency.ttl")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "an invalid agency")
    invalid = git(repo, "rev-parse", "HEAD")
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))
    env = {k: v for k, v in env.items() if not k.startswith("KB_")}

    def try_repo(from_ref, to_ref):
        return subprocess.run([str(pre_commit), "try-repo", str(ROOT), "kb-validate", "--verbose",
                               "--from-ref", from_ref, "--to-ref", to_ref], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=900)

    ok = try_repo(base, valid)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Passed" in ok.stdout
    bad = try_repo(valid, invalid)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout and "agency.ttl" in bad.stdout and "thbsh:AgencyShape" in bad.stdout
