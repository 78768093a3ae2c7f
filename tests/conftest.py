import os
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
    from crossdomain.models import make_tiny_checkpoint, tiny_checkpoint_path

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
    from crossdomain.models import load_tokenizer, resolve_model

    return load_tokenizer(resolve_model("tiny"))


def write_task(directory: Path, name: str, body: str) -> Path:
    """Write a task definition YAML under ``directory/<domain>/<task>.yaml``."""
    path = directory / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path
