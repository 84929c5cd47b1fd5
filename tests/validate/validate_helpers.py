"""Helpers for tests/validate: running the real `kb` CLI in a subprocess, and a synthetic report graph."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "shapes" / "examples"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

# A report as kb validate builds it, written by hand: two files, four findings of every kind, and text that
# needs escaping in every format (a comma, a colon, a percent sign, a newline, <&> for XML).
SYNTHETIC = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix kbv: <https://w3id.org/thb-kb/def/validate#> .
@prefix thbsh: <https://w3id.org/thb-kb/shapes#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

_:report a sh:ValidationReport ;
    sh:conforms false ;
    kbv:failOn sh:Violation ;
    kbv:checkedShape thbsh:EventShape , thbsh:AgencyShape ;
    kbv:checkedFile _:fa , _:fb ;
    sh:result _:r1 , _:r2 , _:r3 , _:r4 .

_:fa kbv:path "data/new events.ttl" ; kbv:format "turtle" ; kbv:triples 40 .
_:fb kbv:path "data/broken.nt" ; kbv:format "ntriples" ; kbv:triples 0 .

_:r1 a sh:ValidationResult ;
    sh:focusNode <https://w3id.org/thb-kb/id/event/2024-05-02-workshop> ;
    sh:resultPath <https://w3id.org/thb-kb/def#organiser> ;
    sh:value <https://w3id.org/thb-kb/id/agency/nope> ;
    sh:resultSeverity sh:Violation ;
    sh:sourceShape _:ps1 ;
    sh:sourceConstraintComponent sh:ClassConstraintComponent ;
    sh:resultMessage "thb:organiser must point to a thb:Agency, 100% <&> sure:\\nsecond line"@en ;
    kbv:nodeShape thbsh:EventShape ; kbv:file "data/new events.ttl" ; kbv:line 12 .

_:r2 a sh:ValidationResult ;
    sh:focusNode <https://w3id.org/thb-kb/id/event/2024-05-02-workshop> ;
    sh:resultPath <http://purl.org/dc/terms/description> ;
    sh:resultSeverity sh:Warning ;
    sh:sourceShape _:ps2 ;
    sh:sourceConstraintComponent sh:MinCountConstraintComponent ;
    sh:resultMessage "An event should have a language-tagged dct:description."@en ;
    kbv:nodeShape thbsh:EventShape ; kbv:file "data/new events.ttl" ; kbv:line 10 .

_:r3 a sh:ValidationResult ;
    sh:focusNode _:fb ;
    sh:resultSeverity sh:Violation ;
    sh:sourceShape kbv:WellFormedFile ;
    sh:sourceConstraintComponent kbv:ReadableRDF ;
    sh:resultMessage "data/broken.nt does not parse as ntriples: expected an object" ;
    kbv:nodeShape kbv:WellFormedFile ; kbv:file "data/broken.nt" ; kbv:line 3 ; kbv:column 7 .

_:r4 a sh:ValidationResult ;
    sh:focusNode <https://w3id.org/thb-kb/id/agency/x> ;
    sh:resultSeverity sh:Info ;
    sh:sourceShape thbsh:AgencyShape ;
    sh:sourceConstraintComponent sh:SPARQLConstraintComponent ;
    sh:resultMessage "Just so you know." .
"""


def kb(*args: str, cwd: Path | str = ROOT, stdin: bytes | None = None, env: dict | None = None,
       timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real CLI (`python -m kb.cli`), as a contributor or a CI job would."""
    return subprocess.run([sys.executable, "-m", "kb.cli", *args], cwd=cwd, input=stdin, capture_output=True,
                          timeout=timeout, env=env)


def kb_patched(patches: dict[str, str], *args: str, cwd: Path | str = ROOT) -> subprocess.CompletedProcess:
    """Run the CLI with some kb.paths folders pointed elsewhere (a missing shapes folder, extra QC rules)."""
    code = ("import sys, pathlib, kb.paths as p\n"
            + "".join(f"p.{name} = pathlib.Path({value!r})\n" for name, value in patches.items())
            + "from kb.cli import cli\ncli(sys.argv[1:], prog_name='kb')\n")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, timeout=120)


def synthetic_report():
    from rdflib import Graph

    from kb.reports import view

    return view(Graph().parse(data=SYNTHETIC, format="turtle"))


def require_examples() -> Path:
    from conftest import require  # tests/conftest.py

    require((EXAMPLES / "context.ttl").is_file(), "shapes/examples (written with the shapes)")
    return EXAMPLES
