"""The default: the fastest local way to run a phase, with results that never depend on how many units were left."""
from __future__ import annotations

from crossdomain.executors.base import Executor, cpu_count, with_threads
from crossdomain.executors.processes import Processes, gpu_count
from crossdomain.executors.sequential import Sequential

# a worker's resident memory with MiniLM-L6 peaks near 1.5 GB; with room for bigger models, workers are capped at
# one per 3 GB of RAM so that many cores with little memory do not swap
MEMORY_PER_WORKER_GB = 3


def memory_gb() -> float:
    import os

    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError, AttributeError):
        return float("inf")


class Auto(Executor):
    """Default. CPU: one single-thread worker per core (bf16 scales better so than threads); 1 GPU: in-process;
    several GPUs: one worker each."""

    name = "auto"

    def resolve(self) -> tuple[Executor, int]:
        """(the executor to use, torch threads per unit; 0 = the unit's own setting)."""
        gpus = gpu_count()
        if gpus == 1:
            return Sequential(self.options), 0
        if gpus > 1:
            return Processes(self.options), 0
        workers = self.options.workers or max(1, min(cpu_count(), int(memory_gb() // MEMORY_PER_WORKER_GB)))
        threads = self.options.threads_per_worker or 1
        options = type(self.options)(**{**self.options.to_json(), "workers": workers, "threads_per_worker": threads})
        return (Processes(options) if workers > 1 else Sequential(options)), threads

    def describe(self) -> dict:
        executor, threads = self.resolve()
        return {**executor.describe(), "executor": f"auto ({executor.name})", "threads_per_unit": threads or "unit's own"}

    def run(self, units, out_dir, on_record) -> None:
        executor, threads = self.resolve()
        if isinstance(executor, Processes) and len(units) < 2:  # one unit: no worker to spawn, the same threads
            executor = Sequential(self.options)
        if threads:
            units = [with_threads(unit, threads) for unit in units]
        executor.run(units, out_dir, on_record)


EXECUTOR = Auto
