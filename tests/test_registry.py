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


def test_a_name_registered_twice_for_different_objects_is_refused_naming_both():
    from crossdomain.registry import RegistryError

    registry = Registry("thing")
    registry.register("counter", "collections:Counter")
    registry.register("counter", "collections:Counter")  # the same entry again: fine
    from collections import Counter, OrderedDict

    registry.register("counter", Counter)  # the lazy entry upgraded to the class it names: fine
    assert registry._entries["counter"] is Counter
    with pytest.raises(RegistryError, match=r"'counter' is already registered as collections:Counter; refusing "
                                            r"collections:OrderedDict"):
        registry.register("counter", OrderedDict)


def test_an_object_of_the_wrong_base_class_is_a_type_error_eagerly_or_when_loaded():
    class Base:
        pass

    registry = Registry("thing", base=Base)
    with pytest.raises(TypeError, match=r"thing 'int': builtins:int is not a subclass of .*Base"):
        registry.register("int", int)
    registry.register("lazy-int", "builtins:int")
    with pytest.raises(TypeError, match=r"thing 'lazy-int': builtins:int is not a subclass"):
        registry.get("lazy-int")


def test_a_plugin_with_a_built_in_name_is_ignored_with_a_warning_naming_both(monkeypatch):
    from importlib.metadata import EntryPoint

    import crossdomain.registry as registry_module

    plugin = EntryPoint(name="dna", value="my_plugin:MyDNA", group="crossdomain.test")
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [plugin])
    registry = Registry("adapter", entry_point_group="crossdomain.test")
    registry.register("dna", "crossdomain.adapters.dna:DNAAdapter")
    with pytest.warns(UserWarning, match=r"plugin 'dna' \(my_plugin:MyDNA.*built-in "
                                         r"crossdomain.adapters.dna:DNAAdapter; the built-in is kept"):
        assert registry.names() == ["dna"]
    assert registry._entries["dna"] == "crossdomain.adapters.dna:DNAAdapter"


def test_every_built_in_of_every_registry_loads_and_has_its_base_class():
    from crossdomain.baselines import BASELINES
    from crossdomain.executors import EXECUTORS
    from crossdomain.inits import INITS
    from crossdomain.training.hooks import HOOKS
    from crossdomain.training.mapping import MAPPINGS

    for registry in (ADAPTERS, BASELINES, EXECUTORS, HOOKS, INITS, MAPPINGS):
        for name in registry.names():
            assert issubclass(registry.get(name), registry.base), (registry.kind, name)


def test_every_built_in_entry_of_every_registry_loads():
    """A module renamed or added to a plugin package must be an entry that loads, or be listed as infrastructure."""
    from crossdomain.adapters import ADAPTERS
    from crossdomain.analysis import ANALYSES
    from crossdomain.baselines import BASELINES
    from crossdomain.executors import EXECUTORS
    from crossdomain.inits import INITS
    from crossdomain.training.hooks import HOOKS
    from crossdomain.training.mapping import MAPPINGS

    for registry in (ADAPTERS, ANALYSES, BASELINES, EXECUTORS, INITS, HOOKS, MAPPINGS):
        for name in registry.names():
            assert registry.get(name) is not None, (registry.kind, name)
    assert set(ANALYSES.names()) >= {"probes", "embeddings", "attention", "layer-change"}
    assert not set(ANALYSES.names()) & {"analyze", "representations", "context", "figures", "cka"}
