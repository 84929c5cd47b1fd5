"""Open the store named by the `store` setting."""

from __future__ import annotations

from typing import Any, Mapping

from ..namespaces import Iris
from .base import QueryTimeout, Store, StoreError, StoreLocked, StoreUnavailable

__all__ = ["open_store", "Store", "StoreError", "StoreLocked", "StoreUnavailable", "QueryTimeout"]


def open_store(settings: Mapping[str, Any], *, read_only: bool = False) -> Store:
    location = str(settings["store"])
    iris = Iris(settings["base_iri"])
    if location.startswith("sparql+"):
        from .remote import RemoteStore  # the remote implementation lives in its own module

        return RemoteStore(iris, location[len("sparql+"):], settings)
    from .oxigraph import OxigraphStore

    if location == "memory":
        return OxigraphStore(iris, None)
    return OxigraphStore(iris, location, read_only=read_only)
