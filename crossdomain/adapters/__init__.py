"""Domain adapters. Built-ins load lazily; plugins register via the ``crossdomain.adapters`` entry-point group."""
from __future__ import annotations

from crossdomain.adapters.base import Adapter, AdapterError, RawRecord, Record, UnknownSymbolError
from crossdomain.registry import Registry

ADAPTERS: Registry[type[Adapter]] = Registry("adapter", entry_point_group="crossdomain.adapters", base=Adapter)
ADAPTERS.register("dna", "crossdomain.adapters.dna:DNAAdapter")
ADAPTERS.register("protein", "crossdomain.adapters.protein:ProteinAdapter")
ADAPTERS.register("music", "crossdomain.adapters.music:MusicAdapter")


def register_adapter(name: str):
    """Class decorator: ``@register_adapter("smiles") class SmilesAdapter(Adapter): ...``."""

    def decorator(cls: type[Adapter]) -> type[Adapter]:
        cls.name = name
        ADAPTERS.register(name, cls)
        return cls

    return decorator


__all__ = ["ADAPTERS", "Adapter", "AdapterError", "RawRecord", "Record", "UnknownSymbolError", "register_adapter"]
