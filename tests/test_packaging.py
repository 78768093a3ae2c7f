"""Packaging: a built wheel carries the task definitions."""
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_built_wheel_carries_the_task_definitions_and_finds_them(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(REPO),
                            "-w", str(tmp_path / "wheel")], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp_path / "wheel").glob("crossdomain-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    definitions = sorted(n for n in names if n.startswith("crossdomain/task_definitions/") and n.endswith(".yaml"))
    shipped = sorted(f"crossdomain/task_definitions/{p.relative_to(REPO / 'datasets').as_posix()}"
                     for p in (REPO / "datasets").glob("*/*.yaml"))
    assert definitions == shipped and len(shipped) >= 10, definitions
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "crossdomain").rglob("*.py")}
    assert modules <= set(names), sorted(modules - set(names))  # every subpackage is listed in pyproject.toml
    target = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(target)  # what a non-editable install puts on sys.path
    code = "from crossdomain.data.tasks import available_tasks; print(sorted(available_tasks()))"
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(target)},
                            capture_output=True, text=True, cwd=tmp_path)
    assert "dna/splice" in result.stdout and "music/region" in result.stdout, result.stderr


def pinned_versions() -> dict:
    """The ``pinned`` extra of the installed package's metadata: library name -> version."""
    from importlib.metadata import requires

    pins = {}
    for requirement in requires("crossdomain") or []:
        spec, _, marker = requirement.partition(";")
        if "extra" in marker and "pinned" in marker and "==" in spec:
            name, _, pinned = spec.partition("==")
            pins[name.strip().lower()] = pinned.strip()
    return pins


def test_the_pinned_set_up_installs_what_the_committed_reference_run_recorded():
    from collections import Counter

    from crossdomain.record import load_records
    from crossdomain.run.provenance import NUMERIC_LIBRARIES

    pins = pinned_versions()
    torch_pin = re.search(r"pip install torch==(\S+)", (REPO / "README.md").read_text(encoding="utf-8"))
    assert torch_pin, "the README's set-up line pins torch"
    pins["torch"] = torch_pin.group(1)
    assert set(NUMERIC_LIBRARIES) <= set(pins), sorted(set(NUMERIC_LIBRARIES) - set(pins))
    records = [r for r in load_records(REPO / "runs" / "reference-cpu" / "units") if r.ok and not r.is_baseline]
    assert len(records) > 50
    for name, pinned in pins.items():
        recorded = Counter(v for r in records if (v := (r.libraries or {}).get(name)))
        if recorded:  # libraries the run did not yet record (accelerate, tokenizers) are pinned as installed
            assert recorded.most_common(1)[0][0].split("+")[0] == pinned, (name, pinned, recorded)


def test_a_dirty_tree_names_its_changed_files_in_full(tmp_path):
    """A unit run from an edited tree records which tracked files differ; a change not yet staged (porcelain
    " M path") once lost the path's first character with the line's leading space."""
    from crossdomain.run.provenance import git_state

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    for name in ("alpha.py", "beta.py"):
        (tmp_path / name).write_text("x = 1\n")
    git("add", "alpha.py", "beta.py")
    git("commit", "-q", "-m", "start")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "alpha.py").write_text("x = 2\n")  # changed, not staged
    (tmp_path / "beta.py").write_text("x = 3\n")
    git("add", "beta.py")  # changed and staged
    state = git_state(tmp_path)
    assert state["dirty"] is True and sorted(state["changed"]) == ["alpha.py", "beta.py"]
