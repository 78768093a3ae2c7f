"""Units (crossdomain.run.units): per-unit measurements."""
from pathlib import Path

import pytest


def test_peak_memory_is_measured_per_unit():
    """A unit after a memory-hungry one reports its own peak, not the process's high-water mark so far."""
    from crossdomain.run.units import peak_memory_mb, reset_peak_memory

    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc")
    hog = bytearray(400 * 2**20)
    for i in range(0, len(hog), 4096):
        hog[i] = 1
    high = peak_memory_mb()
    del hog
    reset_peak_memory()
    assert peak_memory_mb() < high - 300
