"""The one training path for every domain, on transformers' ``Trainer``.

AdamW with linear warm-up and decay, epochs or max steps, gradient accumulation, dev
evaluation every N steps (recorded as the learning curve, including step 0), early stopping
on the task's primary metric (in its direction, from the metrics table) with the best weights restored.
A classification head is trained with cross-entropy; a regression task's single output with MSE on the
standardised target, and every score (dev curve, test metrics, predictions) is on the original scale.

Precision: with ``execution.bf16`` (the default) training runs under bf16 autocast wherever the hardware
computes bf16 natively: CUDA devices that support it, and CPUs with AVX512-BF16 or AMX (oneDNN then runs the
matmuls in bf16). Weights, optimiser state and the loss stay fp32 (autocast is mixed precision, not a bf16
model). Elsewhere, or with ``execution.bf16=false``, everything runs in fp32. Dev evaluation and test
predictions run in fp32 unless ``execution.bf16_eval`` asks for bf16: a model whose outputs differ across
items by less than bf16's resolution (a regression head that has collapsed towards the mean) would otherwise
be scored on rounding noise. :func:`resolve_precision` and :func:`resolve_eval_precision` say which, and the
unit record keeps both.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments
from transformers.utils import logging as hf_logging

from crossdomain.config import ExecutionConfig, TrainConfig
from crossdomain.metrics import CLASSIFICATION, REGRESSION, get_metric, score
from crossdomain.training import resume
from crossdomain.training.precision import resolve_eval_precision, resolve_precision, uses_cuda


@dataclass
class EncodedSplit:
    input_ids: list[list[int]]
    labels: list  # class ids, or (standardised) regression targets as floats
    ids: list[str]  # record ids, for the predictions file
    targets: list | None = None  # regression: the targets on their original scale, as read

    def __len__(self) -> int:
        return len(self.labels)


class SequenceDataset(torch.utils.data.Dataset):
    def __init__(self, split: EncodedSplit):
        self.split = split

    def __len__(self):
        return len(self.split)

    def __getitem__(self, index):
        return {"input_ids": self.split.input_ids[index], "labels": self.split.labels[index]}


class PadCollator:
    """Pads each batch to its own longest sequence (dynamic padding)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(item["input_ids"]) for item in batch)
        input_ids = torch.full((len(batch), longest), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, item in enumerate(batch):
            input_ids[row, : len(item["input_ids"])] = torch.tensor(item["input_ids"])
            attention[row, : len(item["input_ids"])] = 1
        targets = [item["labels"] for item in batch]
        dtype = torch.float if isinstance(targets[0], float) else torch.long  # regression: MSE on floats
        return {"input_ids": input_ids, "attention_mask": attention, "labels": torch.tensor(targets, dtype=dtype)}


def task_type_of(split: EncodedSplit) -> str:
    return REGRESSION if split.labels and isinstance(split.labels[0], float) else CLASSIFICATION


def decisions(outputs: np.ndarray, task_type: str, scaling=None) -> np.ndarray:
    """Model outputs (items × outputs) → predicted class ids, or predicted values on the original scale."""
    if task_type == CLASSIFICATION:
        return outputs.argmax(axis=-1)
    values = outputs[:, 0]
    return np.asarray(scaling.restore(values)) if scaling is not None else values


class DevMetrics:
    """``compute_metrics`` for the Trainer: every metric of the task type, on the original scale."""

    def __init__(self, task_type: str, scaling=None):
        self.task_type, self.scaling = task_type, scaling

    def __call__(self, eval_prediction) -> dict[str, float]:
        outputs = eval_prediction.predictions
        outputs = outputs[0] if isinstance(outputs, tuple) else outputs
        truth = eval_prediction.label_ids
        if self.task_type == REGRESSION and self.scaling is not None:
            truth = self.scaling.restore(np.ravel(truth))
        return score(self.task_type, truth, decisions(np.asarray(outputs).reshape(len(truth), -1), self.task_type,
                                                      self.scaling))


@dataclass
class EvaluationClock:
    """Seconds spent in dev evaluation (earlier attempts' included, when resumed): counted by the trainer that
    spends them, saved by the tracker that writes the checkpoint."""

    seconds: float = 0.0


class CurveAndBestModel(TrainerCallback):
    """Records the learning curve; keeps the best dev weights in memory (unless ``keep_best`` is off); stops
    early on patience (never before ``min_steps``); asks for a resumable checkpoint every ``checkpoint_seconds``
    (at the next dev evaluation) and completes it with its own state (:mod:`crossdomain.training.resume`)."""

    def __init__(self, metric: str, patience: int, min_steps: int = 0, keep_best: bool = True,
                 checkpoint_seconds: float = 0.0, precision: str = "fp32", clock: EvaluationClock | None = None,
                 eval_precision: str = "fp32"):
        self.metric = f"eval_{metric}"
        self.direction = get_metric(metric)
        self.patience = patience
        self.min_steps = min_steps
        self.keep_best = keep_best
        self.checkpoint_seconds = checkpoint_seconds
        self.curve: list[dict] = []
        self.best_score = self.direction.worst
        self.best_step = 0
        self.best_state = None
        self.bad_evaluations = 0
        self.started = time.perf_counter()
        self.seconds_before = 0.0  # training seconds of earlier attempts, when resumed
        self.last_checkpoint = time.perf_counter()
        self.pending_loss: float | None = None
        self.resumed_from: list[int] = []
        self.clock = clock or EvaluationClock()  # the checkpoint records the dev evaluation time too
        self.precision = precision  # a checkpoint is resumed from in its own precisions only
        self.eval_precision = eval_precision

    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = self.last_checkpoint = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.pending_loss = float(logs["loss"])

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        score = float(metrics[self.metric])
        self.curve.append({
            "step": int(state.global_step),
            "epoch": float(state.epoch or 0.0),
            "seconds": round(self.elapsed(), 3),
            "dev": score,
            "dev_loss": float(metrics.get("eval_loss", float("nan"))),
            "train_loss": self.pending_loss,
        })
        self.pending_loss = None
        if self.direction.better(score, self.best_score):
            self.best_score, self.best_step, self.bad_evaluations = score, int(state.global_step), 0
            if self.keep_best:
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        elif state.global_step > 0:
            self.bad_evaluations += 1
            if self.patience and self.bad_evaluations >= self.patience and state.global_step >= self.min_steps:
                control.should_training_stop = True
        due = time.perf_counter() - self.last_checkpoint >= self.checkpoint_seconds
        if self.checkpoint_seconds and due and state.global_step > 0 and not control.should_training_stop:
            control.should_save = True

    def on_save(self, args, state, control, **kwargs):
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        resume.write_progress(checkpoint, self.progress(int(state.global_step)), self.best_state)
        resume.keep_only(checkpoint.parent, checkpoint)
        self.last_checkpoint = time.perf_counter()

    def progress(self, step: int) -> dict:
        """What a resumed attempt needs besides transformers' own checkpoint."""
        return {"step": step, "resumed_from": self.resumed_from, "curve": self.curve,
                "best_score": self.best_score, "best_step": self.best_step, "bad_evaluations": self.bad_evaluations,
                "seconds": round(self.elapsed(), 3), "precision": self.precision, "eval_precision": self.eval_precision,
                "evaluation_seconds": self.clock.seconds}

    def restore(self, progress: dict, best_state: dict | None) -> None:
        self.curve = list(progress["curve"])
        self.best_score, self.best_step = progress["best_score"], progress["best_step"]
        self.bad_evaluations, self.seconds_before = progress["bad_evaluations"], progress["seconds"]
        self.resumed_from = [*progress["resumed_from"], progress["step"]]
        self.best_state = best_state
        self.clock.seconds = progress["evaluation_seconds"]


def autocast(device: torch.device, precision: str):
    """bf16 autocast on ``device`` for precision ``bf16``; nothing for ``fp32``."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def forward_in(model, precision: str):
    """Run ``model`` in ``precision``. A model that ``Trainer`` (through accelerate) prepared for mixed precision
    has its ``forward`` wrapped in bf16 autocast, the original kept as ``_original_forward``: for fp32, that
    original runs meanwhile, without TF32."""
    if precision == "bf16":
        with autocast(next(model.parameters()).device, precision):
            yield
        return
    wrapped = vars(model).get("forward")
    original = getattr(model, "_original_forward", None)
    with without_tf32():
        if wrapped is None or original is None:
            yield
            return
        model.forward = original
        try:
            yield
        finally:
            model.forward = wrapped


@contextlib.contextmanager
def without_tf32():
    """fp32 matmuls in full: on CUDA training allows TF32 (10 significant bits), which evaluation must not use."""
    backends = (torch.backends.cuda.matmul, torch.backends.cudnn)
    before = [backend.allow_tf32 for backend in backends]
    for backend in backends:
        backend.allow_tf32 = False
    try:
        yield
    finally:
        for backend, allowed in zip(backends, before):
            backend.allow_tf32 = allowed


class TimedTrainer(Trainer):
    """transformers' ``Trainer``, timing the dev evaluations it runs inside ``train()`` on ``clock`` (so that
    training throughput can be told apart from evaluation)."""

    def __init__(self, *args, clock: EvaluationClock, eval_precision: str = "fp32", **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.eval_precision = eval_precision

    def evaluate(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            with forward_in(self.model, self.eval_precision):
                return super().evaluate(*args, **kwargs)
        finally:
            self.clock.seconds += time.perf_counter() - started


@dataclass
class TrainOutcome:
    test_metrics: dict[str, float]
    curve: list[dict]
    best_step: int
    steps: int
    train_seconds: float  # trainer.train(), its dev evaluations included (every attempt's, when resumed)
    dev_eval_seconds: float = 0.0  # of which dev evaluation
    precision: str = "fp32"  # what training actually ran in: fp32 or bf16 (autocast)
    eval_precision: str = "fp32"  # what dev evaluation and test predictions ran in
    resumed_from: list[int] = field(default_factory=list)  # the checkpoint step this attempt resumed from, if any
    test_labels: list = field(default_factory=list)  # class ids, or targets on the original scale
    test_predictions: list = field(default_factory=list)
    test_probabilities: list[list[float]] = field(default_factory=list)  # classification only


@torch.inference_mode()
def predict_outputs(model, split: EncodedSplit, batch_size: int, pad_id: int, precision: str = "fp32") -> np.ndarray:
    """The head's outputs (items × outputs, fp32) in the split's own order (batches grouped by length, then put
    back in order), computed in ``precision``."""
    model.eval()
    device = next(model.parameters()).device
    collate = PadCollator(pad_id)
    order = sorted(range(len(split)), key=lambda i: len(split.input_ids[i]))
    out = np.zeros((len(split), model.config.num_labels), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        batch = collate([{"input_ids": split.input_ids[i], "labels": split.labels[i]} for i in chunk])
        with forward_in(model, precision):
            logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).logits
        out[chunk] = logits.float().cpu().numpy()
    return out


def predict_probabilities(model, split: EncodedSplit, batch_size: int, pad_id: int,
                          precision: str = "fp32") -> np.ndarray:
    """Class probabilities in the split's own order; the softmax is taken in fp32."""
    return torch.softmax(torch.from_numpy(predict_outputs(model, split, batch_size, pad_id, precision)), dim=-1).numpy()


def device_name(execution: ExecutionConfig | None = None) -> str:
    return torch.cuda.get_device_name(0) if uses_cuda(execution) else "cpu"


def training_arguments(cfg: TrainConfig, seed: int, work_dir: str,
                       execution: ExecutionConfig | None = None, resuming: bool = False) -> TrainingArguments:
    """Arguments for transformers' ``Trainer``; its ``bf16`` (accelerate's autocast, on CPU too) follows
    :func:`resolve_precision`. A resumed attempt skips the step-0 evaluation: it is on the restored curve."""
    execution = execution or ExecutionConfig()
    cuda = uses_cuda(execution)
    return TrainingArguments(
        output_dir=work_dir,
        learning_rate=cfg.lr,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=execution.eval_batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        warmup_steps=cfg.warmup_ratio,  # < 1 is a ratio of the total steps
        weight_decay=cfg.weight_decay,
        lr_scheduler_type="linear",
        optim="adamw_torch_fused" if cuda else "adamw_torch",
        eval_strategy="steps",
        eval_steps=cfg.eval_every,
        eval_on_start=not resuming,
        logging_strategy="steps",
        logging_steps=cfg.eval_every,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=seed,
        bf16=resolve_precision(execution) == "bf16",
        tf32=True if cuda else None,
        use_cpu=not cuda,
        dataloader_pin_memory=cuda,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        remove_unused_columns=False,
    )


def plain_recipe_trainer(model, train_set, cfg: TrainConfig, bf16: bool, work_dir: str) -> Trainer:
    """What a user would write with transformers, for ``crossdomain bench`` to compare against: ``Trainer``'s
    defaults throughout (its default optimiser, fp32 or its own ``bf16=True``), except the optimisation settings
    shared with the harness so that dev accuracy compares."""
    args = TrainingArguments(output_dir=work_dir, max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
                             learning_rate=cfg.lr, warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
                             bf16=bf16, report_to="none", save_strategy="no", disable_tqdm=True, logging_strategy="no",
                             use_cpu=not torch.cuda.is_available(), seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=train_set)
    trainer.remove_callback(PrinterCallback)  # its log lines would corrupt --json output
    return trainer


def train_and_evaluate(model, train: EncodedSplit, dev: EncodedSplit, test: EncodedSplit, cfg: TrainConfig,
                       seed: int, primary_metric: str, pad_id: int, work_dir: str, scaling=None,
                       execution: ExecutionConfig | None = None, resume_dir: Path | None = None) -> TrainOutcome:
    """Fine-tune, keep the best dev weights, score the test split. ``scaling`` (regression) restores the
    standardised targets and predictions to the original scale. With ``resume_dir`` and
    ``execution.checkpoint_minutes``, checkpoints go there and an interrupted attempt's last one is resumed from."""
    task_type = get_metric(primary_metric).task_type
    execution = execution or ExecutionConfig()
    torch.set_num_threads(execution.threads or os.cpu_count() or 1)
    hf_logging.set_verbosity_error()  # "newly initialized classifier" is expected here, every time
    hf_logging.disable_progress_bar()  # no "Writing model shards" bar on stderr at each checkpoint
    # length-grouped batches draw each epoch's order from the global RNG at the epoch's start, which a resume in
    # mid-epoch cannot replay (the plain sampler is seeded per epoch): such units run in one go
    resume_dir = resume_dir if execution.checkpoint_minutes > 0 and not cfg.group_by_length else None
    precision, eval_precision = resolve_precision(execution), resolve_eval_precision(execution)
    tracker = CurveAndBestModel(primary_metric, cfg.early_stopping_patience, cfg.early_stopping_min_steps,
                                cfg.keep_best, checkpoint_seconds=execution.checkpoint_minutes * 60 if resume_dir else 0,
                                precision=precision, clock=EvaluationClock(), eval_precision=eval_precision)
    checkpoint = resume.resumable(resume_dir, precision, eval_precision)
    train_set = SequenceDataset(train)
    trainer = TimedTrainer(
        model=model,
        args=training_arguments(cfg, seed, str(resume_dir or work_dir), execution, resuming=checkpoint is not None),
        data_collator=PadCollator(pad_id),
        train_dataset=train_set,
        eval_dataset=SequenceDataset(dev),
        compute_metrics=DevMetrics(task_type, scaling),
        callbacks=[tracker],
        clock=tracker.clock,
        eval_precision=eval_precision,
    )
    trainer.remove_callback(PrinterCallback)  # the learning curve is recorded, not printed
    if checkpoint is not None:
        tracker.restore(resume.read_progress(checkpoint), resume.read_best_state(checkpoint))
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
    train_seconds = tracker.seconds_before + time.perf_counter() - started
    dev_eval_seconds = tracker.clock.seconds
    if not tracker.curve or tracker.curve[-1]["step"] != result.global_step:
        trainer.evaluate()  # the curve always ends at the final step
    best_step = tracker.best_step
    if not cfg.keep_best:
        best_step = int(result.global_step)  # the weights kept are the final ones
    elif tracker.best_state is not None:
        model.load_state_dict(tracker.best_state)
    outputs = predict_outputs(model, test, execution.eval_batch_size, pad_id, eval_precision)
    predictions = decisions(outputs, task_type, scaling)
    truth = list(test.targets) if test.targets is not None else list(test.labels)
    if task_type == REGRESSION:
        return TrainOutcome(score(task_type, truth, predictions), tracker.curve, best_step, int(result.global_step),
                            train_seconds, dev_eval_seconds, precision, eval_precision, tracker.resumed_from, truth,
                            [float(p) for p in predictions])
    probabilities = torch.softmax(torch.from_numpy(outputs), dim=-1).numpy()
    return TrainOutcome(
        test_metrics=score(task_type, test.labels, predictions),
        curve=tracker.curve,
        best_step=best_step,
        steps=int(result.global_step),
        train_seconds=train_seconds,
        dev_eval_seconds=dev_eval_seconds,
        precision=precision,
        eval_precision=eval_precision,
        resumed_from=tracker.resumed_from,
        test_labels=list(test.labels),
        test_predictions=[int(p) for p in predictions],
        test_probabilities=np.round(probabilities, 5).tolist(),
    )
