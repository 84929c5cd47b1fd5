"""Writes on the remote store: one committing request per write, bulk writes staged in chunks.

See kb/store/remote.py for the design; this module holds the write half of `RemoteStore`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Callable, Iterable

import pyoxigraph as ox

from .base import MODIFIED, StoreError
from .remote_protocol import (BLOCK, CHUNK, CREATOR, NAMED_GRAPH, RDF_TYPE, SLOTS, _blocks, _data_op, _data_ops,
                              _datetime)


class RemoteWrites:
    """The write half of RemoteStore (a mixin: it uses the store's `_select`, `_update` and settings)."""

    def staging_graphs(self) -> list[str]:
        """The staging slots that hold triples now (a bulk write going on, or the leftovers of one)."""
        values = " ".join(f"<{g}>" for g in self.slots)
        q = f"SELECT ?g WHERE {{ VALUES ?g {{ {values} }} FILTER EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} }} }}"
        return sorted(r["g"].value for r in self._select(q, None))

    def _leases(self):
        """{slot: (last renewal, writer id)} and the store's clock."""
        rows = list(self._select(f"SELECT ?g ?t ?w (NOW() AS ?now) WHERE {{ OPTIONAL {{ GRAPH <{self.leases}> "
                                 f"{{ ?g <{MODIFIED.value}> ?t OPTIONAL {{ ?g <{CREATOR}> ?w }} }} }} }}", None))
        now = _datetime(rows[0]["now"].value) if rows and rows[0]["now"] is not None else None
        held = {r["g"].value: (_datetime(r["t"].value), r["w"].value if r["w"] is not None else "")
                for r in rows if r["g"] is not None and r["t"] is not None}
        return held, now

    def _renew_text(self, slot: str) -> str:
        """Renew the lease of a staging slot, by the store's own clock (no clock skew between writers)."""
        return (f"DELETE WHERE {{ GRAPH <{self.leases}> {{ <{slot}> <{MODIFIED.value}> ?t }} }} ;\n"
                f"INSERT {{ GRAPH <{self.leases}> {{ <{slot}> <{MODIFIED.value}> ?now }} }} "
                f"WHERE {{ BIND(NOW() AS ?now) }}")

    def _free_text(self, slot: str) -> list[str]:
        return [f"DROP SILENT GRAPH <{slot}>", f"DELETE WHERE {{ GRAPH <{self.leases}> {{ <{slot}> ?p ?o }} }}"]

    def clean_staging(self, older_than: float | None = None) -> list[str]:
        """Empty the staging slots left by interrupted bulk writes: those whose writer has not written a
        chunk for `older_than` seconds (default: twice the remote timeout plus 2 s, the longest a live
        writer can be silent). A writer that is still going renews its lease with every chunk."""
        lease = 2 * self.timeout + 2 if older_than is None else older_than
        held, now = self._leases()
        stale = [g for g, (seen, _) in held.items() if now is None or (now - seen).total_seconds() >= lease]
        stale += [g for g in self.staging_graphs() if g not in held]
        stale = sorted(set(stale))
        if stale:
            self._update(" ;\n".join(op for g in stale for op in self._free_text(g)))
        return stale

    def _claim(self, n: int) -> list[str]:
        """Claim `n` free staging slots (a lease with this writer's id), or fail with a clear message."""
        held, _ = self._leases()
        free = [g for g in self.slots if g not in held]
        random.shuffle(free)
        if len(free) < n:
            raise StoreError(f"write refused, nothing was changed: {SLOTS - len(free)} bulk write(s) are being "
                             f"staged on this store now and {n} staging slot(s) are needed; try again later")
        mine = free[:n]
        ops = []
        for g in mine:
            ops += self._free_text(g)
            ops.append(f"INSERT {{ GRAPH <{self.leases}> {{ <{g}> <{MODIFIED.value}> ?now ; <{CREATOR}> "
                       f"\"{self._writer_id}\" }} }} WHERE {{ BIND(NOW() AS ?now) }}")
        self._update(" ;\n".join(ops))
        held, _ = self._leases()
        if any(held.get(g, (None, ""))[1] != self._writer_id for g in mine):
            lost = [g for g in mine if held.get(g, (None, ""))[1] == self._writer_id]
            self._drop_quietly(lost)
            raise StoreError("write refused, nothing was changed: another writer claimed the same staging "
                             "slot at the same moment; try again")
        return mine

    def apply(self, *, drop: Iterable[str] = (), insert: Iterable[ox.Quad] = (), delete: Iterable[ox.Quad] = (),
              progress: Callable[[str], None] | None = None, history: Iterable[ox.Triple] = ()) -> str:
        drop, insert, delete, history = list(drop), list(insert), list(delete), list(history)
        for g in drop:
            try:
                ox.NamedNode(g)
            except ValueError:
                raise StoreError(f"write refused, nothing was changed: not a graph IRI: {g!r}") from None
        for q in (*insert, *delete):
            if isinstance(q.graph_name, ox.DefaultGraph):
                raise StoreError("the KB stores triples in named graphs only; this quad has no graph: " + str(q))
        version_text, new_version = self._version_update()
        by_graph: dict[str, list[ox.Triple]] = defaultdict(list)
        for q in insert:
            by_graph[q.graph_name.value].append(q.triple)
        with self._write_lock:
            self.clean_staging()
            staged: dict[str, str] = {}
            direct = dict(by_graph)
            if len(insert) > CHUNK:
                biggest = sorted(by_graph, key=lambda g: -len(by_graph[g]))
                big, rest = biggest[:SLOTS], biggest[SLOTS:]
                if sum(len(by_graph[g]) for g in rest) > CHUNK:
                    raise StoreError(f"write refused, nothing was changed: a bulk write into more than {SLOTS} "
                                     "large graphs at once; write them in several imports")
                staged = self._stage({g: by_graph[g] for g in big}, progress)
                direct = {g: by_graph[g] for g in rest}
            # The one request that makes the write visible. Only operations that cannot fail at run time
            # (SILENT graph operations, DATA blocks of terms pyoxigraph checked): Virtuoso runs the request as
            # one transaction (a crash mid-request loses all of it) but does not roll back earlier
            # operations when a later one fails.
            parts = [f"DROP SILENT GRAPH <{g}>" for g in drop]
            if drop:
                parts.append(f"DELETE DATA {{ GRAPH <{self.registry}> {{ "
                             + " ".join(f"<{g}> <{RDF_TYPE}> <{NAMED_GRAPH}> ." for g in drop) + " } }")
            del_by_graph: dict[str, list[ox.Triple]] = defaultdict(list)
            for q in delete:
                del_by_graph[q.graph_name.value].append(q.triple)
            for g, triples in del_by_graph.items():
                parts += _data_ops("DELETE", g, triples)
            for target, stage in staged.items():
                parts.append(f"ADD SILENT <{stage}> TO <{target}>")
                parts += self._free_text(stage)
            for g, triples in direct.items():
                parts += _data_ops("INSERT", g, triples)
            if history:  # kb.history: an unregistered graph, so never part of the KB's union
                parts += _data_ops("INSERT", self.history_graph, history)
            written = sorted({*by_graph, self.iris.meta_graph})
            parts.append(f"INSERT DATA {{ GRAPH <{self.registry}> {{ "
                         + " ".join(f"<{g}> <{RDF_TYPE}> <{NAMED_GRAPH}> ." for g in written) + " } }")
            parts.append(version_text)
            try:
                self._update(" ;\n".join(parts), timeout=max(self.timeout, 600.0) if staged else None)
            except SyntaxError as exc:  # rejected before it ran: nothing changed
                self._drop_quietly(staged.values())
                raise StoreError(f"write failed, nothing was changed: {exc}") from None
            except StoreError:
                self._drop_quietly(staged.values())
                raise
        self._committed()
        if progress and staged:
            progress(f"committed {len(insert)} triples into {len(staged)} graph(s)")
        return new_version

    def _stage(self, by_graph: dict[str, list[ox.Triple]], progress) -> dict[str, str]:
        """Write the triples of each target graph into a staging slot of its own, CHUNK triples per request."""
        targets = sorted(by_graph)
        staged = dict(zip(targets, self._claim(len(targets))))
        total = sum(map(len, by_graph.values()))
        done = 0
        try:
            for target, stage in staged.items():
                ops: list[str] = []
                n = 0
                for block in _blocks(by_graph[target], BLOCK):
                    ops.append(_data_op("INSERT", stage, block))
                    n += len(block)
                    if n >= CHUNK:
                        self._update(" ;\n".join([*ops, self._renew_text(stage)]))
                        done, ops, n = done + n, [], 0
                        if progress:
                            progress(f"staged {done}/{total} triples")
                if ops:
                    self._update(" ;\n".join([*ops, self._renew_text(stage)]))
                    done += n
                    if progress:
                        progress(f"staged {done}/{total} triples")
        except SyntaxError as exc:
            self._drop_quietly(staged.values())
            raise StoreError(f"write failed, nothing was changed: {exc}") from None
        except StoreError:
            self._drop_quietly(staged.values())
            raise
        return staged

    def _drop_quietly(self, graphs: Iterable[str]) -> None:
        graphs = list(graphs)
        if not graphs:
            return
        try:
            self._update(" ;\n".join(op for g in graphs for op in self._free_text(g)))
        except StoreError:
            pass  # the store is gone: the next write removes the leftovers (clean_staging)

    def register_graphs(self, graphs: Iterable[str]) -> str:
        """Make graphs loaded into the engine by other means (e.g. Virtuoso's bulk loader) part of the KB;
        bumps the version. Every app server sees them at its next query (with `virtuoso_exclusions` on, other
        app servers only after a restart: their list of excluded graphs is made once)."""
        graphs = sorted(set(graphs))
        for g in graphs:
            ox.NamedNode(g)  # ValueError for a bad IRI
        version_text, new_version = self._version_update()
        triples = " ".join(f"<{g}> <{RDF_TYPE}> <{NAMED_GRAPH}> ." for g in [*graphs, self.iris.meta_graph])
        with self._write_lock:
            self._update(f"INSERT DATA {{ GRAPH <{self.registry}> {{ {triples} }} }} ;\n{version_text}")
        self._pragmas = None
        self._committed()
        return new_version

    def reset(self) -> None:
        """Drop everything this KB holds on the store: its graphs, the registry, leftover staging graphs.
        (Other graphs on the same engine are left alone.)"""
        graphs = [*self.snapshot(fresh=True).graphs, *self.slots, self.iris.meta_graph, self.registry, self.leases,
                  self.history_graph]
        with self._write_lock:
            self._update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in graphs))
        self._committed()

