"""What an entity page shows: the document's triples turned into labelled, grouped, linked values.

Data is never markup: every value goes to the template as plain text (Jinja escapes it), and a value is a
link only when it is an `http(s)` IRI (a `javascript:` IRI is shown as text). The schema.org JSON-LD block
is serialised with `<`, `>` and `&` escaped, so a label cannot close the script element.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyoxigraph as ox

from kb.namespaces import M8G, PREFIXES, THB

from .documents import Document, is_anon
from .labels import DESCRIPTION_PROPS, LABEL_PROPS, RDF_TYPE, Vocabulary, local_name, pick, triples_label_map
from .timeline import format_date

XSD = PREFIXES["xsd"]
DATE_TYPES = {XSD + "date", XSD + "dateTime", XSD + "gYearMonth"}
_D, _S, _O = PREFIXES["dct"], PREFIXES["schema"], PREFIXES["org"]

# The page's own words in French (the languages the ontology labels are in: en, fr).
UI_FR = {"Identifier: ": "Identifiant : ", "Timeline": "Chronologie",
         "This is an earlier version of this description, as it was on":
             "Ceci est une version antérieure de cette description, telle qu'elle était le",
         "See the current version": "Voir la version actuelle", "All versions": "Toutes les versions",
         "Earlier versions of this description": "Versions antérieures de cette description",
         "Only the first events are drawn.": "Seuls les premiers événements sont dessinés.",
         "Referred to by": "Mentionné par", "Pages of this description": "Pages de cette description",
         "Where these statements come from": "Provenance de ces déclarations", "statement": "déclaration",
         "statements": "déclarations", "This page as data": "Cette page en données",
         "Download this description as": "Télécharger cette description en",
         "Timeline of the {n} events of {title}": "Chronologie des {n} événements de {title}"}


def ui_words(langs: list[str]):
    """The translation function of the page's own words for the reader's first language."""
    if langs and langs[0].split("-")[0] == "fr":
        return lambda text: UI_FR.get(text, text)
    return lambda text: text


# Property -> group; groups are shown in this order, unlisted properties under "More".
GROUPS = ("Overview", "Dates", "Relations", "Participants", "Goals and results", "Identifiers and links", "Sources", "More")
GROUP_LABELS_FR = {"Overview": "Aperçu", "Dates": "Dates", "Relations": "Relations", "Participants": "Participants",
                   "Goals and results": "Objectifs et résultats", "Identifiers and links": "Identifiants et liens",
                   "Sources": "Sources", "More": "Autres propriétés"}
PROPERTY_GROUP = {
    RDF_TYPE: "Overview", **{p: "Overview" for p in (*LABEL_PROPS, *DESCRIPTION_PROPS)}, _D + "type": "Overview", str(M8G["format"]): "Overview", _O + "classification": "Overview",
    PREFIXES["skos"] + "altLabel": "Overview", PREFIXES["eli"] + "id_local": "Overview", _D + "identifier": "Overview",
    _S + "startDate": "Dates", _S + "endDate": "Dates", _D + "date": "Dates", _D + "issued": "Dates",
    _D + "created": "Dates", _D + "modified": "Dates", str(THB.expectedCompletion): "Dates",
    PREFIXES["eli"] + "date_document": "Dates", PREFIXES["eli"] + "date_entry_into_force": "Dates",
    str(M8G.hasParticipation): "Participants", str(THB.organiser): "Participants", str(THB.host): "Participants",
    str(THB.beneficiary): "Participants", PREFIXES["prov"] + "qualifiedAssociation": "Participants",
    str(THB.goal): "Goals and results", str(THB.expectedResult): "Goals and results", str(THB.method): "Goals and results",
    str(THB.targetGroup): "Goals and results",
    PREFIXES["owl"] + "sameAs": "Identifiers and links", PREFIXES["skos"] + "exactMatch": "Identifiers and links",
    PREFIXES["skos"] + "closeMatch": "Identifiers and links", _S + "url": "Identifiers and links",
    PREFIXES["foaf"] + "homepage": "Identifiers and links", PREFIXES["rdfs"] + "seeAlso": "Identifiers and links",
    _S + "sameAs": "Identifiers and links",
    _D + "source": "Sources",
}
ORDER = {p: i for i, p in enumerate(PROPERTY_GROUP)}
# who and in which role come first in a participation or an association
FIRST = {p: i for i, p in enumerate((str(M8G.hasParticipant), PREFIXES["prov"] + "agent", str(M8G.role),
                                     PREFIXES["prov"] + "hadRole"))}
RELATION_NS = (str(THB), _O, _D, _S, str(M8G), PREFIXES["prov"], PREFIXES["eli"], PREFIXES["skos"])
IMAGE_PROPS = frozenset((PREFIXES["foaf"] + "depiction", PREFIXES["foaf"] + "img", PREFIXES["foaf"] + "logo",
                         _S + "image", _S + "logo", _S + "thumbnailUrl"))
SCHEMA_TYPES = {"Action": "Project", "Programme": "FundingScheme", "Convention": "Legislation",
                "Agency": "GovernmentOrganization", "Event": "Event", "Report": "Report",
                "SourceDocument": "CreativeWork", "Place": "Place", "Person": "Person"}


_UNSET = object()


@dataclass
class Value:
    text: str
    href: str | None = None
    external: bool = False
    lang: str | None = None
    note: str | None = None          # a datatype or language shown small
    iri: str | None = None
    nested: list["Row"] = field(default_factory=list)
    anchor: str | None = None        # the fragment of a hash IRI of the subject, where its description is
    image_alt: str | None = None     # set on pictures (IMAGE_PROPS): shown as an image with this alternative


@dataclass
class Row:
    prop: str
    label: str
    values: list[Value]


def curie(iri: str) -> str:
    """prefix:local for IRIs in a known namespace (schema:Event), else the IRI."""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns):
            local = iri[len(ns):]
            if local and all(c.isalnum() or c in "_-." for c in local):
                return f"{prefix}:{local}"
    return iri


def is_web_iri(iri: str) -> bool:
    return iri.lower().startswith(("http://", "https://"))


class EntityView:
    def __init__(self, doc: Document, vocab: Vocabulary, imap, langs: list[str], script_root: str, lang_q: str | None):
        self.doc, self.vocab, self.imap, self.langs = doc, vocab, imap, langs
        self.script_root, self.lang_q = script_root, lang_q
        own = [t for t in doc.head if t.predicate.value in LABEL_PROPS]
        self.labels = triples_label_map([*own, *doc.labels])
        self.bnodes: dict = {}
        self._hrefs: dict[str, str | None] = {}
        self.anchors: set[str] = set()
        self.title: str | None = None
        for t in (*doc.closure, *doc.via):
            if is_anon(t.subject, doc.anon_prefix):
                self.bnodes.setdefault(t.subject, []).append(t)

    # -- values ---------------------------------------------------------------------------------------
    def label(self, iri: str) -> str | None:
        got = pick(self.labels.get(iri, []), self.langs)
        if got:
            return got[0]
        if iri in self.vocab.labels:
            return self.vocab.property_label(iri, self.langs)
        return None

    def href(self, iri: str) -> str | None:
        """The link of an IRI on this page (its local page, with the reader's ?lang=), remembered: pages show
        the same things several times (values, incoming links, the timeline)."""
        known = self._hrefs.get(iri, _UNSET)
        if known is _UNSET:
            known = self._hrefs[iri] = self._href(iri)
        return known

    def _href(self, iri: str) -> str | None:
        local = self.imap.local_url(iri, self.script_root)
        if local is not None:
            if self.lang_q and "#" not in local:
                local += ("&" if "?" in local else "?") + "lang=" + self.lang_q
            return local
        return iri if is_web_iri(iri) else None

    def value(self, term, depth: int = 0) -> Value:
        if is_anon(term, self.doc.anon_prefix):
            # a participation or association: its own statements, without its (generic) type
            triples = [t for t in self.bnodes.get(term, []) if t.predicate.value != RDF_TYPE]
            rows = self.rows(triples, depth + 1) if depth < 4 else []
            sort_text = " ".join(v.text for r in rows for v in r.values)
            anchor = None
            if isinstance(term, ox.NamedNode) and term.value.startswith(self.doc.subject + "#"):
                anchor = term.value[len(self.doc.subject) + 1:]
                if anchor in self.anchors or not anchor:
                    anchor = None  # one element per id
                else:
                    self.anchors.add(anchor)
            return Value(sort_text, nested=rows, anchor=anchor, iri=term.value if anchor else None)
        if isinstance(term, ox.NamedNode):
            iri = term.value
            text = self.label(iri)
            return Value(text or (local_name(iri) if self.imap.relative(iri) is not None else curie(iri)),
                         href=self.href(iri), external=self.imap.relative(iri) is None and is_web_iri(iri), iri=iri)
        dt = term.datatype.value
        if dt in DATE_TYPES:
            return Value(format_date(term.value, self.langs), note=None)
        if dt == XSD + "anyURI" and is_web_iri(term.value):
            return Value(term.value, href=term.value, external=True)
        lang = term.language
        note = None
        if lang and lang.split("-")[0] != self.langs[0].split("-")[0]:
            note = lang
        return Value(term.value, lang=lang, note=note)

    def rows(self, triples, depth: int = 0, *, skip=lambda t: False) -> list[Row]:
        by_prop: dict[str, list] = {}
        for t in triples:
            p = t.predicate.value
            if skip(t):
                continue
            by_prop.setdefault(p, []).append(t.object)
        rows = []
        for p, objs in by_prop.items():
            values = [self.value(o, depth) for o in objs]
            values.sort(key=lambda v: (v.external, v.text.casefold(), v.iri or ""))
            label = self.vocab.property_label(p, self.langs)
            if p in IMAGE_PROPS:
                for v in values:
                    if v.external and v.iri and is_web_iri(v.iri):
                        v.image_alt = f"{label}: {self.title}" if self.title else label
            rows.append(Row(p, label, values))
        rows.sort(key=lambda r: (FIRST.get(r.prop, len(FIRST)), ORDER.get(r.prop, len(ORDER)), r.label.casefold()))
        return rows

    # -- the page -----------------------------------------------------------------------------------------
    def context(self) -> dict:
        doc = self.doc
        subject_iri = doc.subject
        title = pick(self.labels.get(subject_iri, []), self.langs)
        title_text = self.title = title[0] if title else local_name(subject_iri)
        desc_candidates = [(DESCRIPTION_PROPS.index(t.predicate.value), t.object.language or "", t.object.value)
                           for t in doc.head if t.predicate.value in DESCRIPTION_PROPS and isinstance(t.object, ox.Literal)]
        description = pick(desc_candidates, self.langs)
        shown = {title_text, description[0] if description else None}
        text_props = set(LABEL_PROPS) | set(DESCRIPTION_PROPS)

        # The title and description shown above are not repeated, nor is a name that several label
        # properties repeat (rdfs:label and dct:title often agree); other names and languages are listed.
        first_holder: dict[tuple[str, str], str] = {}
        for t in sorted(doc.out, key=lambda t: LABEL_PROPS.index(t.predicate.value) if t.predicate.value in LABEL_PROPS else 9):
            if t.predicate.value in LABEL_PROPS and isinstance(t.object, ox.Literal):
                first_holder.setdefault((t.object.language or "", t.object.value), t.predicate.value)

        def skip(t) -> bool:
            if t.predicate.value not in text_props or not isinstance(t.object, ox.Literal):
                return False
            if t.object.value in shown:
                return True
            holder = first_holder.get((t.object.language or "", t.object.value))
            return holder is not None and holder != t.predicate.value
        grouped: dict[str, list[Row]] = {g: [] for g in GROUPS}
        for row in self.rows(doc.out, skip=skip):
            group = PROPERTY_GROUP.get(row.prop)
            if group is None:
                group = "Relations" if any(v.iri for v in row.values) and row.prop.startswith(RELATION_NS) else "More"
            grouped[group].append(row)
        fr = self.langs[0] == "fr"
        groups = [(GROUP_LABELS_FR[g] if fr else g, rows) for g, rows in grouped.items() if rows]
        types = doc.types()
        thb_types = [t[len(str(THB)):] for t in types if t.startswith(str(THB))]
        type_labels = [self.label(t) or local_name(t) for t in types if t.startswith(str(THB))] or \
                      [self.label(t) or local_name(t) for t in types[:1]]
        return {
            "iri": subject_iri, "title": title_text, "title_lang": title[1] if title else None,
            "description": description[0] if description else None,
            "description_lang": description[1] if description else None,
            "types": type_labels, "kind": thb_types[0] if thb_types else None,
            "groups": groups, "incoming": self.incoming(),
            "schema_jsonld": self.schema_jsonld(title_text, description[0] if description else None, thb_types),
        }

    def incoming(self) -> list[tuple[str, list[Value]]]:
        phrases: dict[str, list[Value]] = {}
        for t in self.doc.incoming:
            phrases.setdefault(self.vocab.inverse_label(t.predicate.value, self.langs), []).append(self.value(t.subject))
        subject = ox.NamedNode(self.doc.subject)
        for t in self.doc.via:
            if is_anon(t.subject, self.doc.anon_prefix):
                continue
            node = t.object
            bnode_triples = self.bnodes.get(node, [])
            link = next((b for b in bnode_triples if b.object == subject), None)
            if link is None:
                continue
            phrase = self.vocab.inverse_label(link.predicate.value, self.langs)
            v = self.value(t.subject)
            roles = [self.label(b.object.value) or local_name(b.object.value) for b in bnode_triples
                     if b.predicate.value in (str(M8G.role), PREFIXES["prov"] + "hadRole") and isinstance(b.object, ox.NamedNode)]
            if roles:
                v.note = ", ".join(sorted(set(roles)))
            phrases.setdefault(phrase, []).append(v)
        out = []
        for phrase in sorted(phrases, key=str.casefold):
            seen, values = set(), []
            for v in sorted(phrases[phrase], key=lambda v: (v.text.casefold(), v.note or "")):
                key = (v.iri, v.note)
                if key not in seen:
                    seen.add(key)
                    values.append(v)
            out.append((phrase, values))
        return out

    def schema_jsonld(self, name: str, description: str | None, thb_types: list[str]) -> str:
        data: dict = {"@context": "https://schema.org", "@id": self.doc.subject,
                      "@type": SCHEMA_TYPES.get(thb_types[0], "Thing") if thb_types else "Thing", "name": name}
        if description:
            data["description"] = description
        simple = {_S + "startDate": "startDate", _S + "endDate": "endDate", _S + "url": "url",
                  PREFIXES["foaf"] + "homepage": "url", PREFIXES["owl"] + "sameAs": "sameAs"}
        for t in self.doc.out:
            key = simple.get(t.predicate.value)
            if key and key not in data:
                data[key] = t.object.value
        if thb_types and thb_types[0] == "Event":
            org = [t.object.value for t in self.doc.out if t.predicate.value == str(THB.organiser)]
            if org:
                data["organizer"] = [{"@id": o, "name": self.label(o) or local_name(o)} for o in org]
        if thb_types and thb_types[0] == "Agency":
            parent = [t.object.value for t in self.doc.out if t.predicate.value == _O + "subOrganizationOf"]
            if parent:
                data["parentOrganization"] = {"@id": parent[0], "name": self.label(parent[0]) or local_name(parent[0])}
        return json_in_script(data)


def json_in_script(data) -> str:
    """JSON for a <script type="application/ld+json"> element: '<', '>' and '&' written as unicode escapes,
    so that no value can close the element."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
