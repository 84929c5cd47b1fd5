"""Request URLs <-> canonical IRIs (Pubby's datasetBase/webBase idea).

Every IRI under `KB_BASE_IRI` maps to the same path under the server's root, wherever the server listens:
`{base}id/agency/x` <-> `/id/agency/x` (its documents: `/doc/agency/x[.ext]`), `{base}def#Term` <-> `/def#Term`.
Behind a proxy the root comes from `X-Forwarded-Prefix`/`-Host`/`-Proto` (werkzeug's ProxyFix, enabled in
`create_app` when `KB_TRUST_PROXY` > 0), so links and redirects name the public address.

IRIs may hold non-ASCII characters, `%`-escapes and reserved characters. In a URL the non-ASCII characters
travel as UTF-8 `%`-escapes and `?`/`#`/space... are escaped; existing `%`-escapes are kept as they are. On
the way back the raw request path is read (not Werkzeug's decoded `PATH_INFO`, which loses the difference
between `/` and `%2F`) and turned into candidate IRIs, most exact first: RFC 3986 normalisation (only
unreserved and non-ASCII octets decoded), then a lenient form (reserved characters decoded too), then the
raw text. The caller keeps the first candidate the KB describes.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

from flask import Request

# Characters left as they are when an IRI path becomes a URL path: RFC 3986 pchar + "/" + "%" (escapes
# already present stay escapes). Everything else (non-ASCII, space, "?", "#", quotes, <>...) is escaped.
_URL_SAFE = "/:@!$&'()*+,;=-._~%"
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_LENIENT = _UNRESERVED | frozenset(b":@!$&'()*+,;=?#[]")
_UNSAFE_BYTE = re.compile(rb"[^\x21-\x7e]")
MAX_PATH = 1024  # characters of an IRI path we look up; longer is refused with 414


def iri_path_to_url(path: str) -> str:
    """The URL form of an IRI path: non-ASCII and characters not allowed in a URL path %-escaped."""
    return quote(path, safe=_URL_SAFE)


def _decode(raw: bytes, keep_decoded: frozenset[int]) -> str | None:
    """Decode the %-escapes of `raw` whose octet is in `keep_decoded` or is non-ASCII; None if not UTF-8."""

    def sub(m: re.Match[bytes]) -> bytes:
        octet = int(m.group(1), 16)
        if octet >= 0x80 or octet in keep_decoded:
            return bytes([octet])
        return b"%" + m.group(1).upper()

    try:
        return _ESCAPE.sub(sub, raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


def path_candidates(raw: bytes) -> list[str]:
    """Candidate IRI paths for a raw (still %-escaped) URL path, most exact first, without duplicates."""
    out: list[str] = []
    try:
        verbatim: str | None = raw.decode("ascii")
    except UnicodeDecodeError:
        verbatim = None
    for form in (_decode(raw, _UNRESERVED), _decode(raw, _LENIENT), verbatim):
        if form is not None and form not in out:
            out.append(form)
    return out


def raw_path(request: Request) -> bytes:
    """The request path as the client sent it (%-escapes intact), without the script root."""
    env = request.environ
    raw = env.get("RAW_URI") or env.get("REQUEST_URI")
    if raw:
        raw = raw.split("?", 1)[0]
        if "://" in raw:  # absolute-form request target
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        data = raw.encode("latin-1", "replace")  # WSGI strings are bytes decoded as latin-1
        werkzeug_server = env.get("SERVER_SOFTWARE", "").startswith("Werkzeug")
        if werkzeug_server and not data.isascii():
            # Werkzeug's development server encodes the (latin-1 decoded) request line once more as UTF-8
            try:
                data = data.decode("utf-8").encode("latin-1")
            except (UnicodeDecodeError, UnicodeEncodeError):
                pass
        # a client may send UTF-8 (or spaces) unescaped: escape every byte outside printable ASCII
        data = _UNSAFE_BYTE.sub(lambda m: b"%%%02X" % m.group()[0], data)
        script = env.get("SCRIPT_NAME", "").encode("latin-1", "replace")
        if script and data.startswith(script + b"/"):
            data = data[len(script):]
        # The raw URI must agree with the routed path (the same path, decoded); a proxy that strips a
        # prefix leaves the routed path shorter: take the matching tail.
        path = request.path
        decoded = unquote_to_bytes(data).decode("utf-8", "replace")
        if decoded == path or (werkzeug_server and not raw.isascii()):  # (its routed path is mangled alike)
            return data
        if decoded.endswith(path):
            # find the shortest raw tail that decodes to the routed path
            for i in range(len(data)):
                if data[i:i + 1] == b"/" and unquote_to_bytes(data[i:]).decode("utf-8", "replace") == path:
                    return data[i:]
    return quote(request.path, safe=_URL_SAFE).encode("ascii")  # no raw URI from the server: re-escape


class IriMap:
    """Maps the IRIs under one base to local URLs and back."""

    def __init__(self, base: str):
        self.base = base

    # -- IRI -> URL ---------------------------------------------------------------------------------
    def relative(self, iri: str) -> str | None:
        """The part of `iri` after the base, or None when the IRI is not under the base."""
        return iri[len(self.base):] if iri.startswith(self.base) else None

    def thing_path(self, iri: str) -> str | None:
        """'{base}id/agency/x' -> 'agency/x' (None for other IRIs)."""
        rest = self.relative(iri)
        if rest is None or not rest.startswith("id/") or "#" in rest:
            return None
        return rest[3:]

    def local_url(self, iri: str, script_root: str = "") -> str | None:
        """Where a page of this server shows `iri`: things link straight to their document (`/doc/...`),
        other IRIs under the base to the same path; None for IRIs outside the base."""
        rest = self.relative(iri)
        if rest is None:
            return None
        path, hash_, fragment = rest.partition("#")
        if path.startswith("id/"):
            path = "doc/" + path[3:]
        url = script_root + "/" + iri_path_to_url(path)
        if hash_:
            url += "#" + quote(fragment, safe=_URL_SAFE)
        return url

    def id_url(self, path: str, script_root: str = "") -> str:
        return f"{script_root}/id/{iri_path_to_url(path)}"

    def doc_url(self, path: str, suffix: str | None = None, script_root: str = "") -> str:
        return f"{script_root}/doc/{iri_path_to_url(path)}" + (f".{suffix}" if suffix else "")

    # -- canonical IRIs -------------------------------------------------------------------------------
    def thing_iri(self, path: str) -> str:
        return f"{self.base}id/{path}"

    def doc_iri(self, path: str, suffix: str | None = None, page: int | None = None) -> str:
        iri = f"{self.base}doc/{iri_path_to_url(path)}" + (f".{suffix}" if suffix else "")
        if page and page > 1:
            iri += f"?page={page}"
        return iri
