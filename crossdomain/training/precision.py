"""Which numeric precision a unit trains and evaluates in, and whether this machine computes bf16 natively.

Kept apart from the trainer so that asking (``crossdomain status``, the run's precision check) imports torch only,
not transformers.
"""
from __future__ import annotations

import torch

from crossdomain.config import ExecutionConfig


def cpu_native_bf16() -> str | None:
    """How this CPU computes bf16 in hardware, as torch reports it: ``amx`` (AMX tiles), ``avx512_bf16``, or None.

    Asked of torch, not of the CPU's name: without either, bf16 on CPU is emulated and slower than fp32. oneDNN
    picks its bf16 kernels by this, so bf16 results are bit-identical only between CPUs of the same kind.
    """
    import torch.cpu

    for kind, check in (("amx", "_is_amx_tile_supported"), ("avx512_bf16", "_is_avx512_bf16_supported")):
        if bool(getattr(torch.cpu, check, lambda: False)()):
            return kind
    return None


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX tiles)."""
    return cpu_native_bf16() is not None


def uses_cuda(execution: ExecutionConfig | None = None) -> bool:
    """Whether units run on CUDA: where it is present, unless the execution settings ask for the CPU."""
    return (execution or ExecutionConfig()).device != "cpu" and torch.cuda.is_available()


def resolve_precision(execution: ExecutionConfig | None = None) -> str:
    """``bf16`` where ``execution.bf16`` asks for it and the device runs it natively, else ``fp32``."""
    execution = execution or ExecutionConfig()
    if not execution.bf16:
        return "fp32"
    if uses_cuda(execution):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def resolve_eval_precision(execution: ExecutionConfig | None = None) -> str:
    """``bf16`` only where training runs in bf16 and ``execution.bf16_eval`` asks for it, else ``fp32``."""
    execution = execution or ExecutionConfig()
    return "bf16" if execution.bf16_eval and resolve_precision(execution) == "bf16" else "fp32"
