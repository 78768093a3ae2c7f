"""Typed configuration: dataclasses built from YAML/dicts and ``--set key=value`` overrides.

Every key is checked against the dataclass fields (an unknown key names the closest valid
ones) and every value against the field's type (``train.lr=fast`` is an error naming the key).
"""
from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

import yaml

from crossdomain.registry import did_you_mean


class ConfigError(ValueError):
    pass


@dataclass
class TrainConfig:
    """Fine-tuning hyper-parameters shared by every domain."""

    lr: float = 5e-5  # peak learning rate of AdamW
    epochs: float = 3.0  # passes over the training split (ignored when max_steps > 0)
    max_steps: int = -1  # optimiser steps; > 0 overrides epochs
    batch_size: int = 16  # sequences per optimiser step (per device, before accumulation)
    grad_accum: int = 1  # gradient-accumulation steps
    warmup_ratio: float = 0.1  # fraction of steps with linear warm-up, then linear decay
    weight_decay: float = 0.01  # AdamW weight decay
    eval_every: int = 50  # steps between dev evaluations (the learning curve's resolution)
    early_stopping_patience: int = 0  # dev evaluations without improvement before stopping; 0 = off
    # no early stop before this many steps: a randomly initialised model can sit at the majority class for a
    # while before it starts to learn, and patience alone would end it there
    early_stopping_min_steps: int = 0
    # restore the weights of the best dev evaluation; false keeps the final weights, for dev sets too small to
    # rank checkpoints (dna/promoters: 13 items), where the "best" step is mostly noise and can be step 0
    keep_best: bool = True
    max_length: int = 64  # tokens per sequence including [CLS] and [SEP]
    max_train_examples: int = 0  # stratified subsample of the training split; 0 = all
    # the training subsample is a prefix of one seeded, stratified order, so a smaller size is a subset of a larger
    # one (set for every size of a suite's data axis)
    nested_train_subsets: bool = False
    max_eval_examples: int = 0  # stratified subsample of dev and test; 0 = all
    prune_vocab: bool = True  # keep only the embedding rows the mapping can produce (same outputs, less work)
    group_by_length: bool = False  # length-grouped batches: less padding, but class-skewed batches where length tells the class
    # fields added after unit-record schema 2: hashed only when they differ from their default, so the
    # unit ids of earlier runs stay valid (a new field goes here, or in EXECUTION_ONLY; a test checks)
    IDENTITY_IF_CHANGED: ClassVar[tuple[str, ...]] = ("early_stopping_min_steps", "keep_best", "nested_train_subsets")

    def identity(self) -> dict:
        defaults = TrainConfig()
        return {k: v for k, v in dataclasses.asdict(self).items()
                if not (k in self.IDENTITY_IF_CHANGED and v == getattr(defaults, k))}


@dataclass
class ExecutionConfig:
    """How a unit runs, not what it computes: recorded in the unit file, never part of its id, so a run can be
    resumed with other threads, evaluation batches, precision or device (each record says which ran)."""

    threads: int = 0  # torch CPU threads; 0 = all cores
    eval_batch_size: int = 64  # sequences per evaluation batch
    bf16: bool = True  # bf16 autocast where the hardware has native bf16 (CUDA, or a CPU with AVX512-BF16/AMX); else fp32
    # dev evaluation and test predictions under bf16 too (faster); by default they run in fp32, because outputs that
    # barely vary across items (a collapsed regression head) are otherwise ranked by bf16 rounding noise
    bf16_eval: bool = False
    device: str = "auto"  # auto (CUDA when present, else CPU) or cpu
    # a resumable training checkpoint at the first dev evaluation after this many minutes since the last one
    # (0 = never): a unit interrupted mid-training (a session's end, a preempted job) resumes from it
    checkpoint_minutes: float = 10.0

    DEVICES: ClassVar[tuple[str, ...]] = ("auto", "cpu")


# Keys that moved out of train (until 0.3 the old spelling is accepted with a DeprecationWarning).
MOVED_TRAIN_KEYS = {"threads": "execution.threads", "eval_batch_size": "execution.eval_batch_size",
                    "bf16": "execution.bf16", "save_model": "hooks: [save-model]"}


def migrate_moved_keys(data: dict, where: str) -> dict:
    """A suite mapping with ``train.threads``/``eval_batch_size``/``bf16`` moved to ``execution`` and
    ``train.save_model: true`` turned into the ``save-model`` hook, each with a DeprecationWarning."""
    import warnings

    train = data.get("train")
    if not isinstance(train, dict) or not set(train) & set(MOVED_TRAIN_KEYS):
        return data
    data, train = dict(data), dict(train)
    execution = dict(data.get("execution") or {})
    for key in [k for k in train if k in MOVED_TRAIN_KEYS]:
        value = train.pop(key)
        warnings.warn(f"{where}: train.{key} is now {MOVED_TRAIN_KEYS[key]} (the old key is read until 0.3)",
                      DeprecationWarning, stacklevel=3)
        if key == "save_model":
            if coerce(value, bool, f"{where}: train.save_model"):
                data["hooks"] = list(dict.fromkeys([*(data.get("hooks") or []), "save-model"]))
        else:
            execution.setdefault(key, value)
    return {**data, "train": train, "execution": execution}


# The arm roles a suite declares by default: every arm is contrasted with the reference arm, and the recovered
# fraction of an arm is (arm − reference) / (full − reference).
FULL_ARM = "pretrained"
REFERENCE_ARM = "random"


@dataclass
class SuiteConfig:
    """A grid: tasks × folds × init arms × seeds × mapping seeds, for one model and training config."""

    name: str
    tasks: list[str]
    description: str = ""
    inits: list[str] = field(default_factory=lambda: ["pretrained", "random"])  # init arm specs, e.g. "frozen:base=random"
    contrasts: list[list[str]] = field(default_factory=list)  # [treatment, control] arm pairs; empty = every arm vs random
    full_arm: str = FULL_ARM  # the treatment recovered fractions are measured against
    reference_arm: str = REFERENCE_ARM  # the control of the default contrasts and of recovered fractions
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    # per-task replacement of seeds, e.g. more seeds for a task whose Δ is still imprecise
    task_seeds: dict[str, list[int]] = field(default_factory=dict)
    # per task and arm (canonical spec): replaces that arm's seeds on that task, e.g. more seeds for the arms a
    # precision goal is about, where adding them to every arm would cost more than it tells
    task_arm_seeds: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    mapping_seeds: list[int] = field(default_factory=lambda: [0])
    model: str = "minilm-l6"  # alias, Hugging Face id or local folder
    mapping: str = "random"  # token-mapping strategy
    folds: list[int] = field(default_factory=list)  # folds of k-fold tasks to run; empty = all
    train: TrainConfig = field(default_factory=TrainConfig)
    task_train: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-task overrides of train
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)  # how units run (not in their ids)
    hooks: list[str] = field(default_factory=list)  # post-training hooks, e.g. save-model
    lr_grid: list[float] = field(default_factory=list)  # per-arm lr selection on dev over these values; empty = off
    task_lr_grid: dict[str, list[float]] = field(default_factory=dict)  # per-task replacement of lr_grid
    # per-arm replacement of the grid on every task (arm specs as written in inits, canonical), for arms whose
    # useful learning rates lie elsewhere, such as a frozen body; it takes precedence over task_lr_grid
    arm_lr_grid: dict[str, list[float]] = field(default_factory=dict)
    # per task: choose the lr on the mean dev score over its first N folds (default 1), for tasks whose dev split
    # alone is too small to rank learning rates
    task_lr_selection_folds: dict[str, int] = field(default_factory=dict)
    baselines: list[str] = field(default_factory=list)  # reference rows, e.g. majority, kmer-logreg
    # the model axis: each model is run on the whole grid (replaces model when given)
    models: list[str] = field(default_factory=list)
    # the data axis: each value replaces train.max_train_examples (0 = the whole training split)
    train_sizes: list[int] = field(default_factory=list)

    def model_axis(self) -> list[str]:
        return list(self.models) or [self.model]

    def train_size_axis(self) -> list[int | None]:
        """The training-set sizes to run; None: the task's own train.max_train_examples (no data axis)."""
        return list(self.train_sizes) or [None]

    expected_cost: str = ""  # what the suite costs, for humans

    def lr_grid_for(self, task: str, arm: str | None = None) -> list[float]:
        """The lr grid of one (task, arm): the arm's own grid, else the task's, else the suite's."""
        if arm is not None and arm in self.arm_lr_grid:
            return list(self.arm_lr_grid[arm])
        return list(self.task_lr_grid.get(task, self.lr_grid))

    def seeds_for(self, task: str, arm: str | None = None) -> list[int]:
        """The seeds of one task, or of one arm on it: the arm's own, else the task's, else the suite's."""
        arm_seeds = self.task_arm_seeds.get(task, {})
        if arm is not None and arm in arm_seeds:
            return list(arm_seeds[arm])
        return list(self.task_seeds.get(task, self.seeds))

    def train_for(self, task: str) -> TrainConfig:
        overrides = self.task_train.get(task, {})
        return build(TrainConfig, {**dataclasses.asdict(self.train), **overrides}, f"task_train.{task}")

    PER_TASK_KEYS = ("task_train", "task_seeds", "task_arm_seeds", "task_lr_grid",  # dicts keyed by task name
                     "task_lr_selection_folds")
    PER_TASK_TEMPLATES = {"task_train": TrainConfig}  # the type of each key of a per-task dict of settings

    def narrowed_to(self, tasks: list[str]) -> "SuiteConfig":
        """The suite on some of its tasks: the per-task settings of the tasks left out go with them, while a key
        naming no task of the suite stays, so that validation still reports the misspelling."""
        left_out = set(self.tasks) - set(tasks)
        kept = {key: {k: v for k, v in getattr(self, key).items() if k not in left_out} for key in self.PER_TASK_KEYS}
        return dataclasses.replace(self, tasks=list(tasks), **kept)


# -- building dataclasses from plain data --------------------------------------------------


def build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise ConfigError(f"{where}: unknown key {key!r}.{did_you_mean(str(key), names)}")
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(repr(m) for m in missing)}")
    kwargs = {key: coerce(value, hints[key], f"{where}.{key}" if where else key) for key, value in data.items()}
    return cls(**kwargs)


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def coerce(value, tp, where: str):
    """Check ``value`` against type ``tp``; strings from the command line are converted."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if type(None) in options and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin in (list, tuple):
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip().startswith("[") else value.split(",")
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_type, *_) = get_args(tp) or (Any,)
        return [coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_type, value_type = get_args(tp) or (Any, Any)
        return {coerce(k, key_type, where): coerce(v, value_type, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        if isinstance(value, (int, float)) and (tp is float or float(value).is_integer()):
            return tp(value)
        if isinstance(value, str):
            try:
                return tp(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


# -- overrides -----------------------------------------------------------------------------


def apply_overrides(config, assignments: list[str]):
    """Apply ``key.sub=value`` strings to a dataclass instance, returning a new one."""
    data = dataclasses.asdict(config)
    if type(config) is SuiteConfig:
        command_line_wins(data, assignments)
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. train.lr=5e-5")
        path = key.strip().split(".")
        if type(config) is SuiteConfig and len(path) == 2 and path[0] == "train" and path[1] in MOVED_TRAIN_KEYS:
            moved = migrate_moved_keys({"train": {path[1]: raw.strip()}}, f"--set {key.strip()}")
            data["execution"] |= moved.get("execution", {})
            data["hooks"] = list(dict.fromkeys([*data["hooks"], *moved.get("hooks", [])]))
            continue
        _set_path(data, type(config), path, raw.strip(), key.strip())
    return build(type(config), data, "")


def command_line_wins(data: dict, assignments: list[str]) -> None:
    """The precedence rule, one for the library and the command line: an override ``train.KEY=V`` applies to
    every task, so the suite's own per-task value of KEY gives way to it, and ``seeds=[...]`` replaces
    ``task_seeds`` and ``task_arm_seeds`` (``task_train.TASK.KEY=V``, ``task_seeds.TASK=[...]`` and
    ``task_arm_seeds.TASK.ARM=[...]`` still target one task)."""
    keys = [item.partition("=")[0].strip() for item in assignments]
    train_keys = {key[len("train."):] for key in keys if key.startswith("train.")}
    data["task_train"] = {task: {k: v for k, v in values.items() if k not in train_keys}
                          for task, values in data["task_train"].items()}
    if "seeds" in keys:
        data["task_seeds"] = {}
        data["task_arm_seeds"] = {}


def _set_path(data: dict, cls, path: list[str], raw: str, full_key: str) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    hints = {name: hint for name, hint in get_type_hints(cls).items() if name in fields}  # no ClassVar constants
    head = path[0]
    if head not in hints:
        raise ConfigError(f"--set {full_key}: unknown key {head!r}.{did_you_mean(head, list(hints))}")
    if len(path) == 1:
        data[head] = coerce(raw, hints[head], full_key)
        return
    if dataclasses.is_dataclass(hints[head]):
        _set_path(data[head], hints[head], path[1:], raw, full_key)
        return
    if get_origin(hints[head]) is dict:
        value_type = get_args(hints[head])[1]
        if len(path) == 2:  # e.g. task_seeds.dna/promoters=[0,1,2]
            data[head][path[1]] = coerce(raw, value_type, full_key)
            return
        if len(path) == 3 and get_origin(value_type) is dict:  # e.g. task_train.dna/splice.lr=1e-4
            data[head].setdefault(path[1], {})[path[2]] = per_task_value(cls, head, path[2], raw, full_key,
                                                                         get_args(value_type)[1])
            return
    raise ConfigError(f"--set {full_key}: {head!r} has no sub-keys")


def per_task_value(cls, head: str, key: str, raw: str, full_key: str, value_type):
    """``task_train.TASK.KEY=V`` is typed as ``train.KEY=V`` is, so the resolved suite (and the run's suite.yaml)
    records 0.0001, not the string '1e-4'. An unknown KEY stays raw: building the task's config refuses it.
    Without a template (``task_arm_seeds.TASK.ARM=[...]``) every value has the dict's own value type."""
    template = getattr(cls, "PER_TASK_TEMPLATES", {}).get(head)
    if template is None:
        return coerce(raw, value_type, full_key)
    hints = get_type_hints(template)
    return coerce(raw, hints[key], full_key) if key in hints else raw


def to_yaml(config) -> str:
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
