"""Canonical IRI -> local URL, for the pages that link to entities (home, sitemap).

A stop-gap: `server/iris.py` (the request <-> canonical IRI mapping, proxies included) replaces these two
functions when it lands. Until then a canonical IRI under the base maps to the same path on this server:
`{base}id/agency/x` -> `/id/agency/x`, and its HTML document is `/doc/agency/x`.
"""

from __future__ import annotations

from urllib.parse import quote

# Characters left as they are when an IRI path becomes a URL path: RFC 3986 unreserved and sub-delims,
# ':' '@' '/' and '%' (so existing escapes survive); everything else (non-ASCII, spaces) is percent-encoded.
_SAFE = "/:@!$&'()*+,;=-._~%"


def local_path(iri: str, base: str) -> str | None:
    """The server-relative path of a canonical IRI, or None if the IRI is not under the base."""
    if not iri.startswith(base):
        return None
    return "/" + quote(iri[len(base):], safe=_SAFE)


def doc_path(iri: str, base: str) -> str | None:
    """The path of the document (HTML by negotiation) about a thing `{base}id/...`."""
    path = local_path(iri, base)
    if path is None or not path.startswith("/id/"):
        return path
    return "/doc/" + path[len("/id/"):]
