"""An interrupted unit resumes from its last checkpoint and ends exactly where an uninterrupted one does."""
import pytest
import torch

from crossdomain.config import ExecutionConfig, TrainConfig
from crossdomain.training import resume
from crossdomain.training.models import fresh_classifier, resolve_model
from crossdomain.training.trainer import CurveAndBestModel, train_and_evaluate
from tests.test_trainer import toy_split

EVERY_EVALUATION = 1e-9  # checkpoint_minutes: a checkpoint at every dev evaluation


class Interrupted(Exception):
    """Stands for a session's end or a preempted job, right after the checkpoint of one step."""


def train_toy(tmp_path, resume_dir, checkpoint_minutes=EVERY_EVALUATION, bf16=False, **train):
    """60 steps of 20 per epoch, dev every 10, early-stopping state and best weights in play; dropout on."""
    torch.manual_seed(0)
    model = fresh_classifier(resolve_model("tiny"), num_labels=2)
    cfg = TrainConfig(**{"lr": 1e-3, "max_steps": 60, "batch_size": 16, "eval_every": 10, "warmup_ratio": 0.1,
                         "early_stopping_patience": 20} | train)
    execution = ExecutionConfig(bf16=bf16, threads=1, checkpoint_minutes=checkpoint_minutes)
    return train_and_evaluate(model, toy_split(320, 0), toy_split(64, 1), toy_split(64, 2), cfg, seed=0,
                              primary_metric="accuracy", pad_id=0, work_dir=str(tmp_path / "work"),
                              execution=execution, resume_dir=resume_dir)


def interrupt_after_checkpoint(monkeypatch, step):
    original = CurveAndBestModel.on_save

    def on_save(self, args, state, control, **kwargs):
        original(self, args, state, control, **kwargs)
        if state.global_step == step:
            raise Interrupted(step)

    monkeypatch.setattr(CurveAndBestModel, "on_save", on_save)


def interrupted_toy(tmp_path, monkeypatch, step, **train):
    """Train the toy until the checkpoint of ``step`` is written, then interrupt; returns the checkpoint folder."""
    folder = tmp_path / "resume"
    with monkeypatch.context() as patch:
        interrupt_after_checkpoint(patch, step)
        with pytest.raises(Interrupted):
            train_toy(tmp_path, folder, **train)
    return folder


def same_training(a, b):
    assert [p["step"] for p in a.curve] == [p["step"] for p in b.curve]
    for left, right in zip(a.curve, b.curve):
        assert left["dev"] == pytest.approx(right["dev"], abs=1e-6)
        assert left["dev_loss"] == pytest.approx(right["dev_loss"], abs=1e-6), (left, right)
        if left["train_loss"] is not None:
            assert left["train_loss"] == pytest.approx(right["train_loss"], abs=1e-6), (left, right)
    assert (a.best_step, a.steps, a.test_metrics) == (b.best_step, b.steps, b.test_metrics)
    assert a.test_probabilities == b.test_probabilities


def test_checkpointing_does_not_change_the_result(tmp_path):
    plain = train_toy(tmp_path, None, checkpoint_minutes=0)
    saved = train_toy(tmp_path, tmp_path / "resume")
    same_training(plain, saved)
    assert saved.resumed_from == [] and plain.curve[-1]["dev_loss"] < plain.curve[0]["dev_loss"]
    kept = [p.name for p in (tmp_path / "resume").iterdir()]
    # one checkpoint kept, the latest before the end (none is written at the final step); run_unit removes it
    assert kept == ["checkpoint-50"]


# mid-epoch (batches skipped), on an epoch boundary, and mid-epoch with gradient accumulation (8 × 2, 20 steps an epoch)
@pytest.mark.parametrize("step, train", [(30, {}), (40, {}), (30, {"batch_size": 8, "grad_accum": 2})])
def test_an_interrupted_training_resumes_to_the_same_result(tmp_path, monkeypatch, step, train):
    uninterrupted = train_toy(tmp_path, None, checkpoint_minutes=0, **train)
    folder = interrupted_toy(tmp_path, monkeypatch, step, **train)
    assert resume.latest_complete(folder).name == f"checkpoint-{step}"
    before = resume.read_progress(folder / f"checkpoint-{step}")
    resumed = train_toy(tmp_path, folder, **train)
    assert resumed.resumed_from == [step]
    same_training(uninterrupted, resumed)
    assert resumed.curve[:len(before["curve"])] == before["curve"]  # the first attempt's curve, as it was
    # time counts every attempt: the curve's clock goes on from the first attempt's, and training ends after it
    assert before["seconds"] < resumed.curve[-1]["seconds"] <= resumed.train_seconds
    # and so does dev evaluation time: the first attempt's, saved in its checkpoint, plus this attempt's
    assert 0 < before["evaluation_seconds"] < resumed.dev_eval_seconds < resumed.train_seconds


def test_a_checkpoint_cut_short_is_not_resumed_from(tmp_path, monkeypatch):
    folder = interrupted_toy(tmp_path, monkeypatch, 30)
    (folder / "checkpoint-30" / resume.PROGRESS).unlink()  # as if killed while writing it
    again = train_toy(tmp_path, folder)
    assert again.resumed_from == []  # started over
    same_training(train_toy(tmp_path, None, checkpoint_minutes=0), again)


def test_a_checkpoint_of_another_precision_is_discarded(tmp_path, monkeypatch):
    folder = interrupted_toy(tmp_path, monkeypatch, 30)
    progress = resume.read_progress(folder / "checkpoint-30")
    resume.write_progress(folder / "checkpoint-30", {**progress, "precision": "bf16"}, None)
    assert train_toy(tmp_path, folder).resumed_from == []  # this attempt runs in fp32: a bf16 start is not continued


def test_a_checkpoint_whose_dev_curve_ran_in_another_precision_is_discarded(tmp_path, monkeypatch):
    folder = interrupted_toy(tmp_path, monkeypatch, 30)
    progress = resume.read_progress(folder / "checkpoint-30")
    assert (progress["precision"], progress["eval_precision"]) == ("fp32", "fp32")
    resume.write_progress(folder / "checkpoint-30", {**progress, "eval_precision": "bf16"}, None)
    assert train_toy(tmp_path, folder).resumed_from == []  # its curve would mix bf16 and fp32 evaluations


def test_length_grouped_batches_run_in_one_go(tmp_path):
    """Their epoch order comes from the global RNG at the epoch's start, which a mid-epoch resume cannot replay."""
    folder = tmp_path / "resume"
    train_toy(tmp_path, folder, group_by_length=True)
    assert not folder.exists()  # no checkpoint was written


@pytest.mark.mirror
@pytest.mark.parametrize("arm", ["random", "frozen:base=pretrained"])  # a frozen body: AdamW holds only some weights
def test_run_unit_resumes_an_interrupted_unit_records_it_and_removes_the_checkpoint(tmp_path, monkeypatch, mirror,
                                                                                    arm):
    from crossdomain.config import apply_overrides
    from crossdomain.record import UnitRecord
    from crossdomain.run import grid as runner
    from crossdomain.run.suites import load_suite
    from crossdomain.run.units import run_unit

    suite = apply_overrides(load_suite("smoke"), [
        "tasks=[dna/splice]", f"inits=[{arm}]", "seeds=[0]", "baselines=[]", "train.max_steps=30",
        "train.eval_every=10", f"execution.checkpoint_minutes={EVERY_EVALUATION}", "execution.threads=1"])
    [unit] = runner.expand_units(suite, (str(mirror),))
    whole = run_unit(unit, tmp_path / "whole")
    out = tmp_path / "interrupted"
    checkpoints = resume.resume_dir(out / "units", unit.unit_id)
    with monkeypatch.context() as patch:
        interrupt_after_checkpoint(patch, 20)
        first = run_unit(unit, out)
    assert first.status == "failed" and "Interrupted" in first.error
    assert resume.latest_complete(checkpoints).name == "checkpoint-20"  # kept for the retry
    again = run_unit(unit, out)
    assert again.ok and again.resumed_from == [20] and whole.resumed_from == []
    assert not checkpoints.exists()  # removed once the record is written
    assert again.metrics == whole.metrics and [p["dev"] for p in again.curve] == [p["dev"] for p in whole.curve]
    assert UnitRecord.load(again.path).resumed_from == [20]
