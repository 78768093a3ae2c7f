import pytest

from crossdomain.adapters import ADAPTERS
from crossdomain.registry import Registry, UnknownNameError


def test_unknown_name_suggests_closest():
    with pytest.raises(UnknownNameError, match=r"Did you mean 'protein'"):
        ADAPTERS.get("protien")


def test_builtins_load_lazily():
    registry = Registry("thing")
    registry.register("counter", "collections:Counter")
    assert registry._entries["counter"] == "collections:Counter"  # nothing imported yet
    from collections import Counter

    assert registry.get("counter") is Counter


def test_decorator_registration():
    registry = Registry("thing")

    @registry.register("mine")
    class Mine:
        pass

    assert registry.get("mine") is Mine
    assert registry.names() == ["mine"]
