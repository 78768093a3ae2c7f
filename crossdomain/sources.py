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

REPO_ROOT = Path(__file__).resolve().parents[1]


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


def mirror_dirs(extra: list[str] | tuple[str, ...] = ()) -> list[Path]:
    dirs = [Path(d) for d in extra]
    dirs += [Path(d) for d in os.environ.get("CROSSDOMAIN_DATA", "").split(os.pathsep) if d]
    beside_checkout = REPO_ROOT.parent / "shared" / "data"
    if beside_checkout.is_dir():
        dirs.append(beside_checkout)
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
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
        out.write(response.read())
    partial.replace(target)


def candidate_roots(spec: SourceSpec, data_dirs: list[Path]):
    """Yield (label, path) for every place the source may be, in order."""
    if spec.path:
        for mirror in data_dirs:
            yield f"mirror:{mirror / spec.path}", mirror / spec.path
    if spec.package:
        path = _package_path(spec.package)
        yield f"package:{spec.package}" + (f" ({path})" if path else " (package not installed)"), path
    if spec.path:
        yield f"cache:{cache_dir() / 'data' / spec.path}", cache_dir() / "data" / spec.path


def resolve_source(task: str, spec: SourceSpec, extra_dirs: tuple[str, ...] = ()) -> ResolvedSource:
    tried: list[str] = []
    mismatches: list[str] = []
    for label, root in candidate_roots(spec, mirror_dirs(extra_dirs)):
        files = select_files(root, spec.include) if root is not None else []
        if not files:
            tried.append(f"{label}: not found")
            continue
        digest = source_sha256(root, files)
        if digest == spec.sha256:
            return ResolvedSource(spec, files, digest, label, tried)
        tried.append(f"{label}: sha256 {digest} does not match")
        mismatches.append(label)
    if spec.url and spec.path and not spec.include:
        target = cache_dir() / "data" / spec.path
        try:
            _download(spec.url, target)
            digest = file_sha256(target)
            if digest == spec.sha256:
                return ResolvedSource(spec, [target], digest, f"url:{spec.url}", tried)
            tried.append(f"url:{spec.url}: downloaded sha256 {digest} does not match")
        except OSError as error:
            tried.append(f"url:{spec.url}: download failed ({error.__class__.__name__}: {error})")
    problem = "has a sha256 mismatch" if mismatches else "was not found"
    raise SourceError(
        f"task {task!r}: source file {spec.name!r} {problem} (expected sha256 {spec.sha256}). Places tried:\n  "
        + "\n  ".join(tried)
        + "\nSet CROSSDOMAIN_DATA or pass --data-dir to point at a mirror folder holding "
        + (spec.path or spec.package or spec.name)
    )
