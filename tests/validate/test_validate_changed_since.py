"""`kb validate --changed-since REF` in a temporary git repository: only the changed files are checked,
the repository's other RDF files are their context."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from validate_helpers import EXAMPLES, kb, require_examples


def git(repo, *args):
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture()
def repo(tmp_path):
    require_examples()
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "ci@example.org")
    git(tmp_path, "config", "user.name", "CI")
    (tmp_path / "data").mkdir()
    # the repository's existing data: the things the examples refer to (not in the curated KB)
    shutil.copy(EXAMPLES / "context.ttl", tmp_path / "data" / "base.ttl")
    (tmp_path / "README.md").write_text("data repo\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def checked(p) -> list[str]:
    return [f["path"] for f in json.loads(p.stdout)["files"]]


def test_new_file_is_checked_with_the_rest_of_the_repository_as_context(repo):
    shutil.copy(EXAMPLES / "event-EventShape-valid.ttl", repo / "data" / "new-event.ttl")  # untracked
    p = kb("validate", "--changed-since", "main", "--format", "json", cwd=repo)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    assert checked(p) == ["data/new-event.ttl"]
    # without the repository as context, its references to data/base.ttl do not resolve
    alone = kb("validate", "--format", "json", "data/new-event.ttl", cwd=repo)
    assert alone.returncode == 1


def test_only_files_changed_since_the_ref_are_checked(repo):
    shutil.copy(EXAMPLES / "event-EventShape-valid.ttl", repo / "data" / "event.ttl")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "valid event")
    git(repo, "checkout", "-q", "-b", "contribution")
    shutil.copy(EXAMPLES / "agency-AgencyShape-invalid.ttl", repo / "data" / "agency.ttl")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "invalid agency")
    p = kb("validate", "--changed-since", "main", "--format", "json", "data", cwd=repo)
    assert p.returncode == 1
    assert checked(p) == ["data/agency.ttl"]
    assert {r["file"] for r in json.loads(p.stdout)["results"]} == {"data/agency.ttl"}
    # a modified tracked file counts too; a deleted one is not an input
    (repo / "data" / "event.ttl").write_text((repo / "data" / "event.ttl").read_text() + "\n# edited\n")
    (repo / "data" / "agency.ttl").unlink()
    p = kb("validate", "--changed-since", "main", "--format", "json", cwd=repo)
    assert p.returncode == 0 and checked(p) == ["data/event.ttl"]


def test_nothing_changed_passes(repo):
    p = kb("validate", "--changed-since", "HEAD", cwd=repo)
    assert p.returncode == 0
    assert "no RDF file changed since HEAD" in p.stderr.decode()


def test_bad_ref_and_no_repository_exit_2(repo, tmp_path_factory):
    p = kb("validate", "--changed-since", "no-such-branch", cwd=repo)
    assert p.returncode == 2 and "git" in p.stderr.decode()
    elsewhere = tmp_path_factory.mktemp("not-a-repo")
    p = kb("validate", "--changed-since", "main", cwd=elsewhere)
    assert p.returncode == 2 and "Traceback" not in p.stderr.decode()
