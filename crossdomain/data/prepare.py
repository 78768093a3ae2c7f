"""From a task definition to checked, de-duplicated, split records, with counts of what was dropped.

adapter records → label check (class ids, or numeric targets for a regression task) → segmentation → length
filter → de-duplication → splits.
Adapter output (slow for music21 scores) is cached under the cache directory as gzipped JSON lines
(never pickle: a cache file is data, not code), keyed by task version, adapter name/version/options,
the adapter's own source code and the sources' sha256. A corrupt cache entry is rebuilt with a warning.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import statistics
import tempfile
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from crossdomain.adapters import ADAPTERS, AdapterError, Record
from crossdomain.atomic import publish
from crossdomain.data.sources import (
    ResolvedSource,
    cache_dir,
    candidate_roots,
    mirror_dirs,
    resolve_source,
    select_files,
    source_sha256,
)
from crossdomain.data.splits import Fold, make_folds
from crossdomain.data.tasks import TaskDefinition, get_task


@dataclass
class TaskData:
    task: TaskDefinition
    records: list[Record]
    label_ids: list  # per record: the class id, or the target (a float) for a regression task
    alphabet: list[str]
    folds: list[Fold]
    sources: list[ResolvedSource]
    stats: dict = field(default_factory=dict)

    @property
    def checksum(self) -> str:
        """One sha256 over the task's sources, for provenance."""
        joined = ",".join(f"{s.spec.name}={s.sha256}" for s in self.sources)
        return hashlib.sha256(joined.encode()).hexdigest()


CACHE_FORMAT = 1


def adapter_code_sha256(adapter_cls) -> str:
    """sha256 of the source files of the adapter class and its bases: editing an adapter invalidates its cache.

    Each file is hashed when its class is created, so a long-running process whose adapter file is edited
    meanwhile keeps the key of the code it actually runs (and never stores old-code records under a new key).
    """
    from crossdomain.adapters.base import source_file_sha256

    digest = hashlib.sha256()
    for cls in adapter_cls.__mro__:
        if cls is not object:
            digest.update((cls.__dict__.get("_source_sha256") or source_file_sha256(cls)).encode())
    return digest.hexdigest()


def _cache_key(task: TaskDefinition, adapter_cls, sources: list[ResolvedSource]) -> str:
    payload = json.dumps(
        [CACHE_FORMAT, task.name, task.version, adapter_cls.name, adapter_cls.version, adapter_code_sha256(adapter_cls),
         task.reader, task.unknown, [s.sha256 for s in sources]],
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def write_records_cache(path: Path, records: list[Record], counts: dict, alphabet: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        with gzip.open(temporary, "wt", encoding="utf-8") as out:
            out.write(json.dumps({"format": CACHE_FORMAT, "counts": counts, "alphabet": alphabet,
                                  "records": len(records)}) + "\n")
            for r in records:
                out.write(json.dumps([r.id, r.label, r.symbols, r.origin, r.group, r.split]) + "\n")
        publish(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def read_records_cache(path: Path):
    """(records, counts, alphabet) from a cache file; ValueError/OSError when it is corrupt or truncated."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        header = json.loads(handle.readline())
        if not isinstance(header, dict) or header.get("format") != CACHE_FORMAT:
            raise ValueError("unknown cache format")
        records = [Record(*json.loads(line)) for line in handle]
    if len(records) != header["records"]:
        raise ValueError(f"{len(records)} records, the header says {header['records']}")
    return records, header["counts"], header["alphabet"]


def read_records(task: TaskDefinition, sources: list[ResolvedSource], use_cache: bool = True):
    adapter_cls = ADAPTERS.get(task.adapter)
    cache_file = cache_dir() / "records" / f"{task.slug}-{_cache_key(task, adapter_cls, sources)}.jsonl.gz"
    if use_cache and cache_file.exists():
        try:
            return read_records_cache(cache_file)
        except (OSError, ValueError, EOFError, TypeError, KeyError) as error:
            warnings.warn(f"{cache_file}: corrupt records cache ({error.__class__.__name__}: {error}); rebuilding it",
                          stacklevel=2)
            cache_file.unlink(missing_ok=True)
    adapter = adapter_cls(unknown=task.unknown, **task.reader)
    records = list(adapter.read({s.spec.name: s.files for s in sources}))
    result = (records, dict(adapter.counts), adapter.symbol_alphabet(records))
    if use_cache:
        write_records_cache(cache_file, *result)
    return result


def check_labels(task: TaskDefinition, records: list[Record]) -> list[int]:
    index = {label: i for i, label in enumerate(task.labels)}
    ids = []
    for record in records:
        label = task.label_map.get(record.label, record.label)
        if label not in index:
            raise AdapterError(
                f"{record.origin}: label {record.label!r} is not declared by task {task.name!r}; "
                f"expected one of {task.labels} (or add it to label_map in {task.path})"
            )
        record.label = label
        ids.append(index[label])
    return ids


def check_targets(task: TaskDefinition, records: list[Record]) -> list[float]:
    """A regression task's targets: each a finite number, or an error naming the record's file and line."""
    import math

    targets = []
    for record in records:
        try:
            value = float(record.label)
        except ValueError:
            value = float("nan")
        if not math.isfinite(value):
            found = repr(record.label) if record.label.strip() else "nothing"
            raise AdapterError(f"{record.origin}: the target of regression task {task.name!r} must be a finite number; "
                               f"found {found}")
        targets.append(value)
    return targets


def segment(task: TaskDefinition, records: list[Record]) -> list[Record]:
    """Cut records into fixed-length segments, at most ``max_segments_per_group`` per group."""
    size, cap = task.length.segment, task.length.max_segments_per_group
    if size <= 0:
        return records
    by_group: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        for start in range(0, max(len(record.symbols) - size // 2, 1), size):
            piece = record.symbols[start:start + size]
            by_group[record.group].append(Record(f"{record.id}@{start}", record.label, piece, record.origin,
                                                 record.group, record.split))
    segments = []
    for group_segments in by_group.values():
        if cap and len(group_segments) > cap:
            step = len(group_segments) / cap
            group_segments = [group_segments[int(i * step)] for i in range(cap)]
        segments.extend(group_segments)
    return segments


def deduplicate(records: list[Record], dropped: Counter) -> list[Record]:
    """Keep the first copy of each sequence; drop every copy of a sequence seen with two labels."""
    labels_of: dict[tuple, set] = defaultdict(set)
    for record in records:
        labels_of[tuple(record.symbols)].add(record.label)
    kept, seen = [], set()
    for record in records:
        key = tuple(record.symbols)
        if len(labels_of[key]) > 1:
            dropped["conflicting labels"] += 1
        elif key in seen:
            dropped["duplicate sequence"] += 1
        else:
            seen.add(key)
            kept.append(record)
    return kept


def conflicting_ids(records: list[Record]) -> set[str]:
    """Record ids that occur with two different sequences (the same entity read twice, differently)."""
    sequences: dict[str, set] = defaultdict(set)
    for record in records:
        sequences[record.id].add(tuple(record.symbols))
    return {record_id for record_id, seen in sequences.items() if len(seen) > 1}


def length_summary(records: list[Record]) -> dict:
    lengths = [len(r.symbols) for r in records] or [0]
    return {"min": min(lengths), "median": statistics.median(lengths), "max": max(lengths)}


def prepare_task(task: TaskDefinition | str, data_dirs: tuple[str, ...] = (), use_cache: bool = True) -> TaskData:
    task = get_task(task) if isinstance(task, str) else task
    sources = [resolve_source(task.name, spec, data_dirs) for spec in task.sources]
    raw_records, adapter_counts, alphabet = read_records(task, sources, use_cache)
    records = [Record(r.id, r.label, list(r.symbols), r.origin, r.group, r.split) for r in raw_records]
    dropped: Counter = Counter({k: v for k, v in adapter_counts.items() if k.startswith("records dropped")})
    check_targets(task, records) if task.is_regression else check_labels(task, records)
    id_conflicts = conflicting_ids(records)
    if id_conflicts and task.dedup == "drop_conflicts":
        records = [r for r in records if r.id not in id_conflicts]
        dropped["same id, different sequences"] += sum(1 for r in raw_records if r.id in id_conflicts)
    raw_lengths = length_summary(records)
    records = segment(task, records)
    too_short = [r for r in records if len(r.symbols) < task.length.min_symbols]
    if too_short:
        dropped[f"shorter than {task.length.min_symbols} symbols"] += len(too_short)
        records = [r for r in records if len(r.symbols) >= task.length.min_symbols]
    if task.dedup == "drop_conflicts":
        records = deduplicate(records, dropped)
    if task.is_regression:
        label_ids = check_targets(task, records)
    else:
        label_ids = [task.labels.index(r.label) for r in records]
        missing = [label for i, label in enumerate(task.labels) if i not in set(label_ids)]
        if missing:
            raise AdapterError(f"task {task.name!r}: declared label(s) {missing} have no records after filtering")
    folds = split_records(task, records, label_ids)
    stats = {
        "task": task.name,
        "version": task.version,
        "sources": {s.spec.name: {"location": s.location, "sha256": s.sha256, "files": len(s.files)} for s in sources},
        "raw_rows": len(raw_records) + sum(v for k, v in adapter_counts.items() if k.startswith("records dropped")),
        "dropped": dict(dropped),
        "adapter_counts": {k: v for k, v in adapter_counts.items() if not k.startswith("records dropped")},
        "rows": len(records),
        "ids_with_different_sequences": len(id_conflicts),
        "groups": len({r.group for r in records}),
        **label_summary(task, label_ids),
        "length_before_segmenting": raw_lengths,
        "length": length_summary(records),
        "alphabet_size": len(alphabet),
        "split": task.split.kind,
        "folds": len(folds),
        "split_sizes": folds[0].sizes() if len(folds) == 1 else {f"fold{f.index}": f.sizes() for f in folds},
    }
    return TaskData(task, records, label_ids, alphabet, folds, sources, stats)


def split_records(task: TaskDefinition, records: list[Record], label_ids: list) -> list[Fold]:
    try:
        return make_folds(task.split, label_ids, [r.group for r in records], [r.split for r in records],
                          classes=not task.is_regression)
    except ValueError as error:  # e.g. a class with fewer members than the split needs
        where = task.path or task.name
        if task.split.kind == "predefined":
            raise AdapterError(f"{where}: cannot make the predefined split: {error}") from None
        counts = {label: label_ids.count(i) for i, label in enumerate(task.labels)}
        found = f"class counts {counts}" if not task.is_regression else f"{len(records)} records"
        raise AdapterError(f"{where}: cannot make the {task.split.kind} split (ratios {task.split.ratios}) from "
                           f"{found}: {error}") from None


def label_summary(task: TaskDefinition, label_ids: list) -> dict:
    """Class counts, or the target's range for a regression task."""
    if not task.is_regression:
        return {"class_counts": {label: label_ids.count(i) for i, label in enumerate(task.labels)}}
    import numpy as np

    values = np.asarray(label_ids, dtype=float)
    return {"target": {"min": float(values.min()), "median": float(np.median(values)), "max": float(values.max()),
                       "mean": round(float(values.mean()), 6), "std": round(float(values.std()), 6)}}


@lru_cache(maxsize=8)
def prepare_task_cached(name: str, data_dirs: tuple[str, ...] = ()) -> TaskData:
    """One preparation per process and task: the runner reuses it across all units."""
    return prepare_task(name, data_dirs)


def found_checksums(tasks: list[str], extra_dirs: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """(task, source, sha256 as found, expected, where) for each source of each task: the values a definition needs."""
    rows = [("task", "source", "sha256", "declared", "where")]
    for name in tasks:
        for spec in get_task(name).sources:
            for label, root, _ in candidate_roots(spec, mirror_dirs(extra_dirs)):
                files = select_files(root, spec.include) if root is not None else []
                if files:
                    digest = source_sha256(root, files)
                    rows.append((name, spec.name, digest, "matches" if digest == spec.sha256 else spec.sha256, label))
                    break
            else:
                rows.append((name, spec.name, "not found", spec.sha256, "-"))
    return rows
