"""The vectorised bootstrap metrics agree with scikit-learn on every resample."""
import numpy as np
import pytest

from crossdomain.metrics import classification_metrics, metric_from_confusions, metric_names, resampled_confusions


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_confusion_metrics_match_scikit_learn(n_classes):
    rng = np.random.default_rng(n_classes)
    labels = rng.choice([f"c{i}" for i in range(n_classes)], 60)
    predictions = np.where(rng.random(60) < 0.6, labels, rng.choice([f"c{i}" for i in range(n_classes)], 60))
    indices = rng.integers(0, 60, (25, 60))
    indices[0] = 0  # a resample holding one item: one class, MCC's zero-variance case
    confusions = resampled_confusions(labels, predictions, indices)
    for metric in metric_names("classification"):
        fast = metric_from_confusions(confusions, metric)
        slow = [classification_metrics(labels[row], predictions[row])[metric] for row in indices]
        np.testing.assert_allclose(fast, slow, atol=1e-12, err_msg=metric)


def test_unknown_metric_is_named():
    with pytest.raises(ValueError, match="'auc'.*accuracy, macro_f1, mcc"):
        metric_from_confusions(np.ones((1, 2, 2)), "auc")
