"""The SPARQL 1.1 endpoint (`/sparql`): protocol, safety checks, killable workers, cache, limits."""
