"""Split policies: stratified or random train/dev/test, group-aware (by piece), repeated stratified k-fold,
and predefined (the source file's own train/dev/test assignment).

A regression task has no classes: its group split keeps groups whole without balancing anything, and a
predefined split without dev rows carves dev at random from the file's train rows.
All are seeded by the task's split seed only, so the same seed gives the same splits on any machine
(scikit-learn's splitters with an integer ``random_state``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold, train_test_split

from crossdomain.data.tasks import SplitPolicy


@dataclass(frozen=True)
class Fold:
    index: int
    train: tuple[int, ...]
    dev: tuple[int, ...]
    test: tuple[int, ...]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "dev": len(self.dev), "test": len(self.test)}


def make_folds(policy: SplitPolicy, labels: list, groups: list[str], assigned: list[str] | None = None,
               classes: bool = True) -> list[Fold]:
    """The task's folds. ``labels`` are class ids (or targets when ``classes`` is false, which only the random,
    group and predefined kinds accept); ``assigned`` is each record's split role from its file (predefined)."""
    indices = np.arange(len(labels))
    y = np.asarray(labels) if classes else np.zeros(len(labels), dtype=int)
    if policy.kind == "stratified":
        return [_stratified(policy, indices, y)]
    if policy.kind == "random":
        return [_stratified(policy, indices, None)]
    if policy.kind == "group":
        return [_grouped(policy, indices, y, np.asarray(groups))]
    if policy.kind == "predefined":
        return [_predefined(policy, indices, assigned or [""] * len(labels))]
    return _kfold(policy, indices, y)


def _sorted(a) -> tuple[int, ...]:
    return tuple(sorted(int(i) for i in a))


def _stratified(policy: SplitPolicy, indices, y) -> Fold:
    train_ratio, dev_ratio, test_ratio = policy.ratios
    rest, test = train_test_split(indices, test_size=test_ratio, stratify=y, random_state=policy.seed)
    train, dev = train_test_split(
        rest, test_size=dev_ratio / (train_ratio + dev_ratio), stratify=None if y is None else y[rest],
        random_state=policy.seed
    )
    return Fold(0, _sorted(train), _sorted(dev), _sorted(test))


def _take_group_fold(indices, y, groups, fraction: float, seed: int):
    """Split ``indices`` into (rest, held-out ≈ fraction) keeping groups whole and classes balanced."""
    n_splits = max(2, round(1 / fraction))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    rest, held = next(splitter.split(indices, y[indices], groups[indices]))
    return indices[rest], indices[held]


def _grouped(policy: SplitPolicy, indices, y, groups) -> Fold:
    train_ratio, dev_ratio, test_ratio = policy.ratios
    rest, test = _take_group_fold(indices, y, groups, test_ratio, policy.seed)
    train, dev = _take_group_fold(rest, y, groups, dev_ratio / (train_ratio + dev_ratio), policy.seed)
    return Fold(0, _sorted(train), _sorted(dev), _sorted(test))


def _kfold(policy: SplitPolicy, indices, y) -> list[Fold]:
    splitter = RepeatedStratifiedKFold(n_splits=policy.folds, n_repeats=policy.repeats, random_state=policy.seed)
    folds = []
    for index, (rest, test) in enumerate(splitter.split(indices, y)):
        train, dev = train_test_split(rest, test_size=policy.dev_fraction, stratify=y[rest], random_state=policy.seed)
        folds.append(Fold(index, _sorted(train), _sorted(dev), _sorted(test)))
    return folds


class PredefinedSplitError(ValueError):
    pass


def _predefined(policy: SplitPolicy, indices, assigned: list[str]) -> Fold:
    """The file's own assignment; dev carved at random (split seed, ``dev_fraction``) from train when none is marked."""
    roles = np.asarray(assigned)
    unassigned = [int(i) for i in indices[~np.isin(roles, ("train", "dev", "test"))]]
    if unassigned:
        raise PredefinedSplitError(f"{len(unassigned)} record(s) carry no train/dev/test assignment (the first is "
                                   f"record {unassigned[0]}); a predefined split needs the adapter's split option")
    train, dev, test = (indices[roles == role] for role in ("train", "dev", "test"))
    if len(train) == 0 or len(test) == 0:
        raise PredefinedSplitError(f"the file assigns {len(train)} record(s) to train and {len(test)} to test; "
                                   "both must be non-empty")
    if len(dev) == 0:
        train, dev = train_test_split(train, test_size=policy.dev_fraction, random_state=policy.seed)
    return Fold(0, _sorted(train), _sorted(dev), _sorted(test))
