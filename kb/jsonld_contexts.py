"""The allow-list of JSON-LD contexts that input may name by IRI, each served from a local copy.

thb-kb never fetches a JSON-LD context (no outbound request is ever triggered by user input). A document
may still name a context by IRI (`"@context": "https://w3id.org/thb-kb/context.jsonld"`) when that IRI is
on the allow-list, which maps each IRI to a local file:

- thb-kb's own context, `ontology/context.jsonld`, under `{KB_BASE_IRI}context.jsonld` and under the default
  base's `https://w3id.org/thb-kb/context.jsonld`;
- the publisher's copies in the folder `KB_JSONLD_CONTEXTS`, listed in its index `contexts.json`, a JSON
  object from context IRI to file name (relative to the folder):

      { "https://schema.org/": "schemaorg.jsonld", "https://schema.org": "schemaorg.jsonld" }

  Each file is a JSON-LD context document: a JSON object with an `@context` entry.

IRIs are compared exactly (list every spelling the data uses). A library is read once and kept until one of
its files changes (checked by size and modification time on each use), so an edited copy is picked up without
a restart and nothing depends on which code path read it first. `kb.jsonld_inline` does the substitution.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from . import paths
from .namespaces import DEFAULT_BASE

INDEX = "contexts.json"
OWN_CONTEXT = paths.ONTOLOGY_DIR / "context.jsonld"
MAX_COPY_BYTES = 4 * 1024 * 1024  # one local copy; the total per document is bounded in kb.jsonld_inline
_HTTP_IRI = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)


class ContextConfigError(ValueError):
    """KB_JSONLD_CONTEXTS (or thb-kb's own context file) cannot be used as it is."""


@dataclass(frozen=True)
class LocalCopy:
    iri: str
    file: str      # for messages: the file's name as the publisher wrote it in the index
    context: Any   # the value of the copy's @context entry
    size: int      # bytes of the file


class Library:
    """Context IRI -> local copy. Lookups only: nothing here ever opens a URL."""

    def __init__(self, copies: Mapping[str, LocalCopy], files: tuple[Path, ...] = (), folder: str | None = None):
        self._copies = dict(copies)
        self.files = files      # the files read, for the freshness check
        self.folder = folder

    def get(self, iri: str) -> LocalCopy | None:
        return self._copies.get(iri)

    def iris(self) -> list[str]:
        return sorted(self._copies)

    def __contains__(self, iri: str) -> bool:
        return iri in self._copies

    def __len__(self) -> int:
        return len(self._copies)


def own_context_iris(base_iri: str | None) -> list[str]:
    """The IRIs of thb-kb's own context: under the configured base, and under the default base."""
    bases = [b if b.endswith("/") else b + "/" for b in (base_iri or DEFAULT_BASE, DEFAULT_BASE)]
    return list(dict.fromkeys(b + "context.jsonld" for b in bases))


def read_copy(path: Path, iri: str, name: str) -> LocalCopy:
    """A context document from a local file; ContextConfigError says what is wrong with it."""
    try:
        size = path.stat().st_size
        if size > MAX_COPY_BYTES:
            raise ContextConfigError(f"{name}: {size} bytes, over the limit of {MAX_COPY_BYTES} bytes for one context")
        data = path.read_bytes()
    except OSError as exc:
        raise ContextConfigError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
        raise ContextConfigError(f"{name}: not valid JSON{where}: {getattr(exc, 'msg', exc)}") from None
    if not isinstance(doc, dict) or "@context" not in doc:
        raise ContextConfigError(f"{name}: not a JSON-LD context document (a JSON object with an @context entry)")
    return LocalCopy(iri, name, doc["@context"], size)


def _own(base_iri: str | None) -> tuple[dict[str, LocalCopy], Path]:
    copies = {}
    for iri in own_context_iris(base_iri):
        copies[iri] = read_copy(OWN_CONTEXT, iri, "thb-kb's own context (ontology/context.jsonld)")
    return copies, OWN_CONTEXT


def _folder(folder: str, own: Mapping[str, LocalCopy]) -> tuple[dict[str, LocalCopy], list[Path]]:
    where = f"KB_JSONLD_CONTEXTS={folder}"
    root = Path(folder)
    if not root.is_dir():
        raise ContextConfigError(f"{where}: not a folder (it should hold the local copies and their index {INDEX})")
    index_path = root / INDEX
    if not index_path.is_file():
        raise ContextConfigError(f"{where}: no {INDEX} in it; write one mapping each context IRI to its file, "
                                 f'e.g. {{"https://schema.org/": "schemaorg.jsonld"}}')
    try:
        index = json.loads(index_path.read_bytes())
    except OSError as exc:
        raise ContextConfigError(f"{where}: {INDEX} cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ContextConfigError(f"{where}: {INDEX} is not valid JSON at line {getattr(exc, 'lineno', '?')}, "
                                 f"column {getattr(exc, 'colno', '?')}: {getattr(exc, 'msg', exc)}") from None
    if not isinstance(index, dict):
        raise ContextConfigError(f'{where}: {INDEX} must be a JSON object {{"context IRI": "file name", ...}}')
    resolved_root = root.resolve()
    copies: dict[str, LocalCopy] = {}
    files = [index_path]
    for iri, name in index.items():
        if not _HTTP_IRI.match(iri):
            raise ContextConfigError(f"{where}: {INDEX}: {iri!r} is not an absolute http(s) IRI")
        if iri in own:
            raise ContextConfigError(f"{where}: {INDEX}: {iri} is thb-kb's own context (ontology/context.jsonld); "
                                     f"it cannot be mapped to another file")
        if not isinstance(name, str) or not name or os.path.isabs(name):
            raise ContextConfigError(f"{where}: {INDEX}: the file of {iri} must be a file name relative to the "
                                     f"folder, not {name!r}")
        path = (root / name).resolve()
        if not path.is_relative_to(resolved_root):
            raise ContextConfigError(f"{where}: {INDEX}: the file of {iri} ({name}) is outside the folder")
        if not path.is_file():
            raise ContextConfigError(f"{where}: {INDEX}: the file of {iri} ({name}) does not exist")
        copies[iri] = read_copy(path, iri, f"{where}: {name}")
        files.append(path)
    return copies, files


def load(base_iri: str | None = None, folder: str | None = None) -> Library:
    """Read a library: thb-kb's own context, plus the copies listed in `folder`'s index (if a folder is given)."""
    copies, own_file = _own(base_iri)
    files = [own_file]
    if folder:
        extra, extra_files = _folder(folder, copies)
        copies.update(extra)
        files += extra_files
    return Library(copies, tuple(dict.fromkeys(files)), folder)


def _signature(files: tuple[Path, ...]) -> tuple | None:
    try:
        return tuple((str(f), st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()])
    except OSError:
        return None


_cache: dict[tuple[str, str | None], tuple[tuple | None, Library]] = {}
_cache_lock = threading.Lock()


def library(base_iri: str | None = None, folder: str | None = None) -> Library:
    """`load`, kept while its files are unchanged (the same answer as reading them again, but cheap)."""
    key = (base_iri or DEFAULT_BASE, folder or None)
    hit = _cache.get(key)
    if hit is not None and hit[0] is not None and hit[0] == _signature(hit[1].files):
        return hit[1]
    lib = load(*key)
    with _cache_lock:
        _cache[key] = (_signature(lib.files), lib)
    return lib


def from_settings(settings: Mapping[str, Any]) -> Library:
    """The library for a settings mapping (`KB_BASE_IRI`, `KB_JSONLD_CONTEXTS`)."""
    return library(settings.get("base_iri"), settings.get("jsonld_contexts"))


def default_library() -> Library:
    """thb-kb's own context under the default base only: what parsing allows when no settings are given."""
    return library(None, None)
