"""Per-unit claims: several processes (or machines) sharing one ``--out`` never run the same unit twice.

Before a unit runs, its runner creates ``units/<unit_id>.claim`` with an exclusive create (``O_EXCL``: exactly one
process wins, on a local or NFS-v3+ file system), recording host, pid and time. The claim is removed once the
unit's record is written. A claim left behind by a process that died is *stale*: on the same host, a claim
whose pid no longer runs is taken over at once; from another host, one older than ``STALE_AFTER_S`` is.
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

STALE_AFTER_S = 24 * 3600  # a claim from another host is trusted this long (no way to ask its pid)


@dataclass
class Claim:
    path: Path
    host: str
    pid: int
    since: float

    @property
    def age_s(self) -> float:
        return time.time() - self.since

    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return self.age_s < STALE_AFTER_S
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def claim_path(units_dir: Path, unit_id: str) -> Path:
    return units_dir / f"{unit_id}.claim"


def read_claim(path: Path) -> Claim | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Claim(path, str(data["host"]), int(data["pid"]), float(data["since"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):  # half-written or garbage: treat as stale
        return Claim(path, "?", -1, 0.0)


def try_claim(units_dir: Path, unit_id: str) -> Path | None:
    """The claim's path if this process now owns the unit, None if a live process does.

    The claim is written in full under a unique temporary name and then hard-linked into place: the link
    fails if the claim exists, so exactly one process wins, and nobody ever reads a claim before its
    content is there (an empty claim would look stale and be taken over).
    """
    path = claim_path(units_dir, unit_id)
    units_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=units_dir, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}, out)
        os.chmod(temporary, 0o644)
        for _ in range(2):  # a second try after removing a stale claim
            try:
                os.link(temporary, path)
                return path
            except FileExistsError:
                existing = read_claim(path)
                if existing is not None and existing.alive():
                    return None
                path.unlink(missing_ok=True)
        return None
    finally:
        os.unlink(temporary)


def owned_by_this_process(path: Path) -> bool:
    claim = read_claim(path)
    return claim is not None and claim.host == socket.gethostname() and claim.pid == os.getpid()


def release(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def live_claims(units_dir: Path) -> dict[str, Claim]:
    """unit id → claim, for every claim held by a live process."""
    claims = {}
    for path in Path(units_dir).glob("*.claim"):
        claim = read_claim(path)
        if claim is not None and claim.alive():
            claims[path.name[: -len(".claim")]] = claim
    return claims
