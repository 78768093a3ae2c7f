"""One unit after another in this process."""
from __future__ import annotations

from crossdomain.executors.base import Executor


class Sequential(Executor):
    """One unit after another in this process, with the unit's own thread setting (default: all cores)."""

    name = "sequential"

    def run(self, units, out_dir, on_record) -> None:
        from crossdomain.run.units import claim_and_run

        for unit in units:
            record = claim_and_run(unit, out_dir)
            if record is not None:
                on_record(record)


EXECUTOR = Sequential
