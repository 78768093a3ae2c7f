"""SLURM job arrays through submitit: one array job per run phase, one task per unit."""
from __future__ import annotations

import json
from pathlib import Path

from crossdomain.executors.base import Executor


class UnitJob:
    """What a SLURM task runs: one unit. Checkpointable: a preempted or timed-out task is requeued as is."""

    def __init__(self, unit, out_dir: str):
        self.unit, self.out_dir = unit, out_dir

    def __call__(self) -> str | None:
        from crossdomain.run.units import claim_and_run

        record = claim_and_run(self.unit, Path(self.out_dir))
        return str(record.path) if record is not None else None

    def checkpoint(self, *args, **kwargs):
        """Called by submitit on preemption or time-out: give the claim back, then requeue the unit as is.

        The requeued task may start on another node, where this node's claim would look alive for a day.
        It resumes the unit's training from its last checkpoint in ``units/`` (at most
        ``execution.checkpoint_minutes`` old; :mod:`crossdomain.training.resume`).
        """
        import submitit

        from crossdomain.run.claims import claim_path, owned_by_this_process, release

        claim = claim_path(Path(self.out_dir) / "units", self.unit.unit_id)
        if owned_by_this_process(claim):
            release(claim)
        return submitit.helpers.DelayedSubmission(UnitJob(self.unit, self.out_dir))


class Slurm(Executor):
    """A SLURM job array through submitit (--slurm-* options; logs in <out>/slurm/; preempted units requeued)."""

    name = "slurm"
    runs_here = False  # units run on the cluster's nodes, whose precision this machine cannot tell
    cluster: str | None = None  # None: submitit picks SLURM; tests set "local" or "debug"

    def parameters(self) -> dict:
        o = self.options
        parameters = {"timeout_min": o.slurm_time_min, "cpus_per_task": o.slurm_cpus, "mem_gb": o.slurm_mem_gb,
                      "slurm_array_parallelism": o.slurm_array_parallelism, "name": "crossdomain"}
        if o.slurm_gpus:
            parameters["gpus_per_node"] = o.slurm_gpus
        if o.slurm_partition:
            parameters["slurm_partition"] = o.slurm_partition
        return parameters

    def run(self, units, out_dir, on_record) -> None:
        from crossdomain.record import UnitRecord

        if not units:
            return
        if self.options.dry_run:
            print(json.dumps({"executor": "slurm", "folder": str(Path(out_dir) / "slurm"), "array_size": len(units),
                              "parameters": self.parameters(), "units": [u.unit_id for u in units]}, indent=1))
            return
        import submitit

        executor = submitit.AutoExecutor(folder=Path(out_dir) / "slurm" / "%j", cluster=self.cluster)
        parameters = self.parameters()
        if executor.cluster != "slurm":  # local/debug executors take the generic keys only
            parameters = {k: v for k, v in parameters.items() if not k.startswith("slurm_")}
        executor.update_parameters(**parameters)
        with executor.batch():
            jobs = [executor.submit(UnitJob(unit, str(out_dir))) for unit in units]
        for job in jobs:
            try:
                path = job.result()
            except Exception as error:  # noqa: BLE001 - a lost task leaves its unit not done; rerun finishes it
                print(f"crossdomain: SLURM task {job.job_id} did not finish its unit: {error}")
                continue
            if path is not None:
                on_record(UnitRecord.load(path))


EXECUTOR = Slurm
