"""Executors give the same units and metrics as a sequential run; concurrent runners never duplicate a unit."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from crossdomain.cli import main
from crossdomain.config import apply_overrides
from crossdomain.executors import ExecutorOptions, make_executor
from crossdomain.run import claims
from crossdomain.run import grid as runner
from crossdomain.run.suites import load_suite

REPO = Path(__file__).resolve().parents[1]


def small_suite():
    return apply_overrides(load_suite("smoke"), ["tasks=[dna/splice]", "seeds=[0,1]", "train.max_steps=6",
                                                  "train.eval_every=3", "execution.threads=1"])


def outcomes(out: Path) -> dict:
    return {r.unit_id: ([p["dev"] for p in r.curve], r.metrics["primary"], r.metrics["accuracy"])
            for r in runner.load_unit_records(out)}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and len(a) == 4
    for unit_id in a:
        curve_a, primary_a, accuracy_a = a[unit_id]
        curve_b, primary_b, accuracy_b = b[unit_id]
        assert max(abs(x - y) for x, y in zip(curve_a, curve_b)) <= 1e-6, unit_id
        assert abs(primary_a - primary_b) <= 1e-6 and abs(accuracy_a - accuracy_b) <= 1e-6, unit_id


def run_until_the_first_unit_is_done(suite, out: Path) -> list:
    """Run the suite and interrupt it once the first unit is done; returns that unit's record in a list."""
    seen = []

    def stop_after_one(record):
        seen.append(record)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run_suite(suite, out, progress=False, on_unit_done=stop_after_one)
    return seen


@pytest.fixture(scope="module")
def sequential_run(tmp_path_factory, mirror):
    out = tmp_path_factory.mktemp("sequential")
    runner.run_suite(small_suite(), out, progress=False)
    return outcomes(out)


@pytest.mark.mirror
def test_processes_executor_matches_the_sequential_run(tmp_path, sequential_run):
    out = tmp_path / "processes"
    executor = make_executor("processes", ExecutorOptions(workers=2, threads_per_worker=1))
    runner.run_suite(small_suite(), out, progress=False, executor=executor)
    assert_same(outcomes(out), sequential_run)
    plan = json.loads((out / "run.json").read_text())
    assert plan["executor"]["executor"] == "processes" and plan["executor"]["workers"] == 2
    assert not list((out / "units").glob("*.claim"))  # every claim released


@pytest.mark.mirror
def test_submitit_local_executor_matches_the_sequential_run(tmp_path, sequential_run):
    pytest.importorskip("submitit")
    from crossdomain.executors.slurm import Slurm

    executor = Slurm(ExecutorOptions(slurm_time_min=10, slurm_cpus=1, slurm_mem_gb=2))
    executor.cluster = "local"
    out = tmp_path / "slurm"
    runner.run_suite(small_suite(), out, progress=False, executor=executor)
    assert_same(outcomes(out), sequential_run)
    assert list((out / "slurm").rglob("*_log.out"))  # submitit's logs under <out>/slurm/


def test_slurm_dry_run_prints_the_submission_and_runs_nothing(tmp_path, capsys):
    out = tmp_path / "dry"
    assert main(["run", "--suite", "smoke", "--executor", "slurm", "--dry-run", "--slurm-partition", "gpu",
                 "--slurm-gpus", "1", "--out", str(out), "--no-progress"]) == 0
    submission = json.loads(capsys.readouterr().out)
    assert submission["array_size"] == 8 and submission["parameters"]["slurm_partition"] == "gpu"
    assert submission["parameters"]["gpus_per_node"] == 1 and submission["folder"].endswith("slurm")
    assert not (out / "units").exists() or not list((out / "units").glob("*.json"))


@pytest.mark.mirror
def test_two_concurrent_runs_on_one_folder_run_every_unit_exactly_once(tmp_path):
    out = tmp_path / "shared"
    command = [sys.executable, "-m", "crossdomain", "run", "--suite", "smoke", "--tasks", "dna/splice", "--seeds",
               "0", "1", "--out", str(out), "--no-progress", "--no-report", "--set", "train.max_steps=6",
               "--set", "train.eval_every=3", "--set", "execution.threads=1"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ran = 0
    for process in (first, second):
        stdout, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
        ran += int(re.search(r"(\d+) run by this process", stdout).group(1))
    assert ran == 4  # together they ran each of the 4 units once; neither ran a unit the other had claimed or done
    records = runner.load_unit_records(out)
    assert len(records) == 4 and all(r.ok for r in records)
    results = pd.read_csv(out / "results.csv")
    assert sorted(results["unit_id"]) == sorted(r.unit_id for r in records)
    assert not list((out / "units").glob("*.claim"))


def test_workers_die_with_their_coordinator(tmp_path):
    """Killing a `run --executor processes` must not leave workers training on as orphans."""
    script = tmp_path / "coordinator.py"
    script.write_text(
        "import sys, time\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "import multiprocessing\n"
        "from crossdomain.executors.processes import _start_worker\n"
        "if __name__ == '__main__':\n"
        "    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn'), initializer=_start_worker,\n"
        "                              initargs=(None,))\n"
        "    print(pool.submit(__import__('os').getpid).result(), flush=True)\n"
        "    pool.submit(time.sleep, 60)  # the worker is busy (training, say) when its coordinator dies\n"
        "    time.sleep(60)\n")
    coordinator = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONPATH": str(REPO)})
    worker = int(coordinator.stdout.readline())
    time.sleep(1)
    coordinator.kill()
    coordinator.wait()
    for _ in range(50):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, 9)
    pytest.fail("the worker outlived its coordinator")


def test_a_preempted_slurm_task_gives_its_claim_back_before_it_is_requeued(tmp_path):
    pytest.importorskip("submitit")
    from crossdomain.executors.slurm import UnitJob

    unit = runner.expand_units(small_suite())[0]
    claim = claims.try_claim(tmp_path / "units", unit.unit_id)
    requeued = UnitJob(unit, str(tmp_path)).checkpoint()
    assert not claim.exists()  # else the requeued task, on another node, would find it held for a day
    assert requeued.function.unit == unit
    claim.write_text(json.dumps({"host": "elsewhere", "pid": 1, "since": time.time()}))
    UnitJob(unit, str(tmp_path)).checkpoint()
    assert claim.exists()  # a claim of another process is never touched


def test_the_auto_executor_uses_single_thread_workers_on_a_cpu_and_the_same_thread_for_a_lone_unit(monkeypatch):
    from crossdomain.executors import auto, processes, sequential

    calls = []
    monkeypatch.setattr(auto, "gpu_count", lambda: 0)
    monkeypatch.setattr(auto, "cpu_count", lambda: 4)
    monkeypatch.setattr(auto, "memory_gb", lambda: 9.0)  # room for 3 workers of 3 GB
    monkeypatch.setattr(processes.Processes, "run", lambda self, units, o, r: calls.append(("processes", self.plan(), units)))
    monkeypatch.setattr(sequential.Sequential, "run", lambda self, units, o, r: calls.append(("sequential", None, units)))
    monkeypatch.setattr(processes, "cpu_count", lambda: 4)
    monkeypatch.setattr(processes, "gpu_count", lambda: 0)
    executor = make_executor("auto")
    assert executor.describe()["executor"] == "auto (processes)" and executor.describe()["workers"] == 3
    units = runner.expand_units(small_suite())
    executor.run(units, Path("out"), None)
    executor.run(units[:1], Path("out"), None)
    (kind, plan, ran), (lone_kind, _, lone) = calls
    assert kind == "processes" and plan[:2] == (3, 1) and all(u.execution.threads == 1 for u in ran)
    assert lone_kind == "sequential" and lone[0].execution.threads == 1  # the same single thread, in this process
    assert [u.unit_id for u in ran] == [u.unit_id for u in units]  # threads are not part of the id
    monkeypatch.setattr(auto, "gpu_count", lambda: 1)
    assert make_executor("auto").describe()["executor"] == "auto (sequential)"  # one GPU: in-process
