"""Provenance records of imports: one `prov:Activity` per write, in the metadata graph `{base}graph/meta`.

A record says who (an identifier derived from the write token, never the token itself, or "command line"),
when, what (source names, media types, SHA-256 of the input), where (target graphs, replace/merge/drop),
how much (triples added and removed) and the validation outcome. It is written in the same atomic store
update as the data, so a record exists if and only if its data does.

Record IRI: `{base}id/import/{id}`; its agent and sources are fragments of it (`#agent`, `#source-1`), so
dereferencing the record describes them too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

import pyoxigraph as ox

from .namespaces import THB, Iris

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
PROV = "http://www.w3.org/ns/prov#"
DCT = "http://purl.org/dc/terms/"
SPDX = "http://spdx.org/rdf/terms#"
XSD = "http://www.w3.org/2001/XMLSchema#"
T = {name: ox.NamedNode(THB + name) for name in
     ("targetGraph", "importMode", "triplesAdded", "triplesRemoved", "validationOutcome")}


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def token_id(token: str | None) -> str | None:
    """A stable identifier of a write token that does not reveal it."""
    if not token:
        return None
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


def new_import_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dt%H%M%S") + "-" + secrets.token_hex(4)


def _dt(value: dt.datetime) -> ox.Literal:
    return ox.Literal(value.isoformat(timespec="microseconds"), datatype=_n(XSD + "dateTime"))


def _int(value: int) -> ox.Literal:
    return ox.Literal(str(int(value)), datatype=_n(XSD + "integer"))


@dataclass
class SourceInfo:
    name: str
    media_type: str
    sha256: str
    size: int


@dataclass
class Record:
    import_id: str
    started: dt.datetime
    ended: dt.datetime
    agent: str                      # "token sha256:..." or "command line (user x)" or "curated build"
    mode: str                       # replace | merge | drop
    graphs: list[str]
    added: int
    removed: int
    outcome: str                    # "conforms", "conforms with N warning(s)", "not validated"
    sources: list[SourceInfo] = field(default_factory=list)

    def iri(self, iris: Iris) -> str:
        return f"{iris.base}id/import/{self.import_id}"

    def quads(self, iris: Iris) -> list[ox.Quad]:
        g = _n(iris.meta_graph)
        rec = _n(self.iri(iris))
        agent = _n(self.iri(iris) + "#agent")
        out: list[tuple] = [
            (rec, RDF_TYPE, _n(PROV + "Activity")),
            (rec, RDFS_LABEL, ox.Literal(f"Import {self.import_id} ({self.mode}) into "
                                         f"{', '.join(self.graphs) or 'no graph'}", language="en")),
            (rec, _n(PROV + "startedAtTime"), _dt(self.started)),
            (rec, _n(PROV + "endedAtTime"), _dt(self.ended)),
            (rec, _n(PROV + "wasAssociatedWith"), agent),
            (agent, RDF_TYPE, _n(PROV + "Agent")),
            (agent, RDFS_LABEL, ox.Literal(self.agent, language="en")),
            (rec, T["importMode"], ox.Literal(self.mode)),
            (rec, T["triplesAdded"], _int(self.added)),
            (rec, T["triplesRemoved"], _int(self.removed)),
            (rec, T["validationOutcome"], ox.Literal(self.outcome)),
        ]
        for graph in self.graphs:
            out.append((rec, T["targetGraph"], _n(graph)))
        for i, src in enumerate(self.sources, 1):
            node = _n(f"{self.iri(iris)}#source-{i}")
            checksum = _n(f"{self.iri(iris)}#source-{i}-sha256")
            out += [
                (rec, _n(PROV + "used"), node),
                (node, RDF_TYPE, _n(PROV + "Entity")),
                (node, RDFS_LABEL, ox.Literal(src.name, language="en")),
                (node, _n(DCT + "format"), ox.Literal(src.media_type)),
                (node, _n(DCT + "extent"), ox.Literal(f"{src.size} bytes")),
                (node, _n(SPDX + "checksum"), checksum),
                (checksum, RDF_TYPE, _n(SPDX + "Checksum")),
                (checksum, _n(SPDX + "algorithm"), _n(SPDX + "checksumAlgorithm_sha256")),
                (checksum, _n(SPDX + "checksumValue"), ox.Literal(src.sha256)),
            ]
        return [ox.Quad(s, p, o, g) for s, p, o in out]


HISTORY_QUERY = """
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX thb: <%(thb)s>
PREFIX spdx: <http://spdx.org/rdf/terms#>
SELECT ?rec ?started ?ended ?agent ?mode ?added ?removed ?outcome
       (GROUP_CONCAT(DISTINCT STR(?graph); SEPARATOR=" ") AS ?graphs)
       (GROUP_CONCAT(DISTINCT CONCAT(?srcname, " sha256:", ?sum); SEPARATOR=" | ") AS ?sources)
WHERE { GRAPH <%(meta)s> {
  ?rec a prov:Activity ; prov:startedAtTime ?started ; prov:endedAtTime ?ended ;
       thb:importMode ?mode ; thb:triplesAdded ?added ; thb:triplesRemoved ?removed ;
       thb:validationOutcome ?outcome .
  OPTIONAL { ?rec prov:wasAssociatedWith/rdfs:label ?agent }
  OPTIONAL { ?rec thb:targetGraph ?graph }
  OPTIONAL { ?rec prov:used ?src . ?src rdfs:label ?srcname ; spdx:checksum/spdx:checksumValue ?sum }
  %(filter)s
} }
GROUP BY ?rec ?started ?ended ?agent ?mode ?added ?removed ?outcome
ORDER BY DESC(?started)
"""


def history(store, *, graph: str | None = None, limit: int | None = None) -> list[dict]:
    """Import records, newest first (optionally only those that wrote `graph`)."""
    flt = f"FILTER EXISTS {{ ?rec thb:targetGraph <{_n(graph).value}> }}" if graph else ""
    q = HISTORY_QUERY % {"thb": str(THB), "meta": store.iris.meta_graph, "filter": flt}
    if limit:
        q += f" LIMIT {int(limit)}"
    rows = []
    meta = [store.iris.meta_graph]  # an explicit dataset: Virtuoso's GRAPH <iri> under exclusion pragmas matches nothing
    for r in store.query(q, default_graph=meta, named_graphs=meta):
        def v(name):
            term = r[name]
            return None if term is None else term.value
        rows.append({
            "record": v("rec"), "started": v("started"), "ended": v("ended"), "agent": v("agent"),
            "mode": v("mode"), "added": int(v("added")), "removed": int(v("removed")),
            "outcome": v("outcome"), "graphs": (v("graphs") or "").split(),
            "sources": [s for s in (v("sources") or "").split(" | ") if s],
        })
    return rows
