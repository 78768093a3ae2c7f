"""``crossdomain status RUN_DIR``: how far a run is, from its plan (run.json), unit files and claims."""
from __future__ import annotations

import datetime as dt
import json
import warnings
from collections import Counter
from pathlib import Path

from crossdomain.claims import live_claims
from crossdomain.config import ConfigError
from crossdomain.record import load_records


def run_status(run_dir: Path) -> str:
    """The status table; also rewrites results.csv from the unit files (the view of every runner together)."""
    plan_path = Path(run_dir) / "run.json"
    if not plan_path.is_file():
        raise ConfigError(f"{run_dir}: no run.json (is this a crossdomain run folder?)")
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        records = {r.unit_id: r for r in load_records(Path(run_dir) / "units", on_error=lambda error: None)}
    claims = live_claims(Path(run_dir) / "units")
    from crossdomain.runner import ResultsTable

    ResultsTable(Path(run_dir)).write()
    counts: dict[tuple[str, str], Counter] = {}
    for planned in plan.get("units", []):
        unit_id = planned["id"] if isinstance(planned, dict) else planned  # older run.json: a list of ids
        record = records.get(unit_id)
        state = ("done" if record.ok else "failed") if record else ("running" if unit_id in claims else "pending")
        task, arm = (planned["task"], planned["arm"]) if isinstance(planned, dict) else _task_and_arm(unit_id, record)
        counts.setdefault((task, arm), Counter())[state] += 1
    total = sum(counts.values(), Counter())
    lines = [f"{'task':<24}{'arm':<28}{'done':>6}{'failed':>8}{'running':>9}{'pending':>9}"]
    for (task, arm), c in sorted(counts.items()):
        lines.append(f"{task:<24}{arm:<28}{c['done']:>6}{c['failed']:>8}{c['running']:>9}{c['pending']:>9}")
    lines.append(f"{'all':<52}{total['done']:>6}{total['failed']:>8}{total['running']:>9}{total['pending']:>9}")
    finished = [r for r in records.values() if r.ok and r.wall_seconds]
    started = [r.started_at for r in records.values() if r.started_at]
    if started:
        first = min(dt.datetime.fromisoformat(s) for s in started)
        elapsed = (dt.datetime.now(dt.timezone.utc) - first).total_seconds()
        lines.append(f"elapsed since the first unit started: {elapsed / 60:.1f} min")
    if finished:
        workers = max(1, int((plan.get("executor") or {}).get("workers") or 1))
        mean = sum(r.wall_seconds for r in finished) / len(finished)
        left = (total["pending"] + total["running"] + total["failed"]) * mean / workers
        lines.append(f"projected remaining: {left / 60:.1f} min ({mean:.0f} s per finished unit on average, "
                     f"{workers} worker(s); failed units count as to be retried)")
    return "\n".join(lines)


def _task_and_arm(unit_id: str, record) -> tuple[str, str]:
    if record is not None:
        return record.unit.get("task", "?"), record.unit.get("baseline") or record.unit.get("init") or "?"
    parts = unit_id.split("__")
    task = parts[0].replace("-", "/", 1)
    arm = parts[2] if len(parts) > 2 else "?"
    return task, arm
