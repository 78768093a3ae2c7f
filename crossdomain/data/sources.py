"""Find a task's source files offline-first and check their sha256.

Order of places tried for each source:
1. mirror folders: ``--data-dir`` options, then ``$CROSSDOMAIN_DATA`` (``os.pathsep``-separated),
   then ``../shared/data`` beside the checkout when it exists;
2. data shipped inside an installed package (``package: "modlamp/data/AMPvsUniProt.csv"``);
3. the user cache directory (``$CROSSDOMAIN_CACHE`` or ``~/.cache/crossdomain``) under ``data/``;
4. the original URL, downloaded into the cache when a network exists.

A source is a single file or a folder with an ``include`` glob; its sha256 is of the file, or
for a folder of the sorted ``relative-path  sha256`` lines of the files selected.
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class SourceError(RuntimeError):
    pass


@dataclass(frozen=True)
class SourceSpec:
    name: str
    sha256: str
    path: str | None = None  # relative path inside a mirror / the cache
    package: str | None = None  # "distribution_module/relative/path" inside an installed package
    include: str | None = None  # glob, when the source is a folder
    url: str | None = None


@dataclass
class ResolvedSource:
    spec: SourceSpec
    files: list[Path]
    sha256: str
    location: str  # where it was found: "mirror:/...", "package:...", "cache:...", "url:..."
    tried: list[str] = field(default_factory=list)


def cache_dir() -> Path:
    return Path(os.environ.get("CROSSDOMAIN_CACHE") or Path.home() / ".cache" / "crossdomain")


def check_data_dirs(extra: list[str] | tuple[str, ...]) -> None:
    """An explicitly given --data-dir must exist: a typo there must not fall through to other places."""
    for folder in extra:
        if not Path(folder).is_dir():
            raise SourceError(f"--data-dir {folder}: {'not a folder' if Path(folder).exists() else 'does not exist'}")


def mirror_dirs(extra: list[str] | tuple[str, ...] = ()) -> list[tuple[Path, bool]]:
    """(folder, explicitly given) for each mirror, in the order they are tried."""
    check_data_dirs(extra)
    dirs = [(Path(d), True) for d in extra]
    dirs += [(Path(d), False) for d in os.environ.get("CROSSDOMAIN_DATA", "").split(os.pathsep) if d]
    beside_checkout = REPO_ROOT.parent / "shared" / "data"
    if beside_checkout.is_dir():
        dirs.append((beside_checkout, False))
    return dirs


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@lru_cache(maxsize=None)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return _file_sha256(Path(path))


def file_sha256(path: Path) -> str:
    """sha256 of a file, computed once per process for an unchanged file."""
    stat = path.stat()
    return _cached_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def select_files(root: Path, include: str | None) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        return []
    pattern = include or "*"
    return sorted(p for p in root.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, pattern))


def source_sha256(root: Path, files: list[Path]) -> str:
    if root.is_file():
        return file_sha256(root)
    lines = "".join(f"{p.relative_to(root).as_posix()}  {file_sha256(p)}\n" for p in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def _package_path(spec: str) -> Path | None:
    module, _, relative = spec.partition("/")
    try:
        root = resources.files(module)
    except ModuleNotFoundError:
        return None
    return Path(str(root.joinpath(relative)))


def _download(url: str, target: Path) -> None:
    """Fetch ``url`` to a uniquely named temporary file beside ``target`` (the caller verifies and moves it)."""
    import shutil
    import sys

    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"crossdomain: downloading {url} -> {target}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=30) as response, open(target, "wb") as out:
        shutil.copyfileobj(response, out)
    print(f"crossdomain: downloaded {target.stat().st_size:,} bytes from {url}", file=sys.stderr)


def cache_target(spec: SourceSpec) -> Path:
    """Where a downloaded source lives: inside the cache's data folder, never outside it."""
    root = (cache_dir() / "data").resolve()
    target = (root / spec.path).resolve()
    if root not in target.parents:
        raise SourceError(f"source {spec.name!r}: path {spec.path!r} leaves the cache folder {root}")
    return target


def download_verified(spec: SourceSpec) -> tuple[Path, str]:
    """Download to a temporary name, check the sha256, then move into place; a rejected file is deleted."""
    import tempfile

    target = cache_target(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".download")
    os.close(handle)
    try:
        _download(spec.url, Path(temporary))
        digest = _file_sha256(Path(temporary))
        if digest == spec.sha256:
            from crossdomain.atomic import publish

            publish(temporary, target)
            return target, digest
        return Path(temporary), digest
    finally:
        Path(temporary).unlink(missing_ok=True)


def candidate_roots(spec: SourceSpec, data_dirs: list[tuple[Path, bool]]):
    """Yield (label, path, explicitly given) for every place the source may be, in order."""
    if spec.path:
        for mirror, explicit in data_dirs:
            yield f"mirror:{mirror / spec.path}", mirror / spec.path, explicit
    if spec.package:
        path = _package_path(spec.package)
        yield f"package:{spec.package}" + (f" ({path})" if path else " (package not installed)"), path, False
    if spec.path:
        yield f"cache:{cache_dir() / 'data' / spec.path}", cache_dir() / "data" / spec.path, False


def resolve_source(task: str, spec: SourceSpec, extra_dirs: tuple[str, ...] = ()) -> ResolvedSource:
    tried: list[str] = []
    mismatches: list[str] = []
    for label, root, explicit in candidate_roots(spec, mirror_dirs(extra_dirs)):
        files = select_files(root, spec.include) if root is not None else []
        if not files:
            tried.append(f"{label}: not found")
            continue
        digest = source_sha256(root, files)
        if digest == spec.sha256:
            return ResolvedSource(spec, files, digest, label, tried)
        if explicit:  # the user pointed here: a corrupt copy is an error, not a reason to look elsewhere
            raise SourceError(f"task {task!r}: source {spec.name!r} in --data-dir: {root} has sha256 {digest}, "
                              f"expected {spec.sha256} (a corrupt or different copy)")
        tried.append(f"{label}: sha256 {digest} does not match")
        mismatches.append(label)
    if spec.url and spec.path and not spec.include:
        try:
            target, digest = download_verified(spec)
            if digest == spec.sha256:
                return ResolvedSource(spec, [target], digest, f"url:{spec.url}", tried)
            tried.append(f"url:{spec.url}: downloaded sha256 {digest} does not match (file deleted)")
        except OSError as error:
            tried.append(f"url:{spec.url}: download failed ({error.__class__.__name__}: {error})")
    problem = "has a sha256 mismatch" if mismatches else "was not found"
    raise SourceError(
        f"task {task!r}: source file {spec.name!r} {problem} (expected sha256 {spec.sha256}). Places tried:\n  "
        + "\n  ".join(tried)
        + "\nSet CROSSDOMAIN_DATA or pass --data-dir to point at a mirror folder holding "
        + (spec.path or spec.package or spec.name)
    )
