"""``crossdomain bench``: training and evaluation throughput of the harness against the plain Hugging Face recipe.

Three recipes train the same model on the same task for the same number of steps of the same batch size:

* ``hf-fp32``: what a user would write with transformers: symbols written as the mapped words, tokenised and
  padded to the maximum length, ``Trainer`` with its defaults (fp32, the full vocabulary, its default optimiser)
  and its default evaluation loop (``trainer.predict``, batch size 8);
* ``hf-bf16``: the same with ``Trainer``'s own ``bf16=True`` (autocast through accelerate, on CPU too);
* ``crossdomain``: the harness itself: the unit's pipeline stages (:func:`crossdomain.training.stages.prepare`,
  :func:`~crossdomain.training.stages.build_init`) and :func:`crossdomain.training.trainer.train_and_evaluate`, in the precision
  the harness chooses (:func:`crossdomain.training.precision.resolve_precision`), its dev evaluation time taken out.

The recipes alternate over several repetitions and medians are reported. Useful-FLOP utilisation = model FLOPs
on real (non-pad) tokens per second ÷ the measured peak of a 2048×2048 matmul, in the precision the recipe
computes in, in the same process. Model FLOPs per training sequence of n real tokens:
6 × non-embedding parameters × n + 12 × layers × hidden × n² (attention scores and weighted sum, forward +
backward). Peak memory: the process's resident high-water mark (CUDA: peak allocated) during the recipe, as in
the unit records.
"""
from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch

from crossdomain.config import ExecutionConfig, TrainConfig
from crossdomain.metrics import classification_metrics
from crossdomain.training.trainer import EncodedSplit

RECIPES = ("hf-fp32", "hf-bf16", "crossdomain")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def matmul_peak_flops(precision: str, size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a square matmul in ``precision`` (median of the repeats after two warm-ups)."""
    a = torch.randn(size, size, device=device(), dtype=DTYPES[precision])
    b = torch.randn(size, size, device=device(), dtype=DTYPES[precision])
    timings = []
    for _ in range(repeats):
        if a.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.matmul(a, b)
        if a.is_cuda:
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(timings[2:])


def training_flops(model, lengths: list[int]) -> float:
    config = model.config
    embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    non_embedding = sum(p.numel() for p in model.parameters()) - embedding
    return sum(6 * non_embedding * n + 12 * config.num_hidden_layers * config.hidden_size * n * n for n in lengths)


@dataclass
class Workload:
    """One task's bench unit and its prepared data: the harness trains on ``train``; the plain recipes on the
    same items written as text."""

    unit: object  # crossdomain.run.units.Unit
    prepared: object  # crossdomain.training.stages.PreparedData
    texts: list[str]  # train items then dev items, as the mapped words
    train: EncodedSplit
    dev: EncodedSplit

    @property
    def num_labels(self) -> int:
        return len(self.prepared.data.task.labels)

    @property
    def sequences(self) -> int:
        return self.unit.train.max_steps * self.unit.train.batch_size


def make_workload(task: str, model: str, steps: int, batch_size: int, lr: float, max_length: int, threads: int,
                  data_dirs) -> Workload:
    from crossdomain.data.tasks import get_task
    from crossdomain.run.units import TrainedUnit
    from crossdomain.training import stages as pipeline

    if get_task(task).is_regression:  # its plain recipes score dev accuracy
        raise ValueError(f"bench measures classification tasks; {task!r} is a regression task")
    cfg = TrainConfig(lr=lr, max_steps=steps, batch_size=batch_size, max_length=max_length, eval_every=10**9,
                      max_eval_examples=256)
    unit = TrainedUnit(task=task, fold=0, init="pretrained", seed=0, mapping_seed=0, model=model, mapping="random",
                       train=cfg, execution=ExecutionConfig(threads=threads, eval_batch_size=128),
                       data_dirs=tuple(data_dirs))
    prepared = pipeline.prepare(unit)
    tokenizer = prepared.tokenizer
    train, dev = prepared.splits["train"], prepared.splits["dev"]
    # the plain recipe's user writes the mapped words as text; the tokenizer gives back exactly these ids (tested)
    texts = [" ".join(tokenizer.convert_ids_to_tokens(ids[1:-1])) for ids in train.input_ids + dev.input_ids]
    return Workload(unit, prepared, texts, train, dev)


def expected_flops(model, split: EncodedSplit, sequences: int) -> float:
    """Training FLOPs of ``sequences`` sequences drawn at random from the split (exact in expectation)."""
    return training_flops(model, [len(ids) for ids in split.input_ids]) / len(split) * sequences


def run_plain_recipe(work: Workload, bf16: bool) -> dict:
    from crossdomain.run.units import peak_memory_mb, reset_peak_memory
    from crossdomain.training.models import pretrained_classifier
    from crossdomain.training.trainer import plain_recipe_trainer
    from datasets import Dataset

    cfg, tokenizer = work.unit.train, work.prepared.tokenizer
    encoded = tokenizer(work.texts, padding="max_length", truncation=True, max_length=cfg.max_length)
    full = Dataset.from_dict({**encoded, "labels": work.train.labels + work.dev.labels})
    n_train = len(work.train)
    train_set, dev_set = full.select(range(n_train)), full.select(range(n_train, len(full)))
    torch.manual_seed(0)
    model = pretrained_classifier(work.prepared.source, work.num_labels)
    with tempfile.TemporaryDirectory() as out:
        trainer = plain_recipe_trainer(model, train_set, cfg, bf16, out)
        reset_peak_memory()
        start = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - start
        peak = peak_memory_mb()
        start = time.perf_counter()
        output = trainer.predict(dev_set)  # the default evaluation loop (batch size 8, padded inputs)
        eval_seconds = time.perf_counter() - start
    accuracy = classification_metrics(work.dev.labels, np.argmax(output.predictions, axis=-1))["accuracy"]
    return {"precision": "bf16" if bf16 else "fp32", "train_seconds": train_seconds, "eval_seconds": eval_seconds,
            "peak_mb": peak, "flops": expected_flops(model, work.train, work.sequences), "dev_accuracy": accuracy}


def run_harness(work: Workload) -> dict:
    from crossdomain.run.units import peak_memory_mb, reset_peak_memory
    from crossdomain.training import stages as pipeline
    from crossdomain.training.trainer import predict_probabilities, train_and_evaluate

    unit = work.unit
    built = pipeline.build_init(unit, work.prepared)
    with tempfile.TemporaryDirectory() as out:
        reset_peak_memory()
        outcome = train_and_evaluate(built.model, built.splits["train"], built.splits["dev"], built.splits["dev"],
                                     unit.train, unit.seed, "accuracy", built.pad_id, out, execution=unit.execution)
        peak = peak_memory_mb()
    start = time.perf_counter()
    predict_probabilities(built.model, built.splits["dev"], unit.execution.eval_batch_size, built.pad_id,
                          outcome.eval_precision)
    eval_seconds = time.perf_counter() - start
    return {"precision": outcome.precision, "train_seconds": outcome.train_seconds - outcome.dev_eval_seconds,
            "eval_seconds": eval_seconds, "peak_mb": peak, "flops": expected_flops(built.model, work.train, work.sequences),
            "dev_accuracy": outcome.test_metrics["accuracy"]}


def summarise(runs: list[dict], work: Workload, peaks: dict[str, float]) -> dict:
    train_s = statistics.median(r["train_seconds"] for r in runs)
    eval_s = statistics.median(r["eval_seconds"] for r in runs)
    real_tokens = np.mean([len(ids) for ids in work.train.input_ids]) * work.sequences
    precision = runs[0]["precision"]
    return {
        "precision": precision, "train_seq_per_s": work.sequences / train_s, "eval_seq_per_s": len(work.dev) / eval_s,
        "train_real_tokens_per_s": real_tokens / train_s, "peak_memory_mb": max(r["peak_mb"] for r in runs),
        "useful_flop_utilisation": runs[0]["flops"] / train_s / peaks[precision], "train_seconds_median": train_s,
        "dev_accuracy": statistics.median(r["dev_accuracy"] for r in runs),
    }


def bench_task(task: str, args, peaks: dict[str, float]) -> dict:
    work = make_workload(task, args.model, args.steps, args.batch_size, args.lr, args.max_length, args.threads,
                         args.data_dir)
    runs = {name: [] for name in RECIPES}
    for _ in range(args.repeats):  # alternate, so machine noise lands on every recipe
        runs["hf-fp32"].append(run_plain_recipe(work, bf16=False))
        runs["hf-bf16"].append(run_plain_recipe(work, bf16=True))
        runs["crossdomain"].append(run_harness(work))
    recipes = {name: summarise(r, work, peaks) for name, r in runs.items()}
    harness = recipes["crossdomain"]
    return {
        "task": task, "sequences": work.sequences,
        "mean_real_tokens": float(np.mean([len(ids) for ids in work.train.input_ids])),
        "recipes": recipes,
        "speedup_vs_hf_fp32": harness["train_seq_per_s"] / recipes["hf-fp32"]["train_seq_per_s"],
        "speedup_vs_hf_bf16": harness["train_seq_per_s"] / recipes["hf-bf16"]["train_seq_per_s"],
        "harness_utilisation": harness["useful_flop_utilisation"],
        "eval_speedup_vs_hf_fp32": harness["eval_seq_per_s"] / recipes["hf-fp32"]["eval_seq_per_s"],
    }


def run_bench(args) -> list[dict]:
    from crossdomain.run.suites import load_suite
    from crossdomain.training.precision import cpu_has_native_bf16
    from crossdomain.training.trainer import device_name

    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    args.threads = threads
    peaks = {precision: matmul_peak_flops(precision) for precision in DTYPES}
    tasks = args.tasks or load_suite("quick").tasks
    results = [bench_task(task, args, peaks) for task in tasks]
    where = device_name() if torch.cuda.is_available() else \
        f"cpu, {threads} thread(s), native bf16: {'yes' if cpu_has_native_bf16() else 'no'}"
    if args.json:
        print(json.dumps({"device": where, "matmul_peak_gflops": {k: v / 1e9 for k, v in peaks.items()},
                          "model": args.model, "steps": args.steps, "lr": args.lr, "batch_size": args.batch_size,
                          "max_length": args.max_length, "threads": threads, "repeats": args.repeats,
                          "tasks": results}, indent=1))
        return results
    print(f"device: {where}; matmul peak fp32 {peaks['fp32'] / 1e9:.0f}, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s; "
          f"model {args.model}; {args.steps} steps (lr {args.lr:g}) × batch {args.batch_size}, max length "
          f"{args.max_length}; medians of {args.repeats} alternating repeats")
    print(f"{'task':<22}{'recipe':<13}{'precision':>9}{'train seq/s':>12}{'eval seq/s':>11}{'tokens/s':>10}"
          f"{'peak MB':>9}{'useful FLOP':>12}{'dev acc':>8}")
    for r in results:
        for name, m in r["recipes"].items():
            print(f"{r['task']:<22}{name:<13}{m['precision']:>9}{m['train_seq_per_s']:>12.1f}{m['eval_seq_per_s']:>11.1f}"
                  f"{m['train_real_tokens_per_s']:>10.0f}{m['peak_memory_mb']:>9.0f}"
                  f"{m['useful_flop_utilisation']:>12.0%}{m['dev_accuracy']:>8.3f}")
        print(f"{'':<22}crossdomain training: {r['speedup_vs_hf_fp32']:.2f}× hf-fp32, {r['speedup_vs_hf_bf16']:.2f}× "
              f"hf-bf16, {r['harness_utilisation']:.0%} of the {r['recipes']['crossdomain']['precision']} peak; "
              f"evaluation {r['eval_speedup_vs_hf_fp32']:.2f}× hf-fp32")
    return results
