"""`/dumps/`: the whole KB as files, generated once per KB version and streamed from disk.

A dump is written on its first request for a KB version into `{tmp}/thb-kb-dumps-{uid}/{version}/`
(through a temporary file and an atomic rename, so a reader never sees half a file, and two processes at
worst both write it), then served with `send_file`: the serialiser streams triples from the store to the
file, and the file streams to the client, so the dump is never held in memory.

`kb.nt.gz` and `kb.nq.gz` are served as `application/gzip` WITHOUT `Content-Encoding`. A harvester that
downloads `kb.nt.gz` expects the gzip bytes on disk under that name (as with the DBpedia and Wikidata dumps,
and as DCAT-AP describes it: `dcat:compressFormat` gzip, `dcat:mediaType` the RDF format inside). With
`Content-Encoding: gzip` browsers, `requests` and `curl --compressed` would inflate it silently and save
plain N-Triples under a `.gz` name, and `Content-Length`/ranges would describe the encoded bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, abort, render_template, request, send_file

from kb.namespaces import PREFIXES
from kb.store import Store

from .metadata_common import kb

bp = Blueprint("dumps", __name__)

IANA = "http://www.iana.org/assignments/media-types/"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
STALE_SECONDS = 3600  # dumps of older versions are removed an hour after they were written


@dataclass(frozen=True)
class DumpFile:
    name: str
    title: str
    served_as: str      # Content-Type of the file
    media_type: str     # media type of the RDF inside (DCAT dcat:mediaType)
    file_type: str      # EU file-type authority code (DCAT dct:format)
    ox_format: ox.RdfFormat
    gzip: bool = False
    quads: bool = False


DUMP_FILES = (
    DumpFile("kb.nt.gz", "N-Triples, gzip-compressed", "application/gzip", "application/n-triples",
             "RDF_N_TRIPLES", ox.RdfFormat.N_TRIPLES, gzip=True),
    DumpFile("kb.nq.gz", "N-Quads with the named graphs, gzip-compressed", "application/gzip",
             "application/n-quads", "RDF_N_QUADS", ox.RdfFormat.N_QUADS, gzip=True, quads=True),
    DumpFile("kb.ttl", "Turtle", "text/turtle", "text/turtle", "RDF_TURTLE", ox.RdfFormat.TURTLE),
    DumpFile("kb.jsonld", "JSON-LD", "application/ld+json", "application/ld+json", "JSON_LD",
             ox.RdfFormat.JSON_LD),
)
BY_NAME = {d.name: d for d in DUMP_FILES}
_VERSION_DIR = re.compile(r"[0-9a-f]{16}")
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def cache_root() -> Path:
    """KB_DUMPS_DIR, or `{tmp}/thb-kb-dumps-{uid}`: created private (0700), and refused if it is a symlink
    or belongs to another user (someone could have prepared it in the shared temporary directory)."""
    configured = kb().settings.get("dumps_dir")
    if configured:
        root = Path(configured)
        root.mkdir(parents=True, exist_ok=True)
        return root
    uid = os.getuid()
    root = Path(tempfile.gettempdir()) / f"thb-kb-dumps-{uid}"
    root.mkdir(mode=0o700, exist_ok=True)
    st = root.lstat()
    if root.is_symlink() or st.st_uid != uid:
        raise RuntimeError(f"refusing to write dumps into {root}: not a folder of this user (set KB_DUMPS_DIR)")
    if st.st_mode & 0o077:
        root.chmod(0o700)
    return root


def _version_dir(version: str) -> Path:
    safe = hashlib.sha1(version.encode()).hexdigest()[:16]
    return cache_root() / safe


def existing(version: str, dump: DumpFile) -> Path | None:
    path = _version_dir(version) / dump.name
    return path if path.is_file() else None


def distinct_triples(store: Store):
    """The distinct triples of all named graphs, grouped by subject.

    On the embedded store: subject by subject (a DISTINCT over subjects, then the subject's quads from the
    subject-first index), so that memory holds the set of subjects and one subject's triples, never a set of
    every triple, which is what a CONSTRUCT over the union needs to drop the triples found in several graphs.
    Elsewhere (a remote store): its quads, read in pages where the store caps results (a CONSTRUCT may be cut
    silently there), with a set of the triples seen."""
    raw = getattr(store, "raw", None)
    if raw is None:
        seen_all: set = set()
        for q in store.quads():
            t = q.triple
            if t not in seen_all:
                seen_all.add(t)
                yield t
        return
    for row in store.query("SELECT DISTINCT ?s WHERE { GRAPH ?g { ?s ?p ?o } }"):
        seen: set = set()
        for q in raw.quads_for_pattern(row["s"], None, None, None):
            if isinstance(q.graph_name, ox.DefaultGraph):
                continue
            t = q.triple
            if t not in seen:
                seen.add(t)
                yield t


def write_dump(store: Store, dump: DumpFile, out) -> None:
    """Stream the KB into the binary file `out` (triple formats: the distinct triples of all graphs)."""
    data = store.quads() if dump.quads else distinct_triples(store)
    prefixes = PREFIXES if dump.ox_format == ox.RdfFormat.TURTLE else None
    ox.serialize(data, out, dump.ox_format, prefixes=prefixes)


def generate(store: Store, version: str, dump: DumpFile) -> Path:
    """The dump file for this KB version, written now if it does not exist yet."""
    folder = _version_dir(version)
    target = folder / dump.name
    with _locks_guard:
        lock = _locks.setdefault(str(target), threading.Lock())
    with lock:
        if target.is_file():
            return target
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{dump.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as raw:
                if dump.gzip:
                    # mtime=0: the same KB gives byte-identical files (reproducible, cacheable); level 6 (gzip's
                    # own default) writes about twice as fast as Python's 9 for a few percent more bytes
                    with gzip.GzipFile(filename=dump.name[:-3], mode="wb", fileobj=raw, mtime=0,
                                       compresslevel=6) as gz:
                        write_dump(store, dump, gz)
                else:
                    write_dump(store, dump, raw)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    _remove_stale(folder)
    return target


def _remove_stale(keep: Path) -> None:
    """Remove the dump folders of older KB versions (ours only: 16 hex digits) an hour after they were
    written; a download still reading a removed file keeps its open handle."""
    now = time.time()
    for folder in keep.parent.iterdir():
        if folder == keep or not _VERSION_DIR.fullmatch(folder.name) or not folder.is_dir():
            continue
        try:
            if now - folder.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass
    with _locks_guard:
        for key in [k for k in _locks if not k.startswith(str(keep))]:
            del _locks[key]


@bp.get("/dumps/")
def index():
    store = kb().store
    version = store.version()
    files = []
    for d in DUMP_FILES:
        path = existing(version, d)
        files.append({"dump": d, "size": path.stat().st_size if path else None})
    return render_template("dumps.html", files=files, version=version, modified=store.last_modified(),
                           license=kb().settings["license"])


@bp.get("/dumps/<name>")
def dump_file(name: str):
    dump = BY_NAME.get(name)
    if dump is None:
        abort(404, description=f"no dump named {name!r}; the dumps are {', '.join(BY_NAME)}")
    store = kb().store
    version = store.version()
    etag = hashlib.sha1(f"{version}|{name}".encode()).hexdigest()[:20]
    if request.if_none_match.contains(etag):
        return not_modified(etag)  # answered without generating (or even touching) the file
    path = generate(store, version, dump)
    resp = send_file(path, mimetype=dump.served_as, as_attachment=False, download_name=name, etag=etag,
                     conditional=True, last_modified=store.last_modified(), max_age=None)
    resp.headers["Cache-Control"] = kb().settings["cache_control"]
    if dump.gzip:
        resp.headers.pop("Content-Encoding", None)
    return resp


def not_modified(etag: str) -> Response:
    resp = Response(status=304)
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = kb().settings["cache_control"]
    return resp
