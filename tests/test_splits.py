"""Splits (crossdomain.data.splits): ratios and class sizes checked, with the file named."""
import hashlib

import pytest

from crossdomain.adapters import AdapterError
from tests.conftest import motif_task, write_task


def test_split_ratios_of_the_wrong_length_name_the_file(tmp_path):
    from crossdomain.config import ConfigError
    from crossdomain.data.tasks import load_task_file

    path = write_task(tmp_path, "dna/odd", """
name: dna/odd
adapter: dna
version: "1"
description: two ratios
labels: [a, b]
sources: [{name: x, path: x.fa, sha256: "0"}]
split: {kind: stratified, ratios: [0.8, 0.2]}
""")
    with pytest.raises(ConfigError, match=r"odd\.yaml: split\.ratios must be three positive"):
        load_task_file(path)
    path.write_text(path.read_text().replace("[0.8, 0.2]", "[0.8, 0.1, 0.1]").replace("x.fa", "../../etc/passwd"))
    with pytest.raises(ConfigError, match=r"path '\.\./\.\./etc/passwd' must be relative, without '\.\.'"):
        load_task_file(path)
    path.write_text(path.read_text().replace("../../etc/passwd", "x.fa").replace("adapter: dna", "adapter: dan"))
    with pytest.raises(ConfigError, match=r"adapter 'dan' is not registered\. Did you mean 'dna'"):
        load_task_file(path)


def test_a_class_too_small_to_split_is_named(tmp_path, monkeypatch):
    from crossdomain.data.prepare import prepare_task
    from crossdomain.data.tasks import get_task

    root = motif_task(tmp_path)
    data = root / "mirror" / "motif.fa"
    data.write_text("".join(f">n{i} no\nACACACTT\n" for i in range(40)) + ">y0 yes\nACGGGT\n")
    task_file = root / "tasks" / "synthetic" / "motif.yaml"
    old = task_file.read_text().split('sha256: "')[1].split('"')[0]
    task_file.write_text(task_file.read_text().replace(old, hashlib.sha256(data.read_bytes()).hexdigest()))
    monkeypatch.setenv("CROSSDOMAIN_TASKS", str(root / "tasks"))
    monkeypatch.setenv("CROSSDOMAIN_DATA", str(root / "mirror"))
    get_task.cache_clear()
    try:
        with pytest.raises(AdapterError, match=r"motif\.yaml: cannot make the stratified split.*'yes': 1"):
            prepare_task("synthetic/motif", use_cache=False)
    finally:
        get_task.cache_clear()
