"""Centered kernel alignment (Kornblith et al. 2019): linear CKA and its debiased form.

Both compare two representations of the same n examples (n × features matrices, feature counts may
differ). Linear CKA is invariant to orthogonal transforms and isotropic scaling of either side and is 1
for identical inputs. The debiased form replaces the biased HSIC estimator by the unbiased one
(Song et al. 2012), which removes the upward bias of CKA at small n relative to the feature count.
"""
from __future__ import annotations

import numpy as np


def _center(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x - x.mean(axis=0, keepdims=True)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    x, y = _center(x), _center(y)
    cross = np.linalg.norm(y.T @ x, "fro") ** 2
    norm = np.linalg.norm(x.T @ x, "fro") * np.linalg.norm(y.T @ y, "fro")
    return float(cross / norm) if norm > 0 else float("nan")


def _unbiased_hsic(k: np.ndarray, m: np.ndarray) -> float:
    n = k.shape[0]
    k, m = k.copy(), m.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(m, 0)
    ones = np.ones(n)
    term = np.trace(k @ m) + (ones @ k @ ones) * (ones @ m @ ones) / ((n - 1) * (n - 2)) \
        - 2 / (n - 2) * (ones @ k @ m @ ones)
    return float(term / (n * (n - 3)))


def debiased_linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    x, y = _center(x), _center(y)
    if x.shape[0] < 4:
        return float("nan")
    k, m = x @ x.T, y @ y.T
    denominator = np.sqrt(_unbiased_hsic(k, k) * _unbiased_hsic(m, m))
    return float(_unbiased_hsic(k, m) / denominator) if denominator > 0 else float("nan")
