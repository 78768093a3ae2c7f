"""The package's shape, kept by tests: lint clean, few top-level modules, imports that follow the pipeline."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "crossdomain"
# pipeline order: a module may import its own stage and earlier ones, never a later one; the top-level
# modules (config, registry, metrics, record, atomic) are shared by all and import no stage
STAGES = {"adapters": 0, "data": 1, "inits": 2, "baselines": 2, "training": 2, "executors": 3, "run": 3,
          "report": 4, "analysis": 4, "bench": 4, "cli": 5, "__main__": 6}


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def import_graph() -> dict[str, set[str]]:
    """module → the crossdomain modules it imports, at the top or inside functions."""
    modules = module_names()

    def resolve(target: str) -> str:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target

    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crossdomain"):
                targets |= {resolve(f"{node.module}.{alias.name}") or resolve(node.module) for alias in node.names}
            elif isinstance(node, ast.Import):
                targets |= {resolve(alias.name) for alias in node.names if alias.name.startswith("crossdomain")}
        graph[name] = targets - {name, ""}
    return graph


def stage(module: str) -> int:
    part = module.split(".")[1] if "." in module else ""
    return STAGES.get(part, -1)


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    result = subprocess.run([ruff, "check", "crossdomain", "tests"], cwd=PACKAGE.parent, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_at_most_twelve_top_level_modules():
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top


def test_no_import_circle():
    graph = import_graph()
    seen, cycles = {}, []

    def visit(node, path):
        seen[node] = "open"
        for target in sorted(graph[node]):
            if seen.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in seen:
                visit(target, path + [target])
        seen[node] = "done"

    for module in sorted(graph):
        if module not in seen:
            visit(module, [module])
    assert cycles == []


def test_no_import_from_a_later_stage():
    upward = [(module, target) for module, targets in import_graph().items() for target in sorted(targets)
              if stage(target) > stage(module) and stage(module) >= 0]
    shared_importing_stages = [(module, target) for module, targets in import_graph().items()
                               for target in sorted(targets) if stage(module) == -1 and module != "crossdomain"
                               and stage(target) >= 0]
    assert upward == [] and shared_importing_stages == []


def test_exactly_one_module_builds_a_transformers_trainer():
    builders = []
    for name, path in module_names().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Trainer"]
        subclasses = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)
                      and any(getattr(b, "id", "") == "Trainer" for b in n.bases)]
        if calls or subclasses:
            builders.append(name)
    assert builders == ["crossdomain.training.trainer"]


def test_the_old_module_names_import_the_moved_modules_with_a_warning():
    code = ("import warnings; warnings.simplefilter('error')\n"
            "try:\n    import crossdomain.trainer\nexcept DeprecationWarning as w:\n    print(w)\n"
            "import crossdomain.training.trainer as new\n"
            "warnings.simplefilter('ignore')\nimport crossdomain.runner as old\nimport crossdomain.run.grid as grid\n"
            "print(old is grid)")
    result = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True)
    assert result.stdout.splitlines() == [
        "crossdomain.trainer moved to crossdomain.training.trainer; the old name will be removed in 0.3", "True"], \
        result.stderr


def test_every_crossdomain_import_names_something_that_exists():
    """Imports inside functions run late: a name a move left behind fails here, not in a user's run."""
    import importlib

    missing = []
    paths = [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "tests").rglob("*.py")]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crossdomain"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    if not hasattr(module, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            missing.append(f"{path.name}:{node.lineno}: {node.module}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("crossdomain"):
                        importlib.import_module(alias.name)
    assert missing == []
