"""Resumable training: a unit interrupted mid-training continues from its last checkpoint.

The folder ``units/.<unit_id>.resume/`` holds at most one complete checkpoint, ``checkpoint-<step>/``:
transformers' own (weights, optimiser, scheduler, RNG states, trainer state) plus what this harness adds,
the best dev weights so far (``best.safetensors``) and the learning curve and early-stopping state
(``progress.json``). ``progress.json`` is written last, atomically: a checkpoint without it was cut short and
is never resumed from. The folder is removed once the unit's record is written.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from crossdomain.atomic import atomic_write_json

PROGRESS = "progress.json"
BEST_WEIGHTS = "best.safetensors"
_CHECKPOINT = re.compile(r"checkpoint-(\d+)$")


def resume_dir(units_dir: Path, unit_id: str) -> Path:
    return units_dir / f".{unit_id}.resume"


def _checkpoints(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), path) for path in folder.iterdir() if (m := _CHECKPOINT.match(path.name))]
    return sorted(found)


def latest_complete(folder: Path) -> Path | None:
    """The newest checkpoint whose progress file was written (a complete one), or None."""
    complete = [path for _, path in _checkpoints(folder) if (path / PROGRESS).is_file()]
    return complete[-1] if complete else None


def resumable(folder: Path | None, precision: str, eval_precision: str = "fp32") -> Path | None:
    """The complete checkpoint an attempt in ``precision`` (training) and ``eval_precision`` (its dev curve)
    resumes from, or None. One of other precisions is discarded: a unit's record says what it trained and was
    evaluated in, so its attempts never mix precisions. A checkpoint written before evaluation had its own
    precision was evaluated in its training precision."""
    checkpoint = latest_complete(folder) if folder is not None else None
    if checkpoint is not None:
        progress = read_progress(checkpoint)
        if (progress.get("precision"), progress.get("eval_precision", progress.get("precision"))) != \
                (precision, eval_precision):
            discard(folder)
            return None
    return checkpoint


def pending(units_dir: Path) -> dict[str, int]:
    """unit id → the step its latest complete checkpoint resumes from, for every unit that left one."""
    found = {}
    for folder in sorted(Path(units_dir).glob(".*.resume")):
        checkpoint = latest_complete(folder)
        if checkpoint is not None:
            found[folder.name[1:-len(".resume")]] = read_progress(checkpoint)["step"]
    return found


def read_progress(checkpoint: Path) -> dict:
    return json.loads((checkpoint / PROGRESS).read_text(encoding="utf-8"))


def write_progress(checkpoint: Path, progress: dict, best_state: dict | None) -> None:
    """Complete a checkpoint transformers has just written: best weights first, then the progress file."""
    from safetensors.torch import save_file

    if best_state is not None:
        save_file({k: v.contiguous() for k, v in best_state.items()}, str(checkpoint / BEST_WEIGHTS))
    atomic_write_json(checkpoint / PROGRESS, progress)


def read_best_state(checkpoint: Path) -> dict | None:
    from safetensors.torch import load_file

    path = checkpoint / BEST_WEIGHTS
    return load_file(str(path)) if path.is_file() else None


def keep_only(folder: Path, checkpoint: Path) -> None:
    """Remove every other checkpoint (older complete ones, and any that were cut short)."""
    for _, path in _checkpoints(folder):
        if path != checkpoint:
            shutil.rmtree(path, ignore_errors=True)


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
