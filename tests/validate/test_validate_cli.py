"""`kb validate` end to end, through the real CLI in a subprocess: exit codes, bad input, context, reports."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from validate_helpers import EXAMPLES, ROOT, kb, kb_patched, require_examples
from test_validate_renderers import assert_junit_valid, assert_sarif_valid

DATA = ROOT / "kb" / "data"
EVENT_IRI = "https://w3id.org/thb-kb/id/event/"


def out(p) -> str:
    return p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


def invalid_examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*-invalid.ttl"))


# --- conforming data ----------------------------------------------------------------------------------

def test_curated_kb_conforms_and_counts_each_triple_once():
    from kb import curated
    from kb.namespaces import Iris

    p = kb("validate", "--format", "json", "kb/data")
    assert p.returncode == 0, out(p)
    doc = json.loads(p.stdout)
    assert doc["conforms"] is True and doc["results"] == []
    assert doc["summary"]["triples"] == len(curated.data_graph(Iris()))
    assert {f["path"] for f in doc["files"]} == {os.path.join("kb", "data", f.name) for f in DATA.glob("*.ttl")}


@pytest.mark.parametrize("name", ["events.ttl", "agencies.ttl", "programmes-actions.ttl"])
def test_one_curated_file_resolves_its_references_in_the_kb(name):
    p = kb("validate", f"kb/data/{name}")
    assert p.returncode == 0, out(p)


def test_a_copy_of_curated_data_elsewhere_replaces_the_kb_for_its_subjects(tmp_path):
    copy = tmp_path / "events.ttl"
    copy.write_bytes((DATA / "events.ttl").read_bytes())
    p = kb("validate", str(copy))
    assert p.returncode == 0, out(p)


def test_valid_examples_with_their_context():
    require_examples()
    valid = sorted(EXAMPLES.glob("*-valid.ttl"))
    p = kb("validate", "--format", "json", *map(str, valid), str(EXAMPLES / "context.ttl"))
    assert p.returncode == 0, out(p)
    assert json.loads(p.stdout)["summary"]["files"] == len(valid) + 1


# --- violations ---------------------------------------------------------------------------------------

def test_every_invalid_example_fails_with_its_expected_shape_and_a_line():
    require_examples()
    files = invalid_examples()
    assert files
    for f in files:
        expect = next(line for line in f.read_text(encoding="utf-8").splitlines() if line.startswith("# expect:"))
        shape = expect.split()[2]
        p = kb("validate", "--format", "json", str(f), str(EXAMPLES / "context.ttl"))
        assert p.returncode == 1, f"{f.name}: {out(p)}"
        results = json.loads(p.stdout)["results"]
        mine = [r for r in results if r["file"] == str(f)]
        assert mine, f"{f.name}: no finding located in the file: {results}"
        assert any(r["nodeShape"].endswith("#" + shape.split(":")[1]) for r in mine), (f.name, results)
        assert all(r["line"] and 1 <= r["line"] <= len(f.read_text().splitlines()) for r in mine), (f.name, mine)


def test_text_report_names_file_line_shape_and_summary():
    require_examples()
    f = EXAMPLES / "event-EventShape-invalid.ttl"
    p = kb("validate", str(f), str(EXAMPLES / "context.ttl"))
    assert p.returncode == 1
    lines = p.stdout.decode().splitlines()
    assert lines[0] == str(f)
    assert any("VIOLATION" in line and line.strip()[0].isdigit() for line in lines)
    assert "thbsh:EventShape" in p.stdout.decode()
    assert lines[-1].startswith("kb validate: FAILED: 2 files, ") and "violation" in lines[-1]


def test_text_report_names_file_focus_path_value_and_message():
    """Foundation: the text report names file, focus node, path, value and message (and line and shape)."""
    require_examples()
    f = EXAMPLES / "programme-ProgrammeShape-invalid.ttl"
    p = kb("validate", str(f), str(EXAMPLES / "context.ttl"))
    assert p.returncode == 1
    lines = p.stdout.decode().splitlines()
    assert lines[:4] == [
        str(f),
        "  <https://w3id.org/thb-kb/id/programme/example-programme>",
        "    35: VIOLATION dct:hasPart = <https://w3id.org/thb-kb/id/place/example-city>",
        "        dct:hasPart of a programme must point to a thb:Action.  "
        "[thbsh:ProgrammeShape, sh:ClassConstraintComponent]",
    ]
    assert "dct:hasPart place:example-city" in f.read_text().splitlines()[34]  # line 35: the offending triple


def test_shapes_in_the_data_have_no_effect(tmp_path):
    """Only the trusted shapes apply: data that deactivates a shape, or brings a shape of its own, changes
    nothing."""
    require_examples()
    f = tmp_path / "sneaky.ttl"
    f.write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "@prefix thbsh: <https://w3id.org/thb-kb/shapes#> .\n"
        "thbsh:ProgrammeShape sh:deactivated true .\n"
        "<urn:x:Mine> a sh:NodeShape ; sh:targetNode <urn:x:a> ; sh:property [ sh:path <urn:x:p> ; sh:minCount 1 ] .\n",
        encoding="utf-8")
    invalid = EXAMPLES / "programme-ProgrammeShape-invalid.ttl"
    p = kb("validate", "--format", "json", str(invalid), str(EXAMPLES / "context.ttl"), str(f))
    assert p.returncode == 1, out(p)
    results = json.loads(p.stdout)["results"]
    assert [r["nodeShape"] for r in results] == ["https://w3id.org/thb-kb/shapes#ProgrammeShape"]


def test_warnings_pass_unless_fail_on_warning(tmp_path):
    require_examples()
    valid = (EXAMPLES / "event-EventShape-valid.ttl").read_text(encoding="utf-8")
    # drop the description: the event shape only warns about it
    lines = [line for line in valid.splitlines() if "dct:description" not in line]
    f = tmp_path / "event-no-description.ttl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ctx = str(EXAMPLES / "context.ttl")
    default = kb("validate", "--format", "json", str(f), ctx)
    doc = json.loads(default.stdout)
    assert doc["summary"]["warning"] >= 1 and doc["summary"]["violation"] == 0, out(default)
    assert default.returncode == 0
    assert kb("validate", "--fail-on", "warning", str(f), ctx).returncode == 1
    assert kb("validate", "--fail-on", "info", str(f), ctx).returncode == 1


def test_a_reference_the_kb_does_not_know_is_a_violation(tmp_path):
    text = (DATA / "events.ttl").read_text(encoding="utf-8").replace(
        "thb:organiser agency:pt-osth", "thb:organiser agency:no-such-agency")
    assert "agency:no-such-agency" in text
    f = tmp_path / "events.ttl"
    f.write_text(text, encoding="utf-8")
    p = kb("validate", "--format", "json", str(f))
    assert p.returncode == 1
    (r,) = [r for r in json.loads(p.stdout)["results"] if r["value"] and "no-such-agency" in r["value"]]
    assert r["pathIri"] == "https://w3id.org/thb-kb/def#organiser"
    assert text.splitlines()[r["line"] - 1].strip().startswith("thb:organiser agency:no-such-agency")


# --- bad input: each file gets its own message, none hides the others ---------------------------------

BAD = {
    "empty.ttl": (b"", "is empty"),
    "blank.ttl": (b"  \n\n", "holds only whitespace"),
    "binary.ttl": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is a binary file"),
    "latin1.ttl": ('<https://example.org/a> <https://example.org/b> "caf\u00e9" .'.encode("latin-1"),
                   "is not UTF-8 text"),
    "broken.nt": (b"<https://example.org/a> <https://example.org/b> .\n", "does not parse as ntriples"),
    "nothing.jsonld": (b'{"name": "no context, no triples"}', "holds no RDF triples"),
    "notes.txt": (b"hello", "cannot tell the RDF format"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_kind_of_bad_file_exits_1_with_a_precise_message(tmp_path, name):
    data, message = BAD[name]
    f = tmp_path / name
    f.write_bytes(data)
    p = kb("validate", str(f))
    assert p.returncode == 1, out(p)
    assert message in p.stdout.decode(), out(p)
    assert "Traceback" not in out(p)


def test_unreadable_file_exits_1(tmp_path):
    link = tmp_path / "gone.ttl"
    link.symlink_to(tmp_path / "deleted-target.ttl")
    p = kb("validate", str(link))
    assert p.returncode == 1 and "cannot be read" in p.stdout.decode(), out(p)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    f = tmp_path / "persons.ttl"
    f.write_bytes(b"\xef\xbb\xbf" + (DATA / "persons.ttl").read_bytes())
    p = kb("validate", str(f))
    assert p.returncode == 0, out(p)


def test_parse_error_carries_line_and_column(tmp_path):
    f = tmp_path / "bad.ttl"
    f.write_text('@prefix ex: <https://example.org/> .\nex:a ex:b "ok" .\nex:c ex:d "unterminated .\n')
    p = kb("validate", "--format", "github", str(f))
    assert p.returncode == 1
    first = p.stdout.decode().splitlines()[0]
    assert first.startswith(f"::error file={str(f).replace(':', '%3A').replace(',', '%2C')},line=3,col=")


def test_mixed_run_reports_every_file(tmp_path):
    require_examples()
    (tmp_path / "empty.ttl").write_bytes(b"")
    (tmp_path / "broken.nt").write_bytes(b"<a> .\n")
    (tmp_path / "binary.ttl").write_bytes(b"\x00\x01\x02")
    invalid = EXAMPLES / "agency-AgencyShape-invalid.ttl"
    p = kb("validate", "--format", "json", "kb/data/events.ttl", str(invalid), str(EXAMPLES / "context.ttl"),
           str(tmp_path))
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    by_file = {}
    for r in doc["results"]:
        by_file.setdefault(r["file"], []).append(r)
    assert set(by_file) >= {str(invalid), str(tmp_path / "empty.ttl"), str(tmp_path / "broken.nt"),
                            str(tmp_path / "binary.ttl")}
    assert os.path.join("kb", "data", "events.ttl") not in by_file  # the valid file has no finding
    assert any(r["nodeShape"].endswith("#AgencyShape") for r in by_file[str(invalid)])
    assert doc["summary"]["files"] == 6


@pytest.mark.parametrize("fmt", ["turtle", "ntriples", "nquads", "trig", "jsonld", "rdfxml"])
def test_every_rdf_format_is_validated(tmp_path, fmt):
    """Issue 6, point 1: every RDF format the foundation reads, chosen by the file's extension; the finding is
    the same whatever the syntax, with the line of the offending triple."""
    require_examples()
    from kb import rdfio

    info = rdfio.format_for(fmt)
    files = []
    for name in ("context", "programme-ProgrammeShape-invalid"):
        g = rdfio.triples_to_graph(rdfio.read_file(EXAMPLES / f"{name}.ttl"))
        f = tmp_path / f"{name}{info.extensions[0]}"
        f.write_bytes(rdfio.serialize_graph(g, info))
        files.append(f)
    ok = kb("validate", str(files[0]))
    assert ok.returncode == 0, out(ok)
    p = kb("validate", "--format", "json", *map(str, files))
    assert p.returncode == 1, out(p)
    (r,) = json.loads(p.stdout)["results"]
    assert (r["file"], r["nodeShape"], r["pathIri"], r["value"]) == (
        str(files[1]), "https://w3id.org/thb-kb/shapes#ProgrammeShape", "http://purl.org/dc/terms/hasPart",
        "<https://w3id.org/thb-kb/id/place/example-city>")
    line = files[1].read_text(encoding="utf-8").splitlines()[r["line"] - 1]
    assert ("example-programme" if fmt == "jsonld" else "example-city") in line  # JSON-LD: the node's "@id"


def test_stdin_with_input_format():
    nt = (EXAMPLES / "context.ttl")
    require_examples()
    from kb import rdfio

    data = rdfio.serialize_graph(rdfio.triples_to_graph(rdfio.read_file(nt)), rdfio.format_for("ntriples"))
    p = kb("validate", "--input-format", "ntriples", "-", stdin=data)
    assert p.returncode == 0, out(p)
    bad = kb("validate", "--input-format", "ntriples", "-", stdin=b"<a> <b> .\n")
    assert bad.returncode == 1
    assert bad.stdout.decode().splitlines()[:2] == [
        "<stdin>", "  1:1: VIOLATION does not parse as ntriples: Parser error at line 1 between columns 1 and 4: "
                   "No scheme found in an absolute IRI (line 1)"]


def test_folders_are_searched_recursively_skipping_hidden_ones(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "junk.ttl").write_bytes(b"not turtle")
    (tmp_path / "package.json").write_text('{"name": "x"}')  # .json only when named explicitly
    (tmp_path / "sub" / "deeper" / "events.ttl").write_bytes((DATA / "events.ttl").read_bytes())
    p = kb("validate", "--format", "json", str(tmp_path))
    assert p.returncode == 0, out(p)
    assert [f["path"] for f in json.loads(p.stdout)["files"]] == [str(tmp_path / "sub" / "deeper" / "events.ttl")]


# --- could not run: exit 2 ----------------------------------------------------------------------------

def test_missing_path_exits_2():
    p = kb("validate", "kb/data", "no/such/file.ttl")
    assert p.returncode == 2 and "no such file or folder: no/such/file.ttl" in out(p)


def test_no_arguments_and_bad_options_exit_2():
    assert kb("validate").returncode == 2
    assert kb("validate", "--format", "html", "kb/data").returncode == 2
    assert kb("validate", "--fail-on", "error", "kb/data").returncode == 2
    p = kb("validate", "--input-format", "n3000", "-", stdin=b"")
    assert p.returncode == 2 and "unknown RDF format" in out(p)


def test_folder_without_rdf_exits_2(tmp_path):
    (tmp_path / "readme.md").write_text("no RDF here")
    p = kb("validate", str(tmp_path))
    assert p.returncode == 2 and "no RDF files" in out(p)


def test_missing_shapes_exit_2(tmp_path):
    p = kb_patched({"SHAPES_DIR": str(tmp_path / "no-shapes")}, "validate", "kb/data")
    assert p.returncode == 2, out(p)
    assert "no shapes found" in out(p) and "Traceback" not in out(p)


def test_unknown_output_extension_exits_2(tmp_path):
    p = kb("validate", "-o", str(tmp_path / "report.html"), "kb/data")
    assert p.returncode == 2 and "--format" in out(p)


# --- reports written to files -------------------------------------------------------------------------

def test_output_file_format_from_extension_and_extra_reports(tmp_path):
    require_examples()
    args = [str(EXAMPLES / "event-EventShape-invalid.ttl"), str(EXAMPLES / "context.ttl")]
    p = kb("validate", "-o", str(tmp_path / "r.xml"), "--sarif", str(tmp_path / "r.sarif"), *args)
    assert p.returncode == 1
    assert p.stdout == b""  # the report went to the file; the summary to stderr
    assert p.stderr.decode().startswith("kb validate: FAILED")
    assert_junit_valid((tmp_path / "r.xml").read_text(encoding="utf-8"))
    sarif = assert_sarif_valid((tmp_path / "r.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"]
    p = kb("validate", "--format", "turtle", "-o", str(tmp_path / "r.txt"), *args)
    from rdflib import Graph
    from rdflib.namespace import SH

    g = Graph().parse(tmp_path / "r.txt", format="turtle")  # --format wins over the extension
    assert len(list(g.subjects(None, SH.ValidationResult))) >= 1


def test_github_output_from_a_real_run():
    require_examples()
    f = EXAMPLES / "event-EventShape-invalid.ttl"
    p = kb("validate", "--format", "github", str(f), str(EXAMPLES / "context.ttl"))
    lines = p.stdout.decode().splitlines()
    assert lines[-1].startswith("kb validate: FAILED")
    for line in lines[:-1]:
        assert line.startswith("::error file=") and ",line=" in line and "::" in line[2:], line
        assert "\n" not in line


# --- context from a store folder or a SPARQL endpoint -------------------------------------------------

@pytest.fixture(scope="module")
def store_folder(tmp_path_factory):
    from conftest import make_settings
    from kb import curated
    from kb.store import open_store

    folder = tmp_path_factory.mktemp("store")
    st = open_store(make_settings(store=str(folder)))
    assert curated.build(st) is None
    st.close()
    return folder


def test_against_a_store_folder(store_folder, tmp_path):
    import pyoxigraph as ox

    p = kb("validate", "--against", str(store_folder), "kb/data/events.ttl")
    assert p.returncode == 0, out(p)
    empty = tmp_path / "empty-store"
    ox.Store(str(empty)).flush()
    p = kb("validate", "--format", "json", "--against", str(empty), "kb/data/events.ttl")
    assert p.returncode == 1  # nothing to resolve the agencies, places and sources against
    assert any(r["constraint"].endswith("ClassConstraintComponent") for r in json.loads(p.stdout)["results"])


def test_against_an_unreachable_endpoint_exits_2():
    from conftest import free_port

    p = kb("validate", "--against", f"http://127.0.0.1:{free_port()}/sparql", "--timeout", "5", "kb/data/events.ttl")
    assert p.returncode == 2, out(p)
    assert "cannot query the SPARQL endpoint" in out(p) and "Traceback" not in out(p)


def test_against_a_missing_store_folder_exits_2(tmp_path):
    p = kb("validate", "--against", str(tmp_path / "nothing"), "kb/data/events.ttl")
    assert p.returncode == 2 and "no such store folder" in out(p)


# --- quality rules ------------------------------------------------------------------------------------

def test_qc_reports_each_failing_rule_as_a_violation(tmp_path):
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "events-have-no-organiser.rq").write_text(
        "PREFIX thb: <https://w3id.org/thb-kb/def#>\nSELECT ?event WHERE { ?event thb:organiser ?o }\n")
    (checks / "nothing-wrong.rq").write_text("SELECT ?x WHERE { ?x <https://example.org/never> ?y }\n")
    ok = kb_patched({"CHECKS_DIR": str(checks)}, "validate", "kb/data")
    assert ok.returncode == 0  # without --qc the rules do not run
    p = kb_patched({"CHECKS_DIR": str(checks)}, "validate", "--qc", "--format", "json", "kb/data")
    assert p.returncode == 1, out(p)
    (r,) = json.loads(p.stdout)["results"]
    assert r["severity"] == "violation" and "events-have-no-organiser.rq" in r["message"]
    assert r["focus"].startswith(EVENT_IRI) and r["file"] == os.path.join("kb", "data", "events.ttl") and r["line"]


def test_qc_with_the_shipped_rules_passes_on_the_curated_kb():
    p = kb("validate", "--qc", "kb/data")
    assert p.returncode == 0, out(p)


# --- the CLI stays light ------------------------------------------------------------------------------

def test_importing_the_cli_does_not_import_rdf_libraries():
    import subprocess

    code = ("import sys, kb.cli\n"
            "heavy = [m for m in ('rdflib', 'pyshacl', 'pyoxigraph', 'SPARQLWrapper') if m in sys.modules]\n"
            "print(','.join(heavy))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0 and p.stdout.strip() == "", p.stdout + p.stderr
    assert kb("validate", "--help").returncode == 0


def test_against_a_sparql_endpoint(live_server):
    """The project's own server as the KB: references resolve through one SPARQL query over HTTP."""
    p = kb("validate", "--against", f"{live_server.url}/sparql", "kb/data/events.ttl")
    assert p.returncode == 0, out(p)
    text = (DATA / "events.ttl").read_text(encoding="utf-8").replace(
        "thb:organiser agency:pt-osth", "thb:organiser agency:no-such-agency")
    p = kb("validate", "--format", "json", "--against", f"{live_server.url}/sparql", "-", "--input-format", "turtle",
           stdin=text.encode("utf-8"))
    assert p.returncode == 1
    assert [r["value"] for r in json.loads(p.stdout)["results"]] == ["<https://w3id.org/thb-kb/id/agency/no-such-agency>"]


def test_both_engines_report_the_same_findings_on_every_invalid_example():
    """`--engine sparql` (the default) and `--engine pyshacl` (the reference): the same findings, file by file
    (blank-node labels aside, which each run invents)."""
    import re

    require_examples()

    def findings(engine: str, f: Path) -> list[tuple]:
        p = kb("validate", "--engine", engine, "--format", "json", str(f), str(EXAMPLES / "context.ttl"))
        assert p.returncode == 1, f"{engine} {f.name}: {out(p)}"
        keys = ("focus", "path", "value", "severity", "constraint", "message", "nodeShape", "file", "line")
        return sorted(tuple(re.sub(r"^_:\S+", "_:", str(r.get(k))) for k in keys)
                      for r in json.loads(p.stdout)["results"])

    for f in invalid_examples():
        sparql = findings("sparql", f)
        assert sparql and sparql == findings("pyshacl", f), f.name
