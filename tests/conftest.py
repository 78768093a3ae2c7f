import hashlib
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the Hub

MIRROR = Path(os.environ.get("CROSSDOMAIN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def pytest_collection_modifyitems(config, items):
    """A test marked ``mirror`` reads the real data mirror: skipped, with the reason, where there is none."""
    if MIRROR.is_dir():
        return
    skip = pytest.mark.skip(reason=f"data mirror not found at {MIRROR} (set CROSSDOMAIN_DATA)")
    for item in items:
        if "mirror" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Every test session gets its own cache, with the tiny "pretrained" checkpoint made here."""
    cache = os.environ.get("CROSSDOMAIN_TEST_CACHE") or str(tmp_path_factory.mktemp("cache"))
    previous = os.environ.get("CROSSDOMAIN_CACHE")
    os.environ["CROSSDOMAIN_CACHE"] = cache
    from crossdomain.training.models import make_tiny_checkpoint, tiny_checkpoint_path

    make_tiny_checkpoint(tiny_checkpoint_path())
    yield Path(cache)
    if previous is None:
        os.environ.pop("CROSSDOMAIN_CACHE", None)
    else:
        os.environ["CROSSDOMAIN_CACHE"] = previous


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not (MIRROR / "uci_splice" / "splice.data").exists():
        pytest.skip(f"data mirror not found at {MIRROR} (set CROSSDOMAIN_DATA)")
    return MIRROR


@pytest.fixture(scope="session")
def tokenizer():
    from crossdomain.training.models import load_tokenizer, resolve_model

    return load_tokenizer(resolve_model("tiny"))


def write_task(directory: Path, name: str, body: str) -> Path:
    """Write a task definition YAML under ``directory/<domain>/<task>.yaml``."""
    path = directory / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def motif_task(tmp_path: Path, n: int = 240, name: str = "synthetic/motif") -> Path:
    """A task with an unmistakable signal: 'yes' sequences contain the base G, 'no' sequences never do."""
    rng = random.Random(0)
    lines = []
    for i in range(n):
        label = "yes" if i % 2 else "no"
        bases = [rng.choice("ACT") for _ in range(24)]
        if label == "yes":
            for position in rng.sample(range(24), 3):
                bases[position] = "G"
        lines += [f">s{i} {label}", "".join(bases)]
    data = tmp_path / "mirror" / "motif.fa"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("\n".join(lines) + "\n")
    write_task(tmp_path / "tasks", name, f"""
name: {name}
adapter: dna
version: "1"
description: class is whether the base G occurs
labels: ["no", "yes"]
reader: {{format: fasta}}
sources: [{{name: motif, path: motif.fa, sha256: "{hashlib.sha256(data.read_bytes()).hexdigest()}"}}]
split: {{kind: stratified, ratios: [0.7, 0.15, 0.15], seed: 0}}
primary_metric: accuracy
""")
    return tmp_path


@pytest.fixture
def synthetic(tmp_path, monkeypatch):
    from crossdomain.data.prepare import prepare_task_cached
    from crossdomain.data.tasks import get_task

    root = motif_task(tmp_path)
    monkeypatch.setenv("CROSSDOMAIN_TASKS", str(root / "tasks"))
    monkeypatch.setenv("CROSSDOMAIN_DATA", str(root / "mirror"))
    get_task.cache_clear()
    prepare_task_cached.cache_clear()
    yield root
    get_task.cache_clear()
    prepare_task_cached.cache_clear()
