"""From a task definition to checked, de-duplicated, split records, with counts of what was dropped.

adapter records → label check → segmentation → length filter → de-duplication → splits.
Adapter output (slow for music21 scores) is cached under the cache directory, keyed by task
version, adapter name/version/options and the sources' sha256.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from crossdomain.adapters import ADAPTERS, AdapterError, Record
from crossdomain.sources import ResolvedSource, cache_dir, resolve_source
from crossdomain.splits import Fold, make_folds
from crossdomain.tasks import TaskDefinition, get_task


@dataclass
class TaskData:
    task: TaskDefinition
    records: list[Record]
    label_ids: list[int]
    alphabet: list[str]
    folds: list[Fold]
    sources: list[ResolvedSource]
    stats: dict = field(default_factory=dict)

    @property
    def checksum(self) -> str:
        """One sha256 over the task's sources, for provenance."""
        joined = ",".join(f"{s.spec.name}={s.sha256}" for s in self.sources)
        return hashlib.sha256(joined.encode()).hexdigest()


def _cache_key(task: TaskDefinition, adapter_cls, sources: list[ResolvedSource]) -> str:
    payload = json.dumps(
        [task.name, task.version, adapter_cls.name, adapter_cls.version, task.reader, task.unknown,
         [s.sha256 for s in sources]],
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def read_records(task: TaskDefinition, sources: list[ResolvedSource], use_cache: bool = True):
    adapter_cls = ADAPTERS.get(task.adapter)
    cache_file = cache_dir() / "records" / f"{task.slug}-{_cache_key(task, adapter_cls, sources)}.pkl"
    if use_cache and cache_file.exists():
        with open(cache_file, "rb") as handle:
            return pickle.load(handle)
    adapter = adapter_cls(unknown=task.unknown, **task.reader)
    records = list(adapter.read({s.spec.name: s.files for s in sources}))
    result = (records, dict(adapter.counts), adapter.symbol_alphabet(records))
    if use_cache:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(".part")
        with open(partial, "wb") as handle:
            pickle.dump(result, handle)
        partial.replace(cache_file)
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


def segment(task: TaskDefinition, records: list[Record]) -> list[Record]:
    """Cut records into fixed-length segments, at most ``max_segments_per_group`` per group."""
    size, cap = task.length.segment, task.length.max_segments_per_group
    if size <= 0:
        return records
    by_group: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        for start in range(0, max(len(record.symbols) - size // 2, 1), size):
            piece = record.symbols[start:start + size]
            by_group[record.group].append(Record(f"{record.id}@{start}", record.label, piece, record.origin, record.group))
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


def length_summary(records: list[Record]) -> dict:
    lengths = [len(r.symbols) for r in records] or [0]
    return {"min": min(lengths), "median": statistics.median(lengths), "max": max(lengths)}


def prepare_task(task: TaskDefinition | str, data_dirs: tuple[str, ...] = (), use_cache: bool = True) -> TaskData:
    task = get_task(task) if isinstance(task, str) else task
    sources = [resolve_source(task.name, spec, data_dirs) for spec in task.sources]
    raw_records, adapter_counts, alphabet = read_records(task, sources, use_cache)
    records = [Record(r.id, r.label, list(r.symbols), r.origin, r.group) for r in raw_records]
    dropped: Counter = Counter({k: v for k, v in adapter_counts.items() if k.startswith("records dropped")})
    check_labels(task, records)
    raw_lengths = length_summary(records)
    records = segment(task, records)
    too_short = [r for r in records if len(r.symbols) < task.length.min_symbols]
    if too_short:
        dropped[f"shorter than {task.length.min_symbols} symbols"] += len(too_short)
        records = [r for r in records if len(r.symbols) >= task.length.min_symbols]
    if task.dedup == "drop_conflicts":
        records = deduplicate(records, dropped)
    label_ids = [task.labels.index(r.label) for r in records]
    missing = [label for i, label in enumerate(task.labels) if i not in set(label_ids)]
    if missing:
        raise AdapterError(f"task {task.name!r}: declared label(s) {missing} have no records after filtering")
    folds = make_folds(task.split, label_ids, [r.group for r in records])
    stats = {
        "task": task.name,
        "version": task.version,
        "sources": {s.spec.name: {"location": s.location, "sha256": s.sha256, "files": len(s.files)} for s in sources},
        "raw_rows": len(raw_records) + sum(v for k, v in adapter_counts.items() if k.startswith("records dropped")),
        "dropped": dict(dropped),
        "adapter_counts": {k: v for k, v in adapter_counts.items() if not k.startswith("records dropped")},
        "rows": len(records),
        "groups": len({r.group for r in records}),
        "class_counts": {label: label_ids.count(i) for i, label in enumerate(task.labels)},
        "length_before_segmenting": raw_lengths,
        "length": length_summary(records),
        "alphabet_size": len(alphabet),
        "split": task.split.kind,
        "folds": len(folds),
        "split_sizes": folds[0].sizes() if len(folds) == 1 else {f"fold{f.index}": f.sizes() for f in folds},
    }
    return TaskData(task, records, label_ids, alphabet, folds, sources, stats)


@lru_cache(maxsize=8)
def prepare_task_cached(name: str, data_dirs: tuple[str, ...] = ()) -> TaskData:
    """One preparation per process and task: the runner reuses it across all units."""
    return prepare_task(name, data_dirs)
