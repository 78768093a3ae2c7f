"""Atomic file writes: a temporary file with a unique name beside the target, then a rename.

A reader (or a second process writing the same file) never sees half a file, and two writers
never share a temporary name.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        publish(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def publish(temporary, path, directory: bool = False) -> None:
    """Give a finished temporary file (or folder) the user's usual permissions, then rename it into place.

    mkstemp/mkdtemp create 0600/0700 entries; every output should look like one ``open()`` made (the umask's).
    """
    os.chmod(temporary, (0o777 if directory else 0o666) & ~_umask())
    os.replace(temporary, path)


def atomic_write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, default=str))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def writable_folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be written (created if missing), or None when a file can be made in it."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        return "is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"not writable ({error.__class__.__name__}: {error.strerror or error})"
    return None
