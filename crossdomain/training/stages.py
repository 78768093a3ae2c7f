"""A unit's stages, top to bottom: prepare data → encode → build the init arm → fit the vocabulary →
train → post-training hooks. :func:`execute` runs them and returns the fields of the unit record;
a baseline unit (:func:`execute_baseline`) shares the data stage and fits a simple model instead.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from crossdomain.data.prepare import TaskData, prepare_task_cached
from crossdomain.training.mapping import TokenMapping, build_mapping, encode
from crossdomain.training.trainer import EncodedSplit, TrainOutcome


@dataclass
class PreparedData:
    """A unit's data: the task, its fold, the token mapping and the encoded (subsampled) splits."""

    data: TaskData
    fold_index: int
    tokenizer: object
    source: object  # crossdomain.training.models.ModelSource
    mapping: TokenMapping
    splits: dict[str, EncodedSplit]  # train / dev / test, ids of the model's full vocabulary
    pad_id: int
    scaling: TargetScaling | None = None  # regression: how targets were standardised

    @property
    def fold(self):
        return self.data.folds[self.fold_index]

    @property
    def special_ids(self) -> list[int]:
        return [self.tokenizer.cls_token_id, self.tokenizer.sep_token_id, self.tokenizer.pad_token_id]


@dataclass
class BuiltModel:
    """The model to fine-tune, in the ids it reads (after vocabulary pruning), and what the arm did."""

    model: object
    splits: dict[str, EncodedSplit]
    pad_id: int
    init: dict
    vocab_rows: int  # word-embedding rows before pruning
    parameters: int  # parameters of the unpruned model


# -- stage 1-2: data and encoding ----------------------------------------------------------------


def subsample(indices: tuple[int, ...], labels: list[int] | None, limit: int, seed: int) -> list[int]:
    """A seeded subset of at most ``limit`` indices (all of them when limit is 0), stratified by class unless
    ``labels`` is None (regression)."""
    from sklearn.model_selection import train_test_split

    if not limit or limit >= len(indices):
        return list(indices)
    if labels is None:
        return sorted(train_test_split(list(indices), train_size=limit, random_state=seed)[0])
    strata = [labels[i] for i in indices]
    try:
        kept, _ = train_test_split(list(indices), train_size=limit, stratify=strata, random_state=seed)
    except ValueError:  # a class too rare to stratify at this size
        kept, _ = train_test_split(list(indices), train_size=limit, random_state=seed)
    return sorted(kept)


def nested_order(indices: tuple[int, ...], labels: list | None, seed: int) -> list[int]:
    """One seeded order of the items whose every prefix is stratified: within each class a seeded permutation,
    and the classes interleaved by each item's relative position in its class (plus a seeded jitter), so a prefix
    of n items holds each class's share of n to within one item."""
    import numpy as np

    rng = np.random.default_rng(seed)
    items = np.asarray(indices)
    classes = np.zeros(len(items), dtype=int) if labels is None else np.asarray([labels[i] for i in items])
    keys = np.empty(len(items))
    for value in np.unique(classes):
        members = np.flatnonzero(classes == value)
        shuffled = members[rng.permutation(len(members))]
        keys[shuffled] = (np.arange(len(members)) + rng.random()) / len(members)
    return [int(items[i]) for i in np.lexsort((items, keys))]


def nested_subsample(indices: tuple[int, ...], labels: list | None, limit: int, seed: int) -> list[int]:
    """The first ``limit`` items of :func:`nested_order` (all of them when limit is 0), sorted: a smaller size is a
    subset of a larger one."""
    if not limit or limit >= len(indices):
        return list(indices)
    return sorted(nested_order(indices, labels, seed)[:limit])


def encode_split(data: TaskData, indices: list[int], symbol_ids: dict[str, int], cls_id: int, sep_id: int,
                 max_length: int, scaling: "TargetScaling | None" = None) -> EncodedSplit:
    rule = data.task.length.truncation
    labels = [data.label_ids[i] for i in indices]
    return EncodedSplit(
        input_ids=[encode(data.records[i].symbols, symbol_ids, cls_id, sep_id, max_length, rule) for i in indices],
        labels=scaling.standardise(labels) if scaling else labels,
        ids=[data.records[i].id for i in indices],
        targets=labels if scaling else None,
    )


def select_items(unit) -> tuple[TaskData, dict[str, list[int]]]:
    """The task's records and the unit's train/dev/test item indices (stratified subsamples of its fold)."""
    cfg = unit.train
    data = prepare_task_cached(unit.task, unit.data_dirs)
    if unit.fold >= len(data.folds):
        raise ValueError(f"task {unit.task!r} has {len(data.folds)} fold(s); fold {unit.fold} does not exist")
    fold = data.folds[unit.fold]
    split_seed = data.task.split.seed
    strata = None if data.task.is_regression else data.label_ids
    train = nested_subsample(fold.train, strata, cfg.max_train_examples, split_seed) if cfg.nested_train_subsets \
        else subsample(fold.train, strata, cfg.max_train_examples, split_seed)
    return data, {
        "train": train,
        "dev": subsample(fold.dev, strata, cfg.max_eval_examples, split_seed),
        "test": subsample(fold.test, strata, cfg.max_eval_examples, split_seed),
    }


@dataclass(frozen=True)
class TargetScaling:
    """A regression target standardised on the unit's training items: the model learns (y - mean) / std, and its
    predictions are put back on the original scale before anything is scored or written."""

    mean: float
    std: float

    @classmethod
    def fit(cls, targets: list[float]) -> "TargetScaling":
        import numpy as np

        values = np.asarray(targets, dtype=float)
        std = float(values.std())
        return cls(float(values.mean()), std if std > 0 else 1.0)

    def standardise(self, values) -> list[float]:
        return [(float(v) - self.mean) / self.std for v in values]

    def restore(self, values) -> list[float]:
        return [float(v) * self.std + self.mean for v in values]

    def to_json(self) -> dict:
        return {"standardised_on": "train", "mean": self.mean, "std": self.std}


def prepare(unit) -> PreparedData:
    from crossdomain.training.models import load_tokenizer, resolve_model

    cfg = unit.train
    data, index_sets = select_items(unit)
    source = resolve_model(unit.model)
    tokenizer = load_tokenizer(source)
    mapping = build_mapping(unit.mapping, data.alphabet, tokenizer, unit.mapping_seed)
    symbol_ids = mapping.ids()
    scaling = TargetScaling.fit([data.label_ids[i] for i in index_sets["train"]]) if data.task.is_regression else None
    splits = {name: encode_split(data, idx, symbol_ids, tokenizer.cls_token_id, tokenizer.sep_token_id, cfg.max_length,
                                 scaling) for name, idx in index_sets.items()}
    return PreparedData(data, unit.fold, tokenizer, source, mapping, splits, tokenizer.pad_token_id, scaling)


# -- stage 3-4: the init arm and the vocabulary ------------------------------------------------------


def build_init(unit, prepared: PreparedData) -> BuiltModel:
    """Build the arm's model (seeded from the unit seed), prune the vocabulary, apply the arm's freezing."""
    from crossdomain.inits import InitContext, parse_init
    from crossdomain.inits.base import parameter_counts
    from crossdomain.training.models import prune_vocabulary

    arm = parse_init(unit.init)
    result = arm.build(InitContext(prepared.source, prepared.data.task.num_outputs, unit.seed))
    model = result.model
    vocab_rows = model.get_input_embeddings().num_embeddings
    parameters = sum(p.numel() for p in model.parameters())
    splits, pad_id = prepared.splits, prepared.pad_id
    if unit.train.prune_vocab:
        remap = prune_vocabulary(model, [*prepared.special_ids, *prepared.mapping.ids().values()])
        splits = {name: remap_split(split, remap) for name, split in splits.items()}
        pad_id = remap[pad_id]
    arm.freeze(model)
    init = {"spec": arm.spec, "arm": arm.name, "summary": arm.summary(), **result.details, **parameter_counts(model)}
    return BuiltModel(model, splits, pad_id, init, vocab_rows, parameters)


def remap_split(split: EncodedSplit, remap: dict[int, int]) -> EncodedSplit:
    return EncodedSplit([[remap[t] for t in seq] for seq in split.input_ids], split.labels, split.ids, split.targets)


# -- stage 5-6: training and hooks ----------------------------------------------------------------------


def train(unit, prepared: PreparedData, built: BuiltModel, work_dir: str, resume_dir: Path | None = None) -> TrainOutcome:
    from crossdomain.training.trainer import train_and_evaluate

    return train_and_evaluate(built.model, built.splits["train"], built.splits["dev"], built.splits["test"],
                              unit.train, unit.seed, prepared.data.task.primary_metric, built.pad_id, work_dir,
                              prepared.scaling, unit.execution, resume_dir)


def run_hooks(unit, prepared: PreparedData, built: BuiltModel, outcome: TrainOutcome, artifact_dir: Path) -> dict:
    """Each post-training hook may leave files in ``artifact_dir`` (``units/<unit_id>/``); returns what they did."""
    from crossdomain.training.hooks import HOOKS, HookContext

    done = {}
    for name in unit.hooks:
        context = HookContext(unit, prepared, built, outcome, artifact_dir / name)
        context.directory.mkdir(parents=True, exist_ok=True)
        done[name] = HOOKS.get(name)().after_training(context) or {}
    return done


# -- the whole unit ---------------------------------------------------------------------------------


@dataclass
class UnitResult:
    fields: dict  # UnitRecord fields
    predictions: tuple  # (ids, labels, predictions, probabilities, label names) for the predictions file


def task_fields(data: TaskData) -> dict:
    task = data.task
    kind = {"type": task.type} if task.is_regression else {}  # classification records keep their old shape
    return {"name": task.name, "version": task.version, "checksum": data.checksum, "sources": data.stats["sources"],
            **kind, "labels": task.labels, "primary_metric": task.primary_metric, "split": dataclasses.asdict(task.split)}


def scored(metrics: dict, primary_metric: str) -> dict:
    return {**metrics, "primary_metric": primary_metric, "primary": metrics[primary_metric]}


def execute_baseline(unit) -> UnitResult:
    """A baseline unit: the same items as the arms' units, symbols truncated to the same length."""
    from crossdomain.baselines import BASELINES, SymbolSplit
    from crossdomain.training.mapping import truncate

    data, index_sets = select_items(unit)
    task = data.task

    def split(indices):
        return SymbolSplit([truncate(data.records[i].symbols, unit.train.max_length - 2, task.length.truncation)
                            for i in indices], [data.label_ids[i] for i in indices], [data.records[i].id for i in indices])

    splits = {name: split(indices) for name, indices in index_sets.items()}
    baseline = BASELINES.get(unit.baseline)
    if baseline.version != unit.baseline_version:
        raise ValueError(f"baseline {unit.baseline!r} is at version {baseline.version}; this unit was planned for "
                         f"version {unit.baseline_version}, which this crossdomain no longer computes")
    if task.type not in baseline.task_types:
        raise ValueError(f"baseline {unit.baseline!r} applies to {', '.join(baseline.task_types)} tasks; "
                         f"{task.name!r} is a {task.type} task")
    outcome = baseline().fit_predict(splits["train"], splits["dev"], splits["test"], task.num_outputs,
                                     task.primary_metric)
    fold = data.folds[unit.fold]
    fields = {
        "task": task_fields(data),
        "init": {"baseline": unit.baseline, **outcome.details},
        "sizes": {name: len(s.labels) for name, s in splits.items()}
                 | {"train_available": len(fold.train), "dev_available": len(fold.dev), "test_available": len(fold.test)},
        "metrics": scored(outcome.test_metrics, task.primary_metric),
    }
    predictions = (splits["test"].ids, splits["test"].labels, outcome.test_predictions, outcome.test_probabilities,
                   task.labels)
    return UnitResult(fields, predictions)


def execute(unit, work_dir: str, artifact_dir: Path, resume_dir: Path | None = None) -> UnitResult:
    """Run every stage of one unit; raises on failure (the caller records it). Training checkpoints go to
    ``resume_dir``, and an interrupted attempt's are resumed from (:mod:`crossdomain.training.resume`)."""
    from crossdomain.record import BaselineSpec

    if isinstance(unit.spec(), BaselineSpec):
        return execute_baseline(unit)
    prepared = prepare(unit)
    built = build_init(unit, prepared)
    outcome = train(unit, prepared, built, work_dir, resume_dir)
    artifacts = run_hooks(unit, prepared, built, outcome, artifact_dir) if unit.hooks else {}
    task = prepared.data.task
    fold = prepared.fold
    scaling = {"target_scaling": prepared.scaling.to_json()} if prepared.scaling else {}
    fields = {
        "task": task_fields(prepared.data) | scaling,
        "model": {
            "name": unit.model, "location": prepared.source.location, "parameters": built.parameters,
            "embedding_rows": built.vocab_rows, "embedding_rows_trained": built.model.get_input_embeddings().num_embeddings,
        },
        "init": built.init,
        "mapping": prepared.mapping.to_json(),
        "sizes": {name: len(split) for name, split in built.splits.items()}
                 | {"train_available": len(fold.train), "dev_available": len(fold.dev), "test_available": len(fold.test)},
        "metrics": scored(outcome.test_metrics, task.primary_metric),
        "curve": outcome.curve,
        "best_step": outcome.best_step,
        "steps": outcome.steps,
        "train_seconds": round(outcome.train_seconds, 3),
        "precision": outcome.precision,
        "eval_precision": outcome.eval_precision,
        "resumed_from": outcome.resumed_from,
        "artifacts": artifacts,
    }
    predictions = (built.splits["test"].ids, outcome.test_labels, outcome.test_predictions,
                   outcome.test_probabilities, task.labels)
    return UnitResult(fields, predictions)
