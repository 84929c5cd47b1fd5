"""docs/contributing-data.md tells the truth: its Turtle examples validate, its shapes table is generated from
the current shapes, its sample report is what `kb validate` prints, its YAML uses the real hook and action."""

from __future__ import annotations

import re

import yaml

from validate_helpers import ROOT, kb

DOC = ROOT / "docs" / "contributing-data.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def write_examples(folder, *, broken_event: bool = False):
    names = ["source.ttl", "agency.ttl", "action.ttl", "new-event.ttl"]
    turtle = blocks("turtle")
    assert len(turtle) == len(names), "the doc's worked example changed: update this test"
    (folder / "data").mkdir()
    for name, text in zip(names, turtle):
        if broken_event and name == "new-event.ttl":
            text = "\n".join(line for line in text.splitlines() if "dct:description" not in line) + "\n"
            assert "thb:organiser agency:coe ;" in text
            text = text.replace("thb:organiser agency:coe ;", "thb:organiser agency:cooe ;")
        (folder / "data" / name).write_text(text, encoding="utf-8")


def test_every_turtle_block_validates(tmp_path):
    write_examples(tmp_path)
    p = kb("validate", "--fail-on", "warning", "data", cwd=tmp_path)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    assert b"4 files" in p.stdout


def test_each_turtle_block_parses_on_its_own():
    from kb import rdfio

    for text in blocks("turtle"):
        assert rdfio.parse_quads(text.encode("utf-8"), rdfio.format_for("turtle"))


def test_the_sample_report_is_what_kb_validate_prints(tmp_path):
    write_examples(tmp_path, broken_event=True)
    p = kb("validate", "--context", "data", "data/new-event.ttl", cwd=tmp_path)
    assert p.returncode == 1
    (sample,) = [b for b in blocks("text") if "kb validate:" in b]
    assert p.stdout.decode() == sample


def test_the_shapes_table_is_current():
    from kb.reports.shapes_table import BEGIN, END, markdown
    from kb.validation import shapes_graph

    text = DOC.read_text(encoding="utf-8")
    current = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    assert current.strip() == markdown(shapes_graph()).strip(), \
        "run `python -m kb.reports.shapes_table --write`"
    for shape in ("thbsh:EventShape", "thbsh:AgencyShape", "thbsh:ActionShape"):
        assert f"#### {shape}" in current


def test_yaml_examples_use_the_real_hook_and_action_inputs():
    hook_ids = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    inputs = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])
    docs = [yaml.safe_load(b) for b in blocks("yaml")]
    config = next(d for d in docs if "repos" in d)
    assert {h["id"] for r in config["repos"] for h in r["hooks"]} <= hook_ids
    workflow = next(d for d in docs if "jobs" in d)
    steps = [s for job in workflow["jobs"].values() for s in job["steps"] if "thb-kb" in s.get("uses", "")]
    assert steps and set(steps[0]["with"]) <= inputs
