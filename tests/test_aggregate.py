"""Benchmark-level estimators against hand computations."""
import numpy as np
import pandas as pd
import pytest

from crossdomain.report import aggregate


def test_probability_of_improvement_by_hand():
    # task 1: x = [3, 1], y = [2, 2] → comparisons (3>2, 3>2, 1<2, 1<2) → 2/4
    # task 2: x = [5, 5], y = [5, 4] → (tie, win, tie, win) → (0.5 + 1 + 0.5 + 1) / 4 = 0.75
    assert aggregate.probability_of_improvement([[3, 1], [5, 5]], [[2, 2], [5, 4]]) == pytest.approx((0.5 + 0.75) / 2)
    assert aggregate.probability_of_improvement([[1.0]], [[0.0]]) == 1.0


def test_iqm_is_the_mean_of_the_middle_half():
    values = [100, 1, 2, 3, 4, 5, 6, -100]  # sorted: -100 1 2 3 4 5 6 100; middle half: 2 3 4 5
    assert aggregate.iqm(values) == pytest.approx(3.5)


def test_stratified_bootstrap_resamples_within_tasks_only():
    constant = [(np.array([1.0, 1.0, 1.0]),), (np.array([3.0, 3.0]),)]
    assert aggregate.stratified_bootstrap(constant, lambda g: float(np.mean([a.mean() for (a,) in g]))) == (2.0, 2.0)
    rng = np.random.default_rng(1)
    noisy = [(rng.normal(0.1, 0.05, 6),) for _ in range(4)]
    low, high = aggregate.stratified_bootstrap(noisy, lambda g: float(np.mean([a.mean() for (a,) in g])))
    mean = np.mean([a.mean() for (a,) in noisy])
    assert low < mean < high and high - low < 0.1


def test_aggregate_contrast_row():
    pairs = pd.DataFrame({"task": ["a"] * 3 + ["b"] * 4, "delta": [0.1, 0.2, 0.3, 0.0, 0.1, -0.1, 0.2]})
    row = aggregate.aggregate_contrast(pairs, "pretrained", "random",
                                       {("a", 0): [0.9, 0.8, 0.85], ("b", 0): [0.5, 0.6, 0.4], ("b", 1): [0.9, 0.1]},
                                       {("a", 0): [0.7, 0.6, 0.55], ("b", 0): [0.5, 0.5, 0.5], ("b", 1): [0.8, 0.2]})
    by_hand_b0 = (0.5 * 3 + 3 + 0) / 9  # 0.5 ties three times, 0.6 wins three times, 0.4 loses
    by_hand_b1 = (1 + 1 + 0 + 0) / 4  # within fold 1 only: 0.9 beats 0.8 and 0.2, 0.1 beats neither
    assert row["p_improvement"] == pytest.approx((1.0 + (by_hand_b0 + by_hand_b1) / 2) / 2)
    pooled = [0.1, 0.2, 0.3, 0.0, 0.1, -0.1, 0.2]
    assert row["iqm_delta"] == pytest.approx(aggregate.iqm(pooled))
    assert row["mean_delta"] == pytest.approx(np.mean(pooled))  # the same pooled pairs as the IQM
    assert row["win_rate"] == pytest.approx((5 + 0.5) / 7)  # five wins, one tie, one loss
    for name in ("p_improvement", "win_rate", "iqm_delta", "mean_delta"):
        assert row[f"{name}_ci_low"] <= row[name] <= row[f"{name}_ci_high"], name
    assert row["pairs"] == 7 and row["tasks"] == 2
