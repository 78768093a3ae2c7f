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
