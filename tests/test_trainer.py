"""The shared trainer learns, and its test predictions line up with the test items."""
import random

import numpy as np
import pytest
import torch

from crossdomain.config import ExecutionConfig, TrainConfig
from crossdomain.training.models import fresh_classifier, resolve_model
from crossdomain.training.precision import cpu_has_native_bf16
from crossdomain.training.trainer import (
    EncodedSplit,
    PadCollator,
    predict_outputs,
    predict_probabilities,
    train_and_evaluate,
)


def toy_split(n, seed, vocabulary=(2000, 2001, 2002, 2003, 3000, 3001, 3002, 3003)):
    """Label 0 sequences use the first four tokens, label 1 the last four; lengths vary from 3 to 20."""
    rng = random.Random(seed)
    ids, labels = [], []
    for i in range(n):
        label = i % 2
        tokens = vocabulary[:4] if label == 0 else vocabulary[4:]
        ids.append([101] + [rng.choice(tokens) for _ in range(rng.randint(3, 20))] + [102])
        labels.append(label)
    return EncodedSplit(ids, labels, [f"item{i}" for i in range(n)])


def test_predictions_come_back_in_item_order():
    torch.manual_seed(0)
    model = fresh_classifier(resolve_model("tiny"), num_labels=2)
    split = toy_split(37, seed=1)
    batched = predict_probabilities(model, split, batch_size=8, pad_id=0)
    one_by_one = np.vstack([predict_probabilities(model, EncodedSplit([s], [0], ["x"]), 1, 0) for s in split.input_ids])
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-4, atol=1e-5)


def test_trainer_learns_a_separable_task_and_records_the_curve(tmp_path):
    torch.manual_seed(0)
    model = fresh_classifier(resolve_model("tiny"), num_labels=2)
    cfg = TrainConfig(lr=2e-3, max_steps=60, batch_size=16, eval_every=20, warmup_ratio=0.1)
    outcome = train_and_evaluate(model, toy_split(320, 0), toy_split(64, 1), toy_split(64, 2), cfg, seed=0,
                                 primary_metric="accuracy", pad_id=0, work_dir=str(tmp_path))
    assert outcome.test_metrics["accuracy"] >= 0.95
    assert [p["step"] for p in outcome.curve] == [0, 20, 40, 60]
    assert outcome.curve[-1]["dev"] > outcome.curve[0]["dev"]
    assert outcome.test_labels == toy_split(64, 2).labels


def test_dynamic_padding_pads_to_the_longest_in_the_batch():
    batch = PadCollator(pad_id=0)([{"input_ids": [101, 5, 102], "labels": 1}, {"input_ids": [101, 102], "labels": 0}])
    assert batch["input_ids"].tolist() == [[101, 5, 102], [101, 102, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]


def test_early_stopping_waits_for_its_minimum_number_of_steps(tmp_path):
    """At lr ~0 the dev score never improves: patience 1 stops at the first evaluation, min_steps holds it back."""
    stopped_at = {}
    for min_steps in (0, 40):
        torch.manual_seed(0)
        model = fresh_classifier(resolve_model("tiny"), num_labels=2)
        cfg = TrainConfig(lr=1e-12, max_steps=80, batch_size=8, eval_every=10, early_stopping_patience=1,
                          early_stopping_min_steps=min_steps)
        outcome = train_and_evaluate(model, toy_split(160, 0), toy_split(32, 1), toy_split(32, 2), cfg, seed=0,
                                     primary_metric="accuracy", pad_id=0, work_dir=str(tmp_path / str(min_steps)))
        stopped_at[min_steps] = [p["step"] for p in outcome.curve]
    assert stopped_at == {0: [0, 10], 40: [0, 10, 20, 30, 40]}


def train_toy(tmp_path, seed: int, bf16: bool):
    torch.manual_seed(seed)
    model = fresh_classifier(resolve_model("tiny"), num_labels=2)
    cfg = TrainConfig(lr=1e-3, max_steps=60, batch_size=16, eval_every=20, warmup_ratio=0.1)
    return train_and_evaluate(model, toy_split(320, 0), toy_split(64, 1), toy_split(64, 2), cfg, seed=seed,
                              primary_metric="accuracy", pad_id=0, work_dir=str(tmp_path / f"{seed}-{bf16}"),
                              execution=ExecutionConfig(bf16=bf16, threads=1))


def test_bf16_off_runs_and_records_fp32(tmp_path):
    assert train_toy(tmp_path, 0, bf16=False).precision == "fp32"


@pytest.mark.skipif(not (cpu_has_native_bf16() or (torch.cuda.is_available() and torch.cuda.is_bf16_supported())),
                    reason="no native bf16 on this machine: units run in fp32 here")
def test_bf16_trains_to_the_same_loss_as_fp32(tmp_path):
    """bf16 autocast rounds matmul inputs to 8 significant bits (unit roundoff 2^-8 = 0.004) while weights,
    optimiser and loss stay fp32. After 60 steps the final dev loss (about 0.4) may then move by a few
    roundoffs of itself, well under 0.01; measured: 4e-5 and 7e-5 on two seeds. Two seeds in fp32 differ by
    about 0.02, so precision must also matter less than a tenth of the seed."""
    fp32, bf16, other_seed = train_toy(tmp_path, 0, False), train_toy(tmp_path, 0, True), train_toy(tmp_path, 1, False)
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    loss = {name: outcome.curve[-1]["dev_loss"] for name, outcome in
            (("fp32", fp32), ("bf16", bf16), ("other seed", other_seed))}
    assert loss["fp32"] != loss["bf16"]  # autocast really acted
    assert abs(loss["bf16"] - loss["fp32"]) <= 0.01, loss
    assert abs(loss["bf16"] - loss["fp32"]) < 0.1 * abs(loss["other seed"] - loss["fp32"]), loss
    assert bf16.test_metrics["accuracy"] == fp32.test_metrics["accuracy"] == 1.0


def mean_cross_entropy(model, split, precision):
    logits = torch.from_numpy(predict_outputs(model, split, batch_size=64, pad_id=0, precision=precision))
    return torch.nn.functional.cross_entropy(logits, torch.tensor(split.labels)).item()


@pytest.mark.skipif(not (cpu_has_native_bf16() or (torch.cuda.is_available() and torch.cuda.is_bf16_supported())),
                    reason="no native bf16 on this machine: units run in fp32 here")
@pytest.mark.parametrize("bf16_eval", [False, True])
def test_a_bf16_unit_is_evaluated_in_fp32_unless_asked(tmp_path, bf16_eval):
    """Under accelerate's mixed precision the model's forward is wrapped in bf16 autocast, evaluation included.
    The last dev point and the test probabilities (both of the final weights) must equal a forward of those
    weights in the evaluation precision, to summation noise (2e-5), and miss the other precision's by more than
    bf16 rounding leaves them apart (measured: about 1e-3 in probability on this tiny model)."""
    torch.manual_seed(0)
    model = fresh_classifier(resolve_model("tiny"), num_labels=2)
    dev, test = toy_split(64, 1), toy_split(64, 2)
    cfg = TrainConfig(lr=2e-3, max_steps=60, batch_size=16, eval_every=20, warmup_ratio=0.1, keep_best=False)
    outcome = train_and_evaluate(model, toy_split(320, 0), dev, test, cfg, seed=0, primary_metric="accuracy",
                                 pad_id=0, work_dir=str(tmp_path), execution=ExecutionConfig(threads=1, bf16_eval=bf16_eval))
    expected, other = ("bf16", "fp32") if bf16_eval else ("fp32", "bf16")
    assert (outcome.precision, outcome.eval_precision) == ("bf16", expected)
    assert outcome.curve[-1]["dev_loss"] == pytest.approx(mean_cross_entropy(model, dev, expected), abs=2e-5)
    probabilities = np.array(outcome.test_probabilities)
    np.testing.assert_allclose(probabilities, predict_probabilities(model, test, 64, 0, expected), atol=2e-5)
    assert np.abs(probabilities - predict_probabilities(model, test, 64, 0, other)).max() > 1e-4  # measured 4.3e-4


def test_fp32_evaluation_turns_tf32_off_and_restores_it():
    from crossdomain.training.trainer import forward_in

    model = fresh_classifier(resolve_model("tiny"), num_labels=2)
    torch.backends.cuda.matmul.allow_tf32 = True  # as training on CUDA sets it
    try:
        with forward_in(model, "fp32"):
            assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
