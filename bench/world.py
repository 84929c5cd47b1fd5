"""The synthetic world the benchmark generator writes: N-Triples helpers, the entity writers (documents,
agencies, programmes, conventions, actions, places, reports) and the event writer that fills the size."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from typing import IO

from .vocab import (ACTION_OBJECTS, ACTION_WORDS, AGENCY_KINDS, ATTENDANCE, CONCEPT, COUNTRIES, COUNTRY,
                    EVENT_TYPE_EN, EVENT_TYPE_FR, EVENT_TYPE_TR, EVENT_TYPES, ID, PARTICIPANT_ROLES, THEMES)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
P = {  # predicate and class IRIs, already in N-Triples form
    "type": f"<{RDF}type>", "label": "<http://www.w3.org/2000/01/rdf-schema#label>",
    "pref": "<http://www.w3.org/2004/02/skos/core#prefLabel>", "alt": "<http://www.w3.org/2004/02/skos/core#altLabel>",
    "title": "<http://purl.org/dc/terms/title>", "desc": "<http://purl.org/dc/terms/description>",
    "source": "<http://purl.org/dc/terms/source>", "derived": "<http://www.w3.org/ns/prov#wasDerivedFrom>",
    "spatial": "<http://purl.org/dc/terms/spatial>", "subject": "<http://purl.org/dc/terms/subject>",
    "dtype": "<http://purl.org/dc/terms/type>", "publisher": "<http://purl.org/dc/terms/publisher>",
    "issued": "<http://purl.org/dc/terms/issued>", "identifier": "<http://purl.org/dc/terms/identifier>",
    "creator": "<http://purl.org/dc/terms/creator>", "page": "<http://xmlns.com/foaf/0.1/page>",
    "homepage": "<http://xmlns.com/foaf/0.1/homepage>", "classification": "<http://www.w3.org/ns/org#classification>",
    "suborg": "<http://www.w3.org/ns/org#subOrganizationOf>", "member": "<http://www.w3.org/ns/org#hasMember>",
    "start": "<https://schema.org/startDate>", "end": "<https://schema.org/endDate>",
    "location": "<https://schema.org/location>", "mode": "<https://schema.org/eventAttendanceMode>",
    "format": "<http://data.europa.eu/m8g/format>", "hasPart": "<http://data.europa.eu/m8g/hasParticipation>",
    "participant": "<http://data.europa.eu/m8g/hasParticipant>", "role": "<http://data.europa.eu/m8g/role>",
    "hasTime": "<http://www.w3.org/2006/time#hasTime>", "inDate": "<http://www.w3.org/2006/time#inXSDDate>",
    "begin": "<http://www.w3.org/2006/time#hasBeginning>", "endT": "<http://www.w3.org/2006/time#hasEnd>",
    "idLocal": "<http://data.europa.eu/eli/ontology#id_local>", "passedBy": "<http://data.europa.eu/eli/ontology#passed_by>",
    "dateDoc": "<http://data.europa.eu/eli/ontology#date_document>",
    "qa": "<http://www.w3.org/ns/prov#qualifiedAssociation>", "agent": "<http://www.w3.org/ns/prov#agent>",
    "hadRole": "<http://www.w3.org/ns/prov#hadRole>", "generatedBy": "<http://www.w3.org/ns/prov#wasGeneratedBy>",
}
THB = "https://w3id.org/thb-kb/def#"
GENID = "https://w3id.org/thb-kb/.well-known/genid/"
for _name in ("partOfAction", "partOfProgramme", "appliesConvention", "organiser", "host", "monitoringBody",
              "beneficiary", "contributesTo", "goal", "expectedCompletion"):
    P[_name] = f"<{THB}{_name}>"
C = {  # classes
    "Action": f"<{THB}Action>", "Programme": f"<{THB}Programme>", "Convention": f"<{THB}Convention>",
    "Agency": f"<{THB}Agency>", "Event": f"<{THB}Event>", "Report": f"<{THB}Report>",
    "SourceDocument": f"<{THB}SourceDocument>", "Participation": f"<{THB}Participation>", "Place": f"<{THB}Place>",
    "Organization": "<http://www.w3.org/ns/org#Organization>", "Project": "<https://schema.org/Project>",
    "Activity": "<http://www.w3.org/ns/prov#Activity>", "PublicEvent": "<http://data.europa.eu/m8g/PublicEvent>",
    "SEvent": "<https://schema.org/Event>", "SReport": "<https://schema.org/Report>",
    "Entity": "<http://www.w3.org/ns/prov#Entity>", "Document": "<http://xmlns.com/foaf/0.1/Document>",
    "FundingScheme": "<https://schema.org/FundingScheme>", "LegalResource": "<http://data.europa.eu/eli/ontology#LegalResource>",
    "SPlace": "<https://schema.org/Place>", "Association": "<http://www.w3.org/ns/prov#Association>",
    "Instant": "<http://www.w3.org/2006/time#Instant>", "Interval": "<http://www.w3.org/2006/time#ProperInterval>",
}
YEARS = range(2012, 2026)


def lit(text: str, lang: str | None = None) -> str:
    esc = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{esc}"@{lang}' if lang else f'"{esc}"'


def date(d: str) -> str:
    return f'"{d}"^^<{XSD}date>'


def iri(kind: str, slug: str) -> str:
    return f"<{ID}{kind}/{slug}>"


def concept(scheme: str, term: str) -> str:
    return f"<{CONCEPT}{scheme}/{term}>"


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in plain).split())


class Writer:
    """Counts the N-Triples lines it writes; `out=None` only counts (rebuilding a world without output)."""

    def __init__(self, out: IO[str] | None, *, skolem: bool = True):
        self.out = out
        self.n = 0
        self.skolem = skolem
        self._buf: list[str] = []

    def node(self, label: str) -> str:
        """A structure node (association, participation, time): a skolem IRI, as the KB holds it after the
        import pipeline, or a blank node, as a contributor's file has it."""
        return f"<{GENID}bench-{label}>" if self.skolem else f"_:{label}"

    def t(self, s: str, p: str, o: str) -> None:
        self.n += 1
        if self.out is not None:
            self._buf.append(f"{s} {p} {o} .\n")
            if len(self._buf) >= 4096:
                self.flush()

    def flush(self) -> None:
        if self.out is not None and self._buf:
            self.out.write("".join(self._buf))
        self._buf.clear()


@dataclass
class World:
    """The non-event entities of one (size, seed), and samples the query templates draw from."""

    size: int
    seed: int
    docs: list[str] = field(default_factory=list)
    agencies: list[tuple[str, str]] = field(default_factory=list)  # (iri, country code)
    programmes: list[str] = field(default_factory=list)
    conventions: list[str] = field(default_factory=list)
    actions: list[tuple[str, str]] = field(default_factory=list)  # (iri, country code)
    places: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # country -> [(iri, city)]
    reports: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # a sample (query parameters)
    event_pool: list[str] = field(default_factory=list)  # a larger sample (entity documents)
    event_count: int = 0
    triples: int = 0

    def entities(self, most: int = 6000) -> list[str]:
        """Entity IRIs for the dereference workload: events, agencies, actions, reports, interleaved."""
        kinds = [[e[1:-1] for e in self.event_pool], [a[1:-1] for a, _ in self.agencies],
                 [a[1:-1] for a, _ in self.actions], [r[1:-1] for r in self.reports]]
        out: list[str] = []
        i = 0
        while len(out) < most and any(i < len(k) for k in kinds):
            out += [k[i] for k in kinds if i < len(k)]
            i += 1
        return out[:most]

    def params(self) -> dict:
        return {
            "size": self.size, "seed": self.seed, "triples": self.triples, "events": self.event_count,
            "agency": [a[1:-1] for a, _ in self.agencies[:400]], "action": [a[1:-1] for a, _ in self.actions[:200]],
            "programme": [p[1:-1] for p in self.programmes[:50]], "event": [e[1:-1] for e in self.events[:400]],
            "country": [COUNTRY + c for c in sorted({c for _, c in self.agencies})],
            "theme": [f"{CONCEPT}theme/{t}" for t in THEMES],
            "etype": [f"{CONCEPT}event-type/{t}" for t in EVENT_TYPES],
            "atype": sorted({f"{CONCEPT}agency-type/{k[2]}" for k in AGENCY_KINDS}),
            "year": [str(y) for y in YEARS],
            "entities": self.entities(),
            "word": ["coast", "göç", "migra", "police", "polícia", "inspect", "gendarm", "justice", "associa",
                     "sahil", "fronteiras", "lisboa", "izmir"],
        }


def _cite(w: Writer, s: str, doc: str) -> None:
    w.t(s, P["source"], doc)
    w.t(s, P["derived"], doc)


def build_world(w: Writer, size: int, seed: int) -> World:
    """Write everything but the events; ~12% of the triples."""
    rng = random.Random(f"world-{seed}")
    world = World(size=size, seed=seed)
    n_docs = max(1, size // 25_000)
    n_agencies = max(8, size // 220)
    n_programmes = max(1, size // 40_000)
    n_conventions = min(20, max(1, size // 100_000))
    n_actions = max(2, size // 1_500)
    n_places = max(len(COUNTRIES), size // 1_500)
    n_reports = max(1, size // 600)
    codes = list(COUNTRIES)
    weights = [6 if c in ("TUR", "PRT") else 1 for c in codes]

    world.docs = [iri("document", f"bench-source-{i + 1}") for i in range(n_docs)]
    agency_kinds: list[tuple] = []
    for i in range(n_agencies):
        code = codes[i] if i < len(codes) else rng.choices(codes, weights)[0]
        kind = AGENCY_KINDS[i % len(AGENCY_KINDS)] if i < len(AGENCY_KINDS) else rng.choice(AGENCY_KINDS)
        world.agencies.append((iri("agency", f"{code.lower()}-{kind[0]}-{i + 1}"), code))
        agency_kinds.append(kind)

    def doc_of() -> str:
        return rng.choice(world.docs)

    for i, d in enumerate(world.docs):
        w.t(d, P["type"], C["SourceDocument"])
        w.t(d, P["type"], C["Document"])
        title = f"Benchmark source document {i + 1}"
        w.t(d, P["label"], lit(title, "en"))
        w.t(d, P["title"], lit(title, "en"))
        w.t(d, P["publisher"], world.agencies[i % len(world.agencies)][0])
        w.t(d, P["issued"], date(f"{rng.choice(YEARS)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"))
        w.t(d, P["page"], f"<https://example.org/bench/document/{i + 1}>")
        w.t(d, P["identifier"], lit(f"bench-source-{i + 1}.pdf"))

    for i, ((a, code), kind) in enumerate(zip(world.agencies, agency_kinds)):
        cname, lang, cities = COUNTRIES[code]
        city = rng.choice(cities)
        slug, en, atype, local = kind
        w.t(a, P["type"], C["Agency"])
        w.t(a, P["type"], C["Organization"])
        en_name = f"{en} of {city}"
        w.t(a, P["label"], lit(en_name, "en"))
        w.t(a, P["pref"], lit(en_name, "en"))
        if lang in local:
            own = f"{local[lang]} ({city})"
            w.t(a, P["label"], lit(own, lang))
            w.t(a, P["pref"], lit(own, lang))
        if "fr" in local and lang != "fr" and rng.random() < 0.3:
            w.t(a, P["alt"], lit(f"{local['fr']} de {city}", "fr"))
        acronym = "".join(word[0] for word in en.split() if word[0].isupper()) + str(i + 1)
        w.t(a, P["alt"], lit(acronym, "en"))
        w.t(a, P["desc"], lit(f"A {en.lower()} in {city}, {cname} (synthetic benchmark data).", "en"))
        w.t(a, P["classification"], concept("agency-type", atype))
        w.t(a, P["spatial"], f"<{COUNTRY}{code}>")
        if i >= len(codes) and rng.random() < 0.4:
            parent = world.agencies[rng.randrange(max(0, i - 300), i)][0]
            w.t(a, P["suborg"], parent)
        w.t(a, P["homepage"], f"<https://example.org/bench/agency/{i + 1}>")
        _cite(w, a, doc_of())

    def agency() -> str:
        return rng.choice(world.agencies)[0]

    for i in range(n_programmes):
        p = iri("programme", f"bench-programme-{i + 1}")
        world.programmes.append(p)
        w.t(p, P["type"], C["Programme"])
        w.t(p, P["type"], C["FundingScheme"])
        en, fr = f"Joint Programme {i + 1} on Migration and Trafficking", f"Programme conjoint {i + 1} sur les migrations et la traite"
        for prop in ("label", "title"):
            w.t(p, P[prop], lit(en, "en"))
            w.t(p, P[prop], lit(fr, "fr"))
        w.t(p, P["desc"], lit(f"A joint programme funding cooperation actions (synthetic, number {i + 1}).", "en"))
        for a in sorted({agency(), agency()}):
            w.t(p, P["member"], a)
        y = rng.choice(YEARS[:-4])
        w.t(p, P["start"], date(f"{y}-01-01"))
        w.t(p, P["end"], date(f"{y + rng.randint(2, 4)}-12-31"))
        _cite(w, p, doc_of())

    for i in range(n_conventions):
        c = iri("convention", f"cets-{190 + i}")
        world.conventions.append(c)
        w.t(c, P["type"], C["Convention"])
        w.t(c, P["type"], C["LegalResource"])
        en = f"Convention No. {190 + i} on Action against Exploitation"
        fr = f"Convention n° {190 + i} sur la lutte contre l'exploitation"
        for prop in ("label", "title"):
            w.t(c, P[prop], lit(en, "en"))
            w.t(c, P[prop], lit(fr, "fr"))
        w.t(c, P["desc"], lit("A convention of the synthetic benchmark world.", "en"))
        w.t(c, P["idLocal"], lit(f"CETS No. {190 + i}"))
        w.t(c, P["passedBy"], agency())
        w.t(c, P["monitoringBody"], agency())
        w.t(c, P["dateDoc"], date(f"{rng.randint(2000, 2012)}-05-16"))
        w.t(c, P["page"], f"<https://example.org/bench/convention/{190 + i}>")
        _cite(w, c, doc_of())

    theme_keys = list(THEMES)
    for i in range(n_actions):
        code = rng.choices(codes, weights)[0]
        cname = COUNTRIES[code][0]
        theme = rng.choice(theme_keys)
        a = iri("action", f"{code.lower()}-{theme}-{i + 1}")
        world.actions.append((a, code))
        w.t(a, P["type"], C["Action"])
        w.t(a, P["type"], C["Project"])
        w.t(a, P["type"], C["Activity"])
        title = f"{rng.choice(ACTION_WORDS)} {rng.choice(ACTION_OBJECTS)} {THEMES[theme][0]} in {cname} ({i + 1})"
        w.t(a, P["label"], lit(title, "en"))
        w.t(a, P["title"], lit(title, "en"))
        w.t(a, P["desc"], lit(f"A cooperation action on {THEMES[theme][0]} (synthetic benchmark data).", "en"))
        w.t(a, P["partOfProgramme"], rng.choice(world.programmes))
        w.t(a, P["appliesConvention"], rng.choice(world.conventions))
        local = [x for x, c in world.agencies if c == code] or [agency()]
        for k, b in enumerate(sorted({rng.choice(local) for _ in range(rng.randint(1, 2))})):
            bn = w.node(f"assoc{seed}x{i}x{k}")
            w.t(a, P["beneficiary"], b)
            w.t(a, P["qa"], bn)
            w.t(bn, P["type"], C["Association"])
            w.t(bn, P["agent"], b)
            w.t(bn, P["hadRole"], concept("role", "beneficiary"))
        w.t(a, P["spatial"], f"<{COUNTRY}{code}>")
        w.t(a, P["subject"], concept("theme", theme))
        y = rng.choice(YEARS[:-2])
        w.t(a, P["start"], date(f"{y}-{rng.randint(1, 12):02d}-01"))
        w.t(a, P["end"], date(f"{y + rng.randint(1, 3)}-12-31"))
        w.t(a, P["goal"], lit(f"To strengthen the response to {THEMES[theme][0]}.", "en"))
        _cite(w, a, doc_of())

    for i in range(n_places):
        code = codes[i] if i < len(codes) else rng.choices(codes, weights)[0]
        city = rng.choice(COUNTRIES[code][2])
        pl = iri("place", f"{ascii_slug(city)}-{i + 1}")
        world.places.setdefault(code, []).append((pl, city))
        w.t(pl, P["type"], C["Place"])
        w.t(pl, P["type"], C["SPlace"])
        w.t(pl, P["label"], lit(f"{city} (venue {i + 1})", "en"))
        lang = COUNTRIES[code][1]
        if lang != "en":
            w.t(pl, P["label"], lit(f"{city} ({i + 1})", lang))
        w.t(pl, P["spatial"], f"<{COUNTRY}{code}>")
        _cite(w, pl, doc_of())

    for i in range(n_reports):
        act, code = rng.choice(world.actions)
        r = iri("report", f"bench-report-{i + 1}")
        world.reports.append(r)
        w.t(r, P["type"], C["Report"])
        w.t(r, P["type"], C["SReport"])
        title = f"Needs assessment report {i + 1} for {COUNTRIES[code][0]}"
        w.t(r, P["label"], lit(title, "en"))
        w.t(r, P["title"], lit(title, "en"))
        w.t(r, P["desc"], lit("A report of the synthetic benchmark world.", "en"))
        if rng.random() < 0.7:
            w.t(r, P["issued"], date(f"{rng.choice(YEARS)}-{rng.randint(1, 12):02d}-15"))
        else:
            w.t(r, P["expectedCompletion"], f'"{rng.choice(YEARS)}-{rng.randint(1, 12):02d}"^^<{XSD}gYearMonth>')
        w.t(r, P["generatedBy"], act)
        w.t(r, P["creator"], agency())
        w.t(r, P["spatial"], f"<{COUNTRY}{code}>")
        _cite(w, r, doc_of())
    return world


def write_events(w: Writer, world: World, size: int, rng: random.Random, *, tag: str = "") -> int:
    """Write events until the writer has `size` triples. Returns how many events were written."""
    theme_keys = list(THEMES)
    all_places = [p for ps in world.places.values() for p in ps]
    by_country: dict[str, list[str]] = {}
    for a, c in world.agencies:
        by_country.setdefault(c, []).append(a)
    n = 0
    while w.n < size:
        n += 1
        act, code = rng.choice(world.actions)
        y, m, d = rng.choice(YEARS), rng.randint(1, 12), rng.randint(1, 26)
        etype = rng.choice(EVENT_TYPES)
        start = f"{y}-{m:02d}-{d:02d}"
        days = rng.choice((0, 0, 0, 1, 2))
        end = f"{y}-{m:02d}-{d + days:02d}"
        e = iri("event", f"{start}-{etype}-{tag}{n}")
        if len(world.events) < 400 and rng.random() < 0.05:
            world.events.append(e)
        if n % 4 == 0 and len(world.event_pool) < 5000:  # no draw from rng: the data stays as it was
            world.event_pool.append(e)
        mode = rng.choices(("in-person", "online", "hybrid"), (60, 25, 15))[0]
        place, city = rng.choice(world.places.get(code) or all_places)
        theme = rng.choice(theme_keys)
        w.t(e, P["type"], C["Event"])
        w.t(e, P["type"], C["PublicEvent"])
        w.t(e, P["type"], C["SEvent"])
        where = "online" if mode == "online" else f"in {city}"
        titles = {"en": f"{EVENT_TYPE_EN[etype]} on {THEMES[theme][0]} {where} ({tag}{n})"}
        if rng.random() < 0.4:
            titles["fr"] = f"{EVENT_TYPE_FR[etype]} sur {THEMES[theme][1]} ({tag}{n})"
        if code == "TUR":
            titles["tr"] = f"{EVENT_TYPE_TR[etype]}: {city} ({tag}{n})"
        for lang, title in titles.items():
            w.t(e, P["label"], lit(title, lang))
            w.t(e, P["title"], lit(title, lang))
        organiser = rng.choice(world.agencies)[0]
        w.t(e, P["desc"], lit(f"{EVENT_TYPE_EN[etype]} held under a cooperation action (synthetic).", "en"))
        w.t(e, P["dtype"], concept("event-type", etype))
        w.t(e, P["format"], concept("attendance-mode", mode))
        w.t(e, P["mode"], f"<{ATTENDANCE[mode]}>")
        w.t(e, P["start"], date(start))
        w.t(e, P["end"], date(end))
        t = w.node(f"t{tag}{world.seed}x{n}")
        w.t(e, P["hasTime"], t)
        if days == 0:
            w.t(t, P["type"], C["Instant"])
            w.t(t, P["inDate"], date(start))
        else:
            w.t(t, P["type"], C["Interval"])
            for which, day in (("begin", start), ("endT", end)):
                b = w.node(f"t{tag}{world.seed}x{n}{which.lower()}")
                w.t(t, P[which], b)
                w.t(b, P["type"], C["Instant"])
                w.t(b, P["inDate"], date(day))
        w.t(e, P["partOfAction"], act)
        w.t(e, P["organiser"], organiser)
        local = by_country.get(code)
        people = {organiser}
        for k in range(rng.randint(2, 6)):
            who = rng.choice(local) if local and rng.random() < 0.5 else rng.choice(world.agencies)[0]
            if who in people:
                continue
            people.add(who)
            part = w.node(f"p{tag}{world.seed}x{n}x{k}")
            w.t(e, P["hasPart"], part)
            w.t(part, P["type"], C["Participation"])
            w.t(part, P["participant"], who)
            w.t(part, P["role"], concept("role", rng.choice(PARTICIPANT_ROLES)))
        if mode != "online":
            w.t(e, P["location"], place)
        w.t(e, P["subject"], concept("theme", theme))
        if world.reports and rng.random() < 0.2:
            w.t(e, P["contributesTo"], rng.choice(world.reports))
        _cite(w, e, rng.choice(world.docs))
    return n
