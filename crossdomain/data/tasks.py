"""Task definitions: small declarative YAML files under ``datasets/<domain>/<task>.yaml``.

A definition names its adapter, version, sources (with sha256), the ordered label list and
the de-duplication, split and length policies. ``$CROSSDOMAIN_TASKS`` adds folders of
user-defined tasks; a path to a YAML file also works wherever a task name does.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from crossdomain.config import ConfigError, build
from crossdomain.data.sources import REPO_ROOT, SourceSpec
from crossdomain.metrics import CLASSIFICATION, DEFAULT_PRIMARY, METRICS, REGRESSION, TASK_TYPES, metric_names
from crossdomain.registry import UnknownNameError, did_you_mean


def builtin_task_dir() -> Path:
    """The repository's datasets/ folder in a checkout; the same files shipped as package data in a wheel."""
    checkout = REPO_ROOT / "datasets"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parents[1] / "task_definitions"  # data-only package: no __init__.py


BUILTIN_TASK_DIR = builtin_task_dir()
SPLIT_KINDS = ("stratified", "random", "group", "kfold", "predefined")
SPLIT_ROLES = ("train", "dev", "test")


@dataclass
class SplitPolicy:
    kind: str = "stratified"  # stratified | random | group | kfold | predefined
    ratios: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])  # train/dev/test
    folds: int = 5  # kfold only
    repeats: int = 1  # kfold only: repeated stratified k-fold
    # kfold: dev carved (stratified) from each training fold; predefined: dev carved (at random) from the file's
    # train rows when the file marks none as dev
    dev_fraction: float = 0.1
    seed: int = 0  # the split seed, independent of training and mapping seeds


@dataclass
class LengthPolicy:
    truncation: str = "head"  # head | head_tail (keep first N/2 + last N/2, as DeepLoc did)
    min_symbols: int = 1  # shorter sequences are dropped (counted)
    segment: int = 0  # > 0: cut sequences into segments of this many symbols
    max_segments_per_group: int = 0  # > 0: cap segments per group (piece), evenly spaced


@dataclass
class TaskDefinition:
    name: str
    adapter: str
    version: str
    description: str
    sources: list[SourceSpec]
    type: str = CLASSIFICATION  # classification | regression
    labels: list[str] = field(default_factory=list)  # classification: the explicit label order (id = position)
    citation: str = ""
    licence: str = ""
    reader: dict[str, Any] = field(default_factory=dict)  # adapter options
    unknown: str = "error"  # the adapter's unknown-symbol policy: error | replace | drop
    label_map: dict[str, str] = field(default_factory=dict)  # raw label → declared label
    dedup: str = "drop_conflicts"  # drop_conflicts | keep
    split: SplitPolicy = field(default_factory=SplitPolicy)
    length: LengthPolicy = field(default_factory=LengthPolicy)
    primary_metric: str = ""  # default: accuracy for classification, spearman for regression
    path: str = ""

    def __post_init__(self):
        where = self.path or self.name
        if self.type not in TASK_TYPES:
            raise ConfigError(f"{where}: type {self.type!r} is not one of {', '.join(TASK_TYPES)}")
        self.primary_metric = self.primary_metric or DEFAULT_PRIMARY[self.type]
        self.check_type_options(where)
        if self.split.kind not in SPLIT_KINDS:
            raise ConfigError(f"{where}: split.kind {self.split.kind!r} is not one of {', '.join(SPLIT_KINDS)}")
        if self.dedup not in ("drop_conflicts", "keep"):
            raise ConfigError(f"{where}: dedup {self.dedup!r} is not one of drop_conflicts, keep")
        if self.length.truncation not in ("head", "head_tail"):
            raise ConfigError(f"{where}: length.truncation {self.length.truncation!r} is not one of head, head_tail")
        if len(set(self.labels)) != len(self.labels):
            raise ConfigError(f"{where}: labels contain duplicates: {self.labels}")
        if self.split.kind == "predefined":
            if not 0 < self.split.dev_fraction < 1:
                raise ConfigError(f"{where}: split.dev_fraction must be between 0 and 1, got {self.split.dev_fraction}")
        elif self.split.kind != "kfold":
            ratios = self.split.ratios
            if len(ratios) != 3 or any(r <= 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
                raise ConfigError(f"{where}: split.ratios must be three positive train/dev/test fractions summing to 1, "
                                  f"got {ratios}")
        elif self.split.folds < 2 or self.split.repeats < 1 or not 0 < self.split.dev_fraction < 1:
            raise ConfigError(f"{where}: split needs folds >= 2, repeats >= 1 and 0 < dev_fraction < 1, got "
                              f"folds={self.split.folds}, repeats={self.split.repeats}, dev_fraction={self.split.dev_fraction}")
        from crossdomain.adapters import ADAPTERS

        if self.adapter not in ADAPTERS:
            raise ConfigError(f"{where}: adapter {self.adapter!r} is not registered."
                              f"{did_you_mean(self.adapter, ADAPTERS.names())}")
        for source in self.sources:
            if source.path and (Path(source.path).is_absolute() or ".." in Path(source.path).parts):
                raise ConfigError(f"{where}: source {source.name!r}: path {source.path!r} must be relative, without '..' "
                                  "(it names a place inside a mirror folder or the cache)")

    def check_type_options(self, where: str) -> None:
        """Options of one task type are refused on the other, naming the key."""
        if self.primary_metric not in METRICS or METRICS[self.primary_metric].task_type != self.type:
            raise ConfigError(f"{where}: primary_metric {self.primary_metric!r} is not a {self.type} metric; expected "
                              f"one of {', '.join(metric_names(self.type))}")
        if self.type == REGRESSION:
            for key, value, kind in (("labels", self.labels, "a label list"), ("label_map", self.label_map, "a label map")):
                if value:
                    raise ConfigError(f"{where}: {key}: a regression task has no classes, so {kind} does not apply "
                                      "(the adapter's target is read as a number)")
            if self.split.kind in ("stratified", "kfold"):
                raise ConfigError(f"{where}: split.kind {self.split.kind!r} stratifies by class, which a regression "
                                  "task has not; use random, group or predefined")
        elif not self.labels:
            raise ConfigError(f"{where}: labels: a classification task declares its labels, in order "
                              "(or set type: regression)")

    @property
    def is_regression(self) -> bool:
        return self.type == REGRESSION

    @property
    def num_outputs(self) -> int:
        """Output units of the model's head: one per class, or one value for regression."""
        return 1 if self.is_regression else len(self.labels)

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-")


def task_dirs() -> list[Path]:
    extra = [Path(d) for d in os.environ.get("CROSSDOMAIN_TASKS", "").split(os.pathsep) if d]
    return extra + [BUILTIN_TASK_DIR]


def available_tasks() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in task_dirs():
        for path in sorted(root.glob("*/*.yaml")):
            found.setdefault(f"{path.parent.name}/{path.stem}", path)
    return found


def load_task_file(path: Path) -> TaskDefinition:
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    data["path"] = str(path)
    return build(TaskDefinition, data, str(path))


@lru_cache(maxsize=None)
def get_task(name: str) -> TaskDefinition:
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return load_task_file(Path(name))
    tasks = available_tasks()
    if name not in tasks:
        raise UnknownNameError(f"Unknown task {name!r}.{did_you_mean(name, list(tasks))}")
    task = load_task_file(tasks[name])
    if task.name != name:
        raise ConfigError(f"{tasks[name]}: name {task.name!r} does not match its location {name!r}")
    return task
