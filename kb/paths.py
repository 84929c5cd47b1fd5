"""Where the ontology, the shapes and the curated data live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = PACKAGE.parent
_RESOURCES = PACKAGE / "_resources"


def _first(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


ONTOLOGY_DIR = _first(_CHECKOUT / "ontology", _RESOURCES / "ontology")
SHAPES_DIR = _first(_CHECKOUT / "shapes", _RESOURCES / "shapes")
DATA_DIR = PACKAGE / "data"
CHECKS_DIR = ONTOLOGY_DIR / "checks"


def ontology_files() -> list[Path]:
    return sorted(ONTOLOGY_DIR.glob("*.ttl"))


def shape_files() -> list[Path]:
    return sorted(SHAPES_DIR.glob("*.ttl"))


def data_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.ttl"))


def check_files() -> list[Path]:
    return sorted(CHECKS_DIR.glob("*.rq"))
