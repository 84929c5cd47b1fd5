"""The query mix: `bench/queries/*.rq` templates whose `{{name}}` placeholders take values from the
generator's parameter pools (`<data>.params.json`), so that repeated requests ask different questions."""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

QUERY_DIR = Path(__file__).resolve().parent / "queries"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    description: str

    @property
    def params(self) -> list[str]:
        return sorted(set(PLACEHOLDER.findall(self.text)))

    def render(self, pools: dict[str, list[str]], i: int) -> str:
        """The i-th variant: each parameter takes a value from its pool (different parameters step
        differently, so that variants do not repeat before the pools are exhausted)."""
        def value(m: re.Match) -> str:
            pool = pools[m.group(1)]
            k = self.params.index(m.group(1))
            return pool[(i * (k + 1) + k * 7) % len(pool)]
        return PLACEHOLDER.sub(value, self.text)

    def distinct(self, pools: dict[str, list[str]]) -> int:
        n = 1
        for p in self.params:
            n *= len(pools[p])
        return n


def templates() -> list[Template]:
    out = []
    for f in sorted(QUERY_DIR.glob("*.rq")):
        text = f.read_text(encoding="utf-8")
        first = text.splitlines()[0] if text else ""
        out.append(Template(f.stem, text, first.lstrip("# ").strip()))
    return out


def load_pools(data_file: Path) -> dict[str, list[str]]:
    return json.loads(Path(str(data_file) + ".params.json").read_text(encoding="utf-8"))


def query_path(endpoint_path: str, sparql: str, nonce: str | int | None = None) -> str:
    """The request target of a GET query (path + query string). A nonce adds a comment line that makes
    the text unique, so that no response cache answers it (every peer evaluates every request)."""
    if nonce is not None:
        sparql = f"{sparql.rstrip()}\n# bench request {nonce}\n"
    return f"{endpoint_path}?{urllib.parse.urlencode({'query': sparql})}"


def mix(pools: dict[str, list[str]], n: int) -> list[tuple[str, str]]:
    """n (template name, query) pairs cycling through the templates with new parameters each round."""
    ts = templates()
    return [(ts[i % len(ts)].name, ts[i % len(ts)].render(pools, i // len(ts))) for i in range(n)]


def mix_paths(endpoint_path: str, pools: dict[str, list[str]], n: int = 5000) -> list[str]:
    """Request targets of the concurrent mix: n unique requests (more than thb-kb's response cache holds,
    which wrk's cyclic order then never hits)."""
    return [query_path(endpoint_path, q, i) for i, (_, q) in enumerate(mix(pools, n))]
