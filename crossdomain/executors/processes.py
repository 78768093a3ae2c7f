"""Several worker processes on this machine: cores split evenly, one GPU per worker."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from crossdomain.executors.base import Executor, cpu_count, with_threads


def gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except ImportError:
        return 0


def _die_with_parent() -> None:
    """Linux: a worker gets SIGTERM when its coordinator dies, instead of running on as an orphan."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _start_worker(gpus) -> None:
    """Runs first in each worker: die with the coordinator; pin to its own GPU before torch initialises CUDA."""
    _die_with_parent()
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())


def _run_one(unit, out_dir) -> str | None:
    from crossdomain.run.units import claim_and_run

    record = claim_and_run(unit, out_dir)
    return str(record.path) if record is not None else None


def warm_data_caches(units) -> None:
    """Prepare each task once here, so workers read the records cache instead of all parsing the same scores."""
    from crossdomain.data.prepare import prepare_task_cached

    for task, data_dirs in dict.fromkeys((u.task, tuple(u.data_dirs)) for u in units):
        try:
            prepare_task_cached(task, data_dirs)
        except Exception:  # noqa: BLE001 - the unit itself will fail and record why
            pass


class Processes(Executor):
    """Worker processes on this machine (--workers, --threads-per-worker; never more threads than cores; one GPU each)."""

    name = "processes"

    def plan(self) -> tuple[int, int, int]:
        """(workers, threads per worker, GPUs)."""
        gpus = gpu_count()
        cores = cpu_count()
        workers = self.options.workers or gpus or cores
        if gpus:
            workers = min(workers, gpus)
        threads = self.options.threads_per_worker or max(1, cores // workers)
        threads = max(1, min(threads, cores // workers or 1))  # never oversubscribe the cores
        return workers, threads, gpus

    def describe(self) -> dict:
        workers, threads, gpus = self.plan()
        return {**super().describe(), "workers": workers, "threads_per_worker": threads, "gpus": gpus}

    def run(self, units, out_dir, on_record) -> None:
        from crossdomain.record import UnitRecord

        if not units:
            return
        workers, threads, gpus = self.plan()
        warm_data_caches(units)
        context = multiprocessing.get_context("spawn")  # fresh interpreters: safe with CUDA and with threads
        queue = None
        if gpus:
            queue = context.Manager().Queue()
            for index in range(workers):
                queue.put(index % gpus)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                                 initargs=(queue,)) as pool:
            futures = [pool.submit(_run_one, with_threads(unit, threads), out_dir) for unit in units]
            for future in as_completed(futures):
                path = future.result()
                if path is not None:
                    on_record(UnitRecord.load(path))


EXECUTOR = Processes
