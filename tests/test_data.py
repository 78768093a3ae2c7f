"""Task data preparation (crossdomain.data.prepare): bad files named, duplicate ids, the JSON records cache."""
import gzip
import hashlib
import json
import sys
from pathlib import Path

import pytest

from crossdomain.adapters import AdapterError


@pytest.mark.parametrize("content, message", [
    (b"EI,  ATT-1, ACGT\n\x00\x01binary", r"binary file \(NUL byte at offset 17\)"),
    (b"EI,  ATT-1, ACGT\nIE, ATT-2, AC\xff\xfeGT\n", r"bad\.data:2: not UTF-8 text \(byte 30"),
])
def test_binary_and_non_utf8_files_are_named_with_line_and_byte(tmp_path, content, message):
    from crossdomain.adapters.dna import DNAAdapter

    path = tmp_path / "bad.data"
    path.write_bytes(content)
    with pytest.raises(AdapterError, match=message):
        list(DNAAdapter().read({"x": [path]}))


def test_ids_seen_with_two_sequences_are_counted_and_dropped(synthetic):
    from crossdomain.data.prepare import prepare_task
    from crossdomain.data.tasks import get_task

    data = synthetic / "mirror" / "motif.fa"
    data.write_text(data.read_text() + ">s0 no\nACACACACACACACACACACACAC\n")
    task_file = synthetic / "tasks" / "synthetic" / "motif.yaml"
    old = task_file.read_text().split('sha256: "')[1].split('"')[0]
    task_file.write_text(task_file.read_text().replace(old, hashlib.sha256(data.read_bytes()).hexdigest()))
    get_task.cache_clear()
    prepared = prepare_task("synthetic/motif", use_cache=False)
    assert prepared.stats["ids_with_different_sequences"] == 1
    assert prepared.stats["dropped"]["same id, different sequences"] == 2
    assert "s0" not in {r.id for r in prepared.records}


def test_records_cache_is_json_and_a_corrupt_one_is_rebuilt(synthetic, monkeypatch):
    from crossdomain.data.prepare import prepare_task
    from crossdomain.data.sources import cache_dir

    monkeypatch.setenv("CROSSDOMAIN_CACHE", str(synthetic / "cache"))
    first = prepare_task("synthetic/motif")
    cached = list((cache_dir() / "records").glob("synthetic-motif-*.jsonl.gz"))
    assert len(cached) == 1
    with gzip.open(cached[0], "rt") as handle:
        assert json.loads(handle.readline())["records"] == len(first.records)
    cached[0].write_bytes(gzip.compress(b'{"format": 1, "counts": {}, "alphabet": [], "records": 5}\n[1, 2'))
    with pytest.warns(UserWarning, match="corrupt records cache"):
        again = prepare_task("synthetic/motif")
    assert [r.symbols for r in again.records] == [r.symbols for r in first.records]


def test_the_cache_key_covers_the_adapters_code(tmp_path, monkeypatch):
    from crossdomain.adapters import ADAPTERS
    from crossdomain.adapters.dna import DNAAdapter
    from crossdomain.data.prepare import adapter_code_sha256

    # the edited copy registers itself as "dna" again: in a scratch registry, since a second "dna" is refused
    monkeypatch.setattr(ADAPTERS, "_entries", {k: v for k, v in ADAPTERS._entries.items() if k != "dna"})

    before = adapter_code_sha256(DNAAdapter)
    source = tmp_path / "edited_dna.py"
    source.write_text(Path(sys.modules[DNAAdapter.__module__].__file__).read_text() + "\n# edited\n")
    import importlib.util

    spec = importlib.util.spec_from_file_location("edited_dna", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    edited = adapter_code_sha256(module.DNAAdapter)
    assert edited != before
    source.write_text(source.read_text() + "# edited again while the class is loaded\n")
    assert adapter_code_sha256(module.DNAAdapter) == edited  # the key is of the code that runs, not the file now
