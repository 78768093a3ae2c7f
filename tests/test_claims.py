"""Claims (crossdomain.run.claims): one runner per unit, complete the moment they exist, stale ones taken over."""
import json
import multiprocessing
import os
import time
from pathlib import Path

from crossdomain.run import claims


def test_a_claim_is_exclusive_and_a_dead_processes_claim_is_taken_over(tmp_path):
    units = tmp_path / "units"
    mine = claims.try_claim(units, "u1")
    assert mine is not None and claims.try_claim(units, "u1") is None  # held by this live process
    claims.release(mine)
    dead = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    dead.start()
    dead.join()
    (units / "u2.claim").write_text(json.dumps({"host": os.uname().nodename, "pid": dead.pid, "since": time.time()}))
    assert claims.try_claim(units, "u2") is not None  # stale: its process is gone


def test_a_claim_is_complete_the_moment_it_exists_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    units = tmp_path / "units"
    seen = []
    real_link = os.link

    def link(source, target):  # the content must be there before the claim appears under its name
        seen.append(json.loads(Path(source).read_text()))
        return real_link(source, target)

    monkeypatch.setattr(claims.os, "link", link)
    path = claims.try_claim(units, "u1")
    assert seen and seen[0]["pid"] == os.getpid() and claims.read_claim(path).pid == os.getpid()
    assert sorted(p.name for p in units.iterdir()) == ["u1.claim"]


def test_the_claims_holder_discards_the_staging_a_killed_attempt_left_and_nothing_else(tmp_path, monkeypatch):
    from crossdomain.config import apply_overrides
    from crossdomain.run import grid, units
    from crossdomain.run.suites import load_suite

    suite = apply_overrides(load_suite("smoke"), ["tasks=[dna/splice]", "seeds=[0,1]"])
    mine, other = grid.expand_units(suite)[:2]
    folder = tmp_path / "units"
    abandoned = folder / f".{mine.unit_id}.k1ll3d.artifacts"
    (abandoned / "save-model").mkdir(parents=True)
    kept = [folder / f".{other.unit_id}.x9.artifacts", folder / f"{mine.unit_id}x.y.artifacts"]
    for path in kept:
        path.mkdir()
    seen = []
    monkeypatch.setattr(units, "run_unit", lambda unit, out: seen.append(abandoned.exists()))
    units.claim_and_run(mine, tmp_path)
    assert seen == [False]  # gone before the unit ran
    assert all(path.exists() for path in kept)  # another unit's staging (maybe live) and look-alikes stay

    (abandoned / "save-model").mkdir(parents=True)
    held = claims.try_claim(folder, mine.unit_id)
    assert units.claim_and_run(mine, tmp_path) is None and abandoned.exists()  # not the holder: nothing touched
    claims.release(held)
