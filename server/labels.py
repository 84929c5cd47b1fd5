"""Labels in the reader's language: of things, of properties (from the ontology), and of incoming links.

The reader's languages: `?lang=` first, then `Accept-Language` (q order), then English. A thing's label is
the first of rdfs:label, skos:prefLabel, dct:title, schema:name in the first of those languages that has one,
then an untagged label, then any. Property labels come from the ontology graph (cached per KB version);
properties of reused vocabularies that the ontology does not label get a label from a small table here.
Incoming links are phrased from the target's side ("organiser of"): the ontology's `owl:inverseOf` partner
label when it has one, else the table, else "<label> of".
"""

from __future__ import annotations

import re
import threading
from typing import Iterable, Mapping

import pyoxigraph as ox
from flask import Request

from kb.namespaces import M8G, PREFIXES, SCHEMA, THB, Iris

RDF_TYPE = PREFIXES["rdf"] + "type"
RDFS_LABEL = PREFIXES["rdfs"] + "label"
LABEL_PROPS = (RDFS_LABEL, PREFIXES["skos"] + "prefLabel", PREFIXES["dct"] + "title", str(SCHEMA.name))
DESCRIPTION_PROPS = (PREFIXES["dct"] + "description", str(SCHEMA.description), PREFIXES["skos"] + "definition",
                     PREFIXES["rdfs"] + "comment")
DEFAULT_LANG = "en"
_LANG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")

_D, _S, _O, _F, _P, _SK, _R = (PREFIXES[k] for k in ("dct", "schema", "org", "foaf", "prov", "skos", "rdfs"))
_T, _SPDX = "http://www.w3.org/2006/time#", "http://spdx.org/rdf/terms#"
# (en, fr) labels of reused properties, and of their inverse reading.
PROPERTY_LABELS: dict[str, tuple[str, str]] = {
    RDF_TYPE: ("type", "type"), RDFS_LABEL: ("label", "libellé"), _R + "seeAlso": ("see also", "voir aussi"),
    _R + "comment": ("comment", "commentaire"), _R + "isDefinedBy": ("defined by", "défini par"),
    _D + "description": ("description", "description"), _D + "source": ("source", "source"),
    _D + "title": ("title", "titre"), _D + "type": ("kind", "genre"), _D + "spatial": ("country or place", "pays ou lieu"),
    _D + "identifier": ("identifier", "identifiant"), _D + "issued": ("issued", "publié le"),
    _D + "date": ("date", "date"), _D + "created": ("created", "créé le"), _D + "modified": ("modified", "modifié le"),
    _D + "publisher": ("publisher", "éditeur"), _D + "creator": ("creator", "auteur"),
    _D + "license": ("licence", "licence"), _D + "isPartOf": ("part of", "fait partie de"),
    _D + "hasPart": ("has part", "comprend"), _D + "references": ("references", "fait référence à"),
    _D + "isReplacedBy": ("replaced by", "remplacé par"), _D + "replaces": ("replaces", "remplace"),
    _D + "language": ("language", "langue"), _D + "subject": ("subject", "sujet"),
    _S + "name": ("name", "nom"), _S + "subEvent": ("sessions and parts", "séances et parties"),
    _S + "superEvent": ("part of the event", "fait partie de l'événement"), _S + "startDate": ("start date", "date de début"),
    _S + "endDate": ("end date", "date de fin"), _S + "url": ("web page", "page web"),
    _S + "location": ("location", "lieu"), _S + "organizer": ("organiser", "organisateur"),
    _S + "funder": ("funder", "bailleur"), _S + "legislationIdentifier": ("identifier", "identifiant"),
    _S + "eventAttendanceMode": ("attendance mode (schema.org)", "mode de participation (schema.org)"),
    _S + "description": ("description", "description"), _S + "sameAs": ("same as", "identique à"),
    _S + "addressCountry": ("country", "pays"), _S + "about": ("about", "sujet"),
    str(M8G.hasParticipation): ("participation", "participation"),
    str(M8G.hasParticipant): ("participant", "participant"), str(M8G.role): ("role", "rôle"),
    str(M8G["format"]): ("attendance mode", "mode de participation"),  # (M8G.format would be str.format)
    str(M8G["subEvent"]): ("sessions and parts", "séances et parties"),
    str(M8G["parentEvent"]): ("part of the event", "fait partie de l'événement"),
    _D + "extent": ("size", "taille"), _D + "format": ("format", "format"),
    _T + "hasTime": ("time", "période"), _T + "hasBeginning": ("beginning", "début"), _T + "hasEnd": ("end", "fin"),
    _T + "inXSDDate": ("date", "date"),
    _P + "startedAtTime": ("started", "commencé le"), _P + "endedAtTime": ("ended", "terminé le"),
    _P + "used": ("used", "a utilisé"), _P + "wasAssociatedWith": ("run by", "mené par"),
    _P + "wasInfluencedBy": ("influenced by", "influencé par"),
    _SPDX + "checksum": ("checksum", "somme de contrôle"), _SPDX + "algorithm": ("algorithm", "algorithme"),
    _SPDX + "checksumValue": ("value", "valeur"),
    PREFIXES["owl"] + "versionInfo": ("version", "version"),
    _S + "containedInPlace": ("in", "dans"), _S + "honorificPrefix": ("title", "civilité"),
    _S + "locationCreated": ("place of publication", "lieu de publication"),
    _O + "subOrganizationOf": ("part of organisation", "fait partie de l'organisation"),
    _O + "classification": ("kind of agency", "type d'organisme"), _O + "identifier": ("identifier", "identifiant"),
    _O + "resultedFrom": ("resulted from", "résulte de"), _O + "resultingOrganization": ("resulting organisation", "organisation résultante"),
    _O + "changedBy": ("changed by", "modifié par"), _O + "hasMember": ("members", "membres"),
    _O + "memberOf": ("member of", "membre de"), _O + "hasSubOrganization": ("units", "unités"), _O + "originalOrganization": ("original organisation", "organisation d'origine"),
    _F + "homepage": ("homepage", "site web"), _F + "primaryTopic": ("primary topic", "sujet principal"),
    _F + "name": ("name", "nom"), _F + "page": ("page", "page"),
    _P + "wasGeneratedBy": ("generated by", "produit par"), _P + "qualifiedAssociation": ("association", "association"),
    _P + "hadRole": ("role", "rôle"), _P + "agent": ("agent", "agent"), _P + "wasDerivedFrom": ("derived from", "dérivé de"),
    _SK + "prefLabel": ("name", "nom"), _SK + "altLabel": ("also known as", "autre nom"),
    _SK + "definition": ("definition", "définition"), _SK + "inScheme": ("in scheme", "dans le schéma"),
    _SK + "exactMatch": ("exact match", "correspondance exacte"), _SK + "closeMatch": ("close match", "correspondance proche"),
    _SK + "broader": ("broader", "plus général"), _SK + "narrower": ("narrower", "plus spécifique"),
    _SK + "topConceptOf": ("top concept of", "concept de tête de"), _SK + "hasTopConcept": ("top concept", "concept de tête"),
    _SK + "notation": ("notation", "notation"),
    PREFIXES["owl"] + "sameAs": ("same as", "identique à"),
    PREFIXES["eli"] + "id_local": ("identifier", "identifiant"),
    PREFIXES["eli"] + "date_document": ("date of adoption", "date d'adoption"),
    PREFIXES["eli"] + "passed_by": ("adopted by", "adoptée par"),
    PREFIXES["eli"] + "date_entry_into_force": ("entry into force", "entrée en vigueur"),
    PREFIXES["eli"] + "is_about": ("about", "sujet"),
    PREFIXES["locn"] + "address": ("address", "adresse"),
}
INVERSE_LABELS: dict[str, tuple[str, str]] = {
    str(THB.organiser): ("organiser of", "organisateur de"),
    str(THB.host): ("host of", "hôte de"),
    str(THB.partOfAction): ("includes the event", "comprend l'événement"),
    str(THB.partOfProgramme): ("includes the action", "comprend l'action"),
    str(THB.appliesConvention): ("applied by", "appliquée par"),
    str(THB.beneficiary): ("beneficiary of", "bénéficiaire de"),
    str(THB.contributesTo): ("prepared at", "préparé lors de"),
    str(THB.participantsFrom): ("home of participants in", "lieu d'origine de participants à"),
    str(M8G.hasParticipant): ("participant in", "participant à"),
    _O + "subOrganizationOf": ("has the unit", "a pour unité"),
    _O + "classification": ("kind of", "type de"), _O + "hasMember": ("member of", "membre de"),
    _O + "memberOf": ("members", "membres"),
    _D + "source": ("source of", "source de"),
    _D + "type": ("kind of", "genre de"),
    _D + "spatial": ("place of", "lieu de"),
    _D + "isPartOf": ("has part", "comprend"),
    _D + "hasPart": ("part of", "fait partie de"),
    _D + "publisher": ("publisher of", "éditeur de"),
    _D + "isReplacedBy": ("replaces", "remplace"), _D + "replaces": ("replaced by", "remplacé par"),
    _S + "location": ("location of", "lieu de"), _S + "subEvent": ("part of the event", "fait partie de l'événement"),
    _S + "superEvent": ("sessions and parts", "séances et parties"),
    _S + "organizer": ("organiser of", "organisateur de"),
    str(M8G.role): ("role in", "rôle dans"),
    str(M8G["format"]): ("attendance mode of", "mode de participation de"),
    str(M8G["subEvent"]): ("part of the event", "fait partie de l'événement"),
    str(M8G["parentEvent"]): ("sessions and parts", "séances et parties"),
    _T + "hasTime": ("time of", "période de"),
    _S + "containedInPlace": ("contains", "contient"),
    _P + "used": ("used by", "utilisé par"), _P + "wasAssociatedWith": ("ran", "a mené"),
    _P + "wasGeneratedBy": ("generated", "a produit"),
    _P + "agent": ("agent in", "agent dans"),
    _P + "hadRole": ("role in", "rôle dans"),
    _SK + "inScheme": ("contains", "contient"),
    _SK + "topConceptOf": ("has the top concept", "a pour concept de tête"),
    _SK + "broader": ("narrower", "plus spécifique"),
    PREFIXES["owl"] + "sameAs": ("same as", "identique à"),
    PREFIXES["eli"] + "passed_by": ("adopted", "a adopté"),
}


def reader_languages(request: Request) -> list[str]:
    """Languages the reader asked for, best first, always ending with English."""
    langs: list[str] = []
    asked = request.args.get("lang", "")
    if asked and _LANG.match(asked) and len(asked) <= 35:
        langs.append(asked.lower())
    for value, _q in request.accept_languages:
        if value != "*" and _LANG.match(value):
            langs.append(value.lower())
    out: list[str] = []
    for lang in langs + [DEFAULT_LANG]:
        for form in (lang, lang.split("-")[0]):
            if form not in out:
                out.append(form)
    return out[:8]


def explicit_lang(request: Request) -> str | None:
    asked = request.args.get("lang", "")
    return asked.lower() if asked and _LANG.match(asked) and len(asked) <= 35 else None


def pick(values: Iterable[tuple[int, str, str]], langs: list[str]) -> tuple[str, str] | None:
    """(rank, lang, text) candidates -> (text, lang): reader's languages in order, then untagged, then any."""
    best: tuple[tuple[int, int], str, str] | None = None
    n = len(langs)
    for rank, lang, text in values:
        lang_l = lang.lower()
        if lang_l in langs:
            lscore = langs.index(lang_l)
        elif lang_l and lang_l.split("-")[0] in langs:
            lscore = langs.index(lang_l.split("-")[0])
        elif not lang_l:
            lscore = n
        else:
            lscore = n + 1
        key = (lscore, rank)
        if best is None or key < best[0] or (key == best[0] and text < best[1]):
            best = (key, text, lang)
    return None if best is None else (best[1], best[2])


def local_name(iri: str) -> str:
    from urllib.parse import unquote

    tail = re.split(r"[#/]", iri.rstrip("/#"))[-1] or iri
    tail = unquote(tail)
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", tail).replace("-", " ").replace("_", " ")
    return words.strip() or iri


def _fr(pair: tuple[str, str], langs: list[str]) -> str:
    for lang in langs:
        if lang == "fr":
            return pair[1]
        if lang == "en":
            return pair[0]
    return pair[0]


class Vocabulary:
    """Labels of ontology terms (properties, classes) and inverse pairs, read once per KB version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self.labels: dict[str, list[tuple[int, str, str]]] = {}
        self.inverse: dict[str, str] = {}

    def refresh(self, store, iris: Iris, version: str) -> "Vocabulary":
        if self._version == version:
            return self
        with self._lock:
            if self._version == version:
                return self
            labels: dict[str, list[tuple[int, str, str]]] = {}
            g = iris.graph("ontology")
            q = (f"SELECT ?t ?l WHERE {{ GRAPH <{g}> {{ ?t <{RDFS_LABEL}> ?l FILTER(isIRI(?t)) }} }}")
            for row in store.query(q):
                lit = row["l"]
                labels.setdefault(row["t"].value, []).append((0, lit.language or "", lit.value))
            inverse: dict[str, str] = {}
            q = (f"SELECT ?a ?b WHERE {{ GRAPH <{g}> {{ ?a <{PREFIXES['owl']}inverseOf> ?b "
                 f"FILTER(isIRI(?a) && isIRI(?b)) }} }}")
            for row in store.query(q):
                inverse[row["a"].value] = row["b"].value
                inverse.setdefault(row["b"].value, row["a"].value)
            self.labels, self.inverse, self._version = labels, inverse, version
        return self

    def property_label(self, iri: str, langs: list[str]) -> str:
        if iri in self.labels:
            picked = pick(self.labels[iri], langs)
            if picked:
                return picked[0]
        if iri in PROPERTY_LABELS:
            return _fr(PROPERTY_LABELS[iri], langs)
        return local_name(iri)

    def inverse_label(self, iri: str, langs: list[str]) -> str:
        if iri in INVERSE_LABELS:
            return _fr(INVERSE_LABELS[iri], langs)
        partner = self.inverse.get(iri)
        if partner:
            return self.property_label(partner, langs)
        base = self.property_label(iri, langs)
        return (base + " de") if langs and langs[0] == "fr" else (base + " of")


_LABELS_IN = ", ".join(f"<{p}>" for p in LABEL_PROPS)  # FILTER IN: much faster than a VALUES join on ?p


def label_triples(store, iris: Iterable[str]) -> list[ox.Triple]:
    """The label triples (rdfs:label, skos:prefLabel, dct:title, schema:name) of these IRIs, in one query."""
    values = " ".join(f"<{i}>" for i in sorted(set(iris)) if ">" not in i)
    if not values:
        return []
    q = f"SELECT DISTINCT ?x ?p ?l WHERE {{ VALUES ?x {{ {values} }} ?x ?p ?l FILTER(?p IN ({_LABELS_IN})) }}"
    return in_term_order(ox.Triple(x, p, lit) for x, p, lit in store.query(q))  # by position: much cheaper than by name


def in_term_order(rows) -> list:
    """Triples or result rows sorted by their terms: a document built from any store (the disk store, a
    worker's in-memory copy) lists them in the same order, so the same version gives the same bytes.
    Triples are sorted by their N-Triples line, one string each (a third of the cost of a tuple of three): the
    same order, because a subject's or predicate's text is never a prefix of another's followed by a character
    below the space (IRIs end with `>`, which they cannot hold; blank node labels are followed by a space)."""
    rows = list(rows)
    if rows and isinstance(rows[0], ox.Triple):
        return sorted(rows, key=str)
    return sorted(rows, key=lambda r: tuple(map(str, r)))


class LabelCache:
    """IRI -> its label triples, for one KB version at a time, filled lazily from `label_triples`.

    Documents of different things mention the same predicates, concepts, agencies and places: their
    labels are read once per KB version instead of once per document. IRIs without labels are cached too
    (an empty tuple). Bounded: when it holds `max_entries` IRIs it starts again empty. A new KB version
    starts a new table (so a write is seen at once); readers swap tables without a lock on the hot path.
    """

    def __init__(self, max_entries: int = 100_000):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._current: tuple[str | None, dict[str, tuple[ox.Triple, ...]]] = (None, {})

    def _table(self, version: str) -> dict[str, tuple[ox.Triple, ...]]:
        current = self._current
        if current[0] == version:
            return current[1]
        with self._lock:
            if self._current[0] != version:
                self._current = (version, {})
            return self._current[1]

    def triples(self, store, version: str, iris: Iterable[str]) -> list[ox.Triple]:
        """The label triples of these IRIs (as `label_triples` gives them), the cached ones without a query."""
        table = self._table(version)
        wanted = sorted(set(iris))
        got = {i: table.get(i) for i in wanted}
        missing = [i for i, hit in got.items() if hit is None]
        if missing:
            found: dict[str, list[ox.Triple]] = {}
            for t in label_triples(store, missing):
                found.setdefault(t.subject.value, []).append(t)
            if len(table) + len(missing) > self.max_entries:
                with self._lock:
                    if self._current[1] is table:
                        self._current = (version, {})
                    table = self._current[1] if self._current[0] == version else {}
            for i in missing:
                got[i] = table[i] = tuple(found.get(i, ()))
        return [t for i in wanted for t in got[i]]

    def clear(self) -> None:
        with self._lock:
            self._current = (None, {})


def labels_of(store, iris: Iterable[str]) -> dict[str, list[tuple[int, str, str]]]:
    """{iri: [(rank, lang, text)]} of these IRIs' labels, ready for `pick`."""
    return triples_label_map(label_triples(store, iris))


def best_labels(store, iris: Iterable[str], langs: list[str]) -> dict[str, str]:
    """The label of each IRI in the reader's languages (the rule of `pick`); IRIs without a label are left out."""
    out = {}
    for iri, values in labels_of(store, iris).items():
        got = pick(values, langs)
        if got:
            out[iri] = got[0]
    return out


_RANK = {p: i for i, p in enumerate(LABEL_PROPS)}


def triples_label_map(triples: Iterable[ox.Triple]) -> dict[str, list[tuple[int, str, str]]]:
    """Label triples -> {iri: [(rank, lang, text)]}, ready for `pick` (rank: the label property's place in
    LABEL_PROPS)."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    literal = ox.Literal
    for subject, predicate, lit in triples:
        if type(lit) is not literal:
            continue
        out.setdefault(subject.value, []).append((_RANK.get(predicate.value, 9), lit.language or "", lit.value))
    return out
