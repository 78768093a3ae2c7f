"""Split policies: stratified train/dev/test, group-aware (by piece), repeated stratified k-fold.

All are seeded by the task's split seed only, so the same seed gives the same splits on any
machine (scikit-learn's splitters with an integer ``random_state``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold, train_test_split

from crossdomain.tasks import SplitPolicy


@dataclass(frozen=True)
class Fold:
    index: int
    train: tuple[int, ...]
    dev: tuple[int, ...]
    test: tuple[int, ...]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "dev": len(self.dev), "test": len(self.test)}


def make_folds(policy: SplitPolicy, labels: list[int], groups: list[str]) -> list[Fold]:
    indices = np.arange(len(labels))
    y = np.asarray(labels)
    if policy.kind == "stratified":
        return [_stratified(policy, indices, y)]
    if policy.kind == "group":
        return [_grouped(policy, indices, y, np.asarray(groups))]
    return _kfold(policy, indices, y)


def _sorted(a) -> tuple[int, ...]:
    return tuple(sorted(int(i) for i in a))


def _stratified(policy: SplitPolicy, indices, y) -> Fold:
    train_ratio, dev_ratio, test_ratio = policy.ratios
    rest, test = train_test_split(indices, test_size=test_ratio, stratify=y, random_state=policy.seed)
    train, dev = train_test_split(
        rest, test_size=dev_ratio / (train_ratio + dev_ratio), stratify=y[rest], random_state=policy.seed
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
