"""The wheel carries the ontology, the shapes and the curated data: installed in a new virtual environment
and run from `/`, it still validates and serves the KB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    built = run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(ROOT)])
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((tmp / "dist").glob("thb_kb-*.whl"))
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)])
    assert pip.returncode == 0, pip.stderr[-3000:]
    return env_dir, wheel


def test_wheel_holds_ontology_shapes_and_data(installed):
    import zipfile

    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("kb/_resources/ontology/") and n.endswith(".ttl") for n in names)
    assert "kb/_resources/ontology/context.jsonld" in names  # the JSON-LD context imports inline, /context.jsonld
    assert any(n.startswith("kb/_resources/shapes/") and n.endswith(".ttl") for n in names)
    assert any(n.startswith("kb/data/") and n.endswith(".ttl") for n in names)


def test_installed_kb_validates_loads_and_serves_from_root(installed, tmp_path):
    env_dir, _ = installed
    kb = str(env_dir / "bin" / "kb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env["KB_STORE"] = str(tmp_path / "store")
    data_dir = run([str(env_dir / "bin" / "python"), "-c", "import kb.paths as p; print(p.DATA_DIR, p.SHAPES_DIR)"],
                   cwd="/", env=env)
    assert data_dir.returncode == 0, data_dir.stderr
    data, shapes = data_dir.stdout.split()
    assert str(ROOT) not in data and str(ROOT) not in shapes, "the installed package must not use the checkout"

    validated = run([kb, "validate", data], cwd="/", env=env)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    loaded = run([kb, "load"], cwd="/", env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    stats = run([kb, "stats", "--json"], cwd="/", env=env)
    assert stats.returncode == 0, stats.stderr
    counts = json.loads(stats.stdout)
    assert counts["triples"] > 0
    assert counts["classes"]["Event"] >= 2 and counts["classes"]["Agency"] >= 10

    home = run([kb, "serve", "--get", "/healthz", "--no-load"], cwd="/", env=env)
    assert home.returncode == 0, home.stderr
    assert json.loads(home.stdout)["status"] == "ok"
    context = run([kb, "serve", "--get", "/context.jsonld", "--no-load"], cwd="/", env=env)
    assert context.returncode == 0, context.stderr
    assert json.loads(context.stdout)["@context"]["thb"] == "https://w3id.org/thb-kb/def#"
