"""Whether a literal is well-typed for sh:datatype, decided the way pySHACL decides it (rdflib's lexical
parsing, then the Python type of the value), for the distinct literals of a datatype only.

SPARQL engines and rdflib disagree on some lexical forms (rdflib accepts "1_000" as an xsd:integer and refuses
year 0000 in an xsd:date; Oxigraph the other way round), so the engine asks SPARQL for the distinct literals
of the datatype and decides each once here.
"""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal

from rdflib import Literal, URIRef
from rdflib.namespace import RDF, XSD

_VALUE_TYPES = {
    XSD.string: (str, bytes), RDF.langString: (str, bytes), XSD.integer: int, XSD.float: float,
    XSD.decimal: Decimal, XSD.boolean: bool, XSD.date: datetime.date, XSD.time: datetime.time,
    XSD.dateTime: datetime.datetime,
}
_memo: dict[tuple[str, str], bool] = {}


def well_typed(lexical: str, datatype: str) -> bool:
    """True when the literal lexical^^datatype matches sh:datatype datatype (SHACL: the same datatype and,
    for the datatypes rdflib knows, not ill-typed)."""
    key = (lexical, datatype)
    hit = _memo.get(key)
    if hit is None:
        term_log = logging.getLogger("rdflib.term")
        level = term_log.level
        term_log.setLevel(logging.CRITICAL)  # rdflib logs a traceback for every ill-typed literal
        try:
            lit = Literal(lexical, datatype=URIRef(datatype))
        finally:
            term_log.setLevel(level)
        if getattr(lit, "ill_typed", None) is True:
            hit = False
        else:
            expected = _VALUE_TYPES.get(URIRef(datatype))
            hit = True if expected is None else isinstance(lit.value, expected)
        if len(_memo) > 100_000:
            _memo.clear()
        _memo[key] = hit
    return hit
