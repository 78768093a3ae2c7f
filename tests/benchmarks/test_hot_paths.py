"""CPU-side hot paths, for pytest-benchmark (skipped in the normal test run).

    python -m pytest --benchmark-only --benchmark-enable tests/benchmarks
"""
import pytest

from crossdomain.adapters import ADAPTERS
from crossdomain.data.prepare import prepare_task
from crossdomain.training.mapping import build_mapping, encode
from crossdomain.training.trainer import PadCollator


@pytest.fixture(scope="module")
def splice(mirror):
    return prepare_task("dna/splice", (str(mirror),), use_cache=False)


def test_parse_splice_file(benchmark, mirror):
    path = mirror / "uci_splice" / "splice.data"
    records = benchmark(lambda: list(ADAPTERS.get("dna")(unknown="replace").read({"splice": [path]})))
    assert len(records) == 3190


def test_parse_multiloc_fasta(benchmark, mirror):
    path = mirror / "multiloc" / "merged_multiloc.fasta"
    records = benchmark(lambda: list(ADAPTERS.get("protein")(unknown="replace").read({"multiloc": [path]})))
    assert len(records) == 5959


def test_encode_splice(benchmark, splice, tokenizer):
    ids = build_mapping("random", splice.alphabet, tokenizer, 0).ids()
    encoded = benchmark(lambda: [encode(r.symbols, ids, 101, 102, 64, "head") for r in splice.records])
    assert len(encoded) == len(splice.records) and len(encoded[0]) == 62


def test_collate_batches(benchmark, splice, tokenizer):
    ids = build_mapping("random", splice.alphabet, tokenizer, 0).ids()
    items = [{"input_ids": encode(r.symbols, ids, 101, 102, 64, "head"), "labels": 0} for r in splice.records[:1024]]
    collate = PadCollator(0)
    batches = benchmark(lambda: [collate(items[i:i + 32]) for i in range(0, len(items), 32)])
    assert batches[0]["input_ids"].shape == (32, 62)
