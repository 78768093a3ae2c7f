"""``crossdomain bench``: training and evaluation throughput, plain Hugging Face recipe vs the harness.

* baseline: what a user would write with transformers — symbols joined into text, tokenised and padded to
  the maximum length, ``Trainer`` with default arguments (fp32, full 30k-row vocabulary, default optimiser),
  ``Trainer``'s default evaluation loop (``trainer.predict``, batch size 8);
* harness: crossdomain's path — pre-encoded ids, vocabulary pruned to the mapped tokens, dynamic padding with
  random batches (``group_by_length`` off by default: see TrainConfig), evaluation under ``inference_mode`` with
  large length-sorted batches.

Same model, data, batch size and number of steps; the two alternate over several repetitions and medians are
reported. Useful-FLOP utilisation = model FLOPs on real (non-pad) tokens per second ÷ the measured peak of a
2048×2048 fp32 matmul in the same process. Model FLOPs per training sequence of n real tokens:
6 × non-embedding parameters × n + 12 × layers × hidden × n² (attention scores and weighted sum, forward + backward).
"""
from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch

from crossdomain.config import TrainConfig
from crossdomain.data import prepare_task_cached
from crossdomain.mapping import build_mapping, encode
from crossdomain.metrics import classification_metrics
from crossdomain.models import load_tokenizer, pretrained_classifier, prune_vocabulary, resolve_model
from crossdomain.suites import load_suite
from crossdomain.trainer import EncodedSplit, PadCollator, predict_probabilities, training_arguments


class PeakRSS:
    """Samples this process's resident memory in a thread; ``peak_mb`` is the maximum seen."""

    def __init__(self, interval: float = 0.02):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)

    def __enter__(self):
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self.start = self.peak = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        """CUDA: peak allocated; CPU: peak resident growth over the start (earlier arms' memory excluded)."""
        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**20
        return (self.peak - self.start) / 2**20


def matmul_peak_flops(size: int = 2048, repeats: int = 10) -> float:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    timings = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.matmul(a, b)
        if device == "cuda":
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
    task: str
    texts: list[str]  # symbols mapped to token strings, for the baseline's tokenizer
    train: EncodedSplit  # pre-encoded original-vocabulary ids, for the harness
    dev: EncodedSplit
    num_labels: int
    keep_ids: list[int]


def make_workload(task: str, tokenizer, steps: int, batch_size: int, max_length: int, data_dirs) -> Workload:
    data = prepare_task_cached(task, tuple(data_dirs))
    mapping = build_mapping("random", data.alphabet, tokenizer, seed=0)
    ids = mapping.ids()
    tokens = {s: e["token"] for s, e in mapping.symbols.items()}
    rng = np.random.default_rng(0)
    fold = data.folds[0]
    train_idx = list(rng.choice(fold.train, size=steps * batch_size, replace=len(fold.train) < steps * batch_size))
    dev_idx = sorted(rng.choice(fold.dev, size=min(256, len(fold.dev)), replace=False))  # not file order: classes mix

    def split(indices):
        return EncodedSplit([encode(data.records[i].symbols, ids, tokenizer.cls_token_id, tokenizer.sep_token_id,
                                    max_length, data.task.length.truncation) for i in indices],
                            [data.label_ids[i] for i in indices], [data.records[i].id for i in indices])

    train, dev = split(train_idx), split(dev_idx)
    # the baseline user writes the mapped tokens as text; the tokenizer must give back exactly the same ids
    texts = [" ".join(tokens[s] for s in data.records[i].symbols) for i in train_idx + dev_idx]
    keep = [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id, *ids.values()]
    return Workload(task, texts, train, dev, len(data.task.labels), keep)


def run_baseline(source, tokenizer, work: Workload, cfg: TrainConfig, max_length) -> dict:
    from datasets import Dataset
    from transformers import PrinterCallback, Trainer, TrainingArguments

    encoded = tokenizer(work.texts, padding="max_length", truncation=True, max_length=max_length)
    n_train = len(work.train)
    labels = work.train.labels + work.dev.labels
    columns = {k: v for k, v in encoded.items()} | {"labels": labels}
    full = Dataset.from_dict(columns)
    train_set, dev_set = full.select(range(n_train)), full.select(range(n_train, len(full)))
    torch.manual_seed(0)
    model = pretrained_classifier(source, work.num_labels)
    with tempfile.TemporaryDirectory() as out:
        # defaults throughout, except the optimisation settings shared with the harness so dev accuracy compares
        args = TrainingArguments(output_dir=out, max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
                                 learning_rate=cfg.lr, warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
                                 report_to="none", save_strategy="no", disable_tqdm=True, logging_strategy="no",
                                 use_cpu=not torch.cuda.is_available())
        trainer = Trainer(model=model, args=args, train_dataset=train_set, eval_dataset=dev_set)
        trainer.remove_callback(PrinterCallback)  # its log lines would corrupt --json output
        with PeakRSS() as memory:
            start = time.perf_counter()
            trainer.train()
            train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        output = trainer.predict(dev_set)  # the default evaluation loop (batch size 8, padded inputs)
        eval_seconds = time.perf_counter() - start
    dev_accuracy = classification_metrics(work.dev.labels, np.argmax(output.predictions, axis=-1))["accuracy"]
    real_lengths = [sum(mask) for mask in encoded["attention_mask"][:n_train]]
    return {"train_seconds": train_seconds, "eval_seconds": eval_seconds, "real_lengths": real_lengths,
            "peak_mb": memory.peak_mb, "model": model, "dev_accuracy": dev_accuracy}


def run_harness(source, work: Workload, cfg: TrainConfig, pad_id) -> dict:
    from transformers import PrinterCallback, Trainer

    torch.manual_seed(0)
    model = pretrained_classifier(source, work.num_labels)
    remap = prune_vocabulary(model, work.keep_ids)
    train = EncodedSplit([[remap[t] for t in s] for s in work.train.input_ids], work.train.labels, work.train.ids)
    dev = EncodedSplit([[remap[t] for t in s] for s in work.dev.input_ids], work.dev.labels, work.dev.ids)
    from crossdomain.trainer import SequenceDataset

    with tempfile.TemporaryDirectory() as out:
        args = training_arguments(cfg, 0, out)
        args.eval_strategy, args.eval_on_start = "no", False
        trainer = Trainer(model=model, args=args, data_collator=PadCollator(remap[pad_id]),
                          train_dataset=SequenceDataset(train))
        trainer.remove_callback(PrinterCallback)
        with PeakRSS() as memory:
            start = time.perf_counter()
            trainer.train()
            train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    probabilities = predict_probabilities(model, dev, 128, remap[pad_id])
    eval_seconds = time.perf_counter() - start
    dev_accuracy = classification_metrics(dev.labels, np.argmax(probabilities, axis=-1))["accuracy"]
    return {"train_seconds": train_seconds, "eval_seconds": eval_seconds,
            "real_lengths": [len(s) for s in train.input_ids], "peak_mb": memory.peak_mb, "model": model,
            "dev_accuracy": dev_accuracy}


def summarise(runs: list[dict], n_train: int, n_dev: int, peak_flops: float) -> dict:
    train_s = statistics.median(r["train_seconds"] for r in runs)
    eval_s = statistics.median(r["eval_seconds"] for r in runs)
    real_tokens = sum(runs[0]["real_lengths"])
    flops = training_flops(runs[0]["model"], runs[0]["real_lengths"])
    return {
        "train_seq_per_s": n_train / train_s, "eval_seq_per_s": n_dev / eval_s,
        "train_real_tokens_per_s": real_tokens / train_s, "peak_memory_mb": max(r["peak_mb"] for r in runs),
        "useful_flop_utilisation": flops / train_s / peak_flops, "train_seconds_median": train_s,
        "dev_accuracy": statistics.median(r["dev_accuracy"] for r in runs),
    }


def bench_task(source, tokenizer, task, args, peak) -> dict:
    work = make_workload(task, tokenizer, args.steps, args.batch_size, args.max_length, args.data_dir)
    cfg = TrainConfig(max_steps=args.steps, batch_size=args.batch_size, lr=args.lr, eval_every=10**9)
    baseline, harness = [], []
    for _ in range(args.repeats):  # alternate, so machine noise lands on both arms
        baseline.append(run_baseline(source, tokenizer, work, cfg, args.max_length))
        harness.append(run_harness(source, work, cfg, tokenizer.pad_token_id))
    result = {"task": task, "sequences": len(work.train), "mean_real_tokens": float(np.mean(harness[0]["real_lengths"])),
              "baseline": summarise(baseline, len(work.train), len(work.dev), peak),
              "harness": summarise(harness, len(work.train), len(work.dev), peak)}
    result["train_speedup"] = result["harness"]["train_seq_per_s"] / result["baseline"]["train_seq_per_s"]
    result["eval_speedup"] = result["harness"]["eval_seq_per_s"] / result["baseline"]["eval_seq_per_s"]
    return result


def run_bench(args) -> list[dict]:
    torch.set_num_threads(os.cpu_count() or 1)
    source = resolve_model(args.model)
    tokenizer = load_tokenizer(source)
    tasks = args.tasks or load_suite("quick").tasks
    peak = matmul_peak_flops()
    results = [bench_task(source, tokenizer, task, args, peak) for task in tasks]
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({os.cpu_count()} cores)"
    if args.json:
        print(json.dumps({"device": device, "matmul_peak_gflops": peak / 1e9, "model": args.model,
                          "steps": args.steps, "lr": args.lr, "batch_size": args.batch_size, "max_length": args.max_length,
                          "repeats": args.repeats, "tasks": results}, indent=1))
        return results
    print(f"device: {device}; matmul peak {peak / 1e9:.1f} GFLOP/s; model {args.model}; {args.steps} steps (lr {args.lr:g}) × "
          f"batch {args.batch_size}, max length {args.max_length}; medians of {args.repeats} alternating repeats")
    header = (f"{'task':<22}{'arm':<10}{'train seq/s':>12}{'eval seq/s':>11}{'tokens/s':>10}{'train MB':>9}"
              f"{'useful FLOP':>12}{'dev acc':>8}")
    print(header)
    for r in results:
        for arm in ("baseline", "harness"):
            m = r[arm]
            print(f"{r['task']:<22}{arm:<10}{m['train_seq_per_s']:>12.1f}{m['eval_seq_per_s']:>11.1f}"
                  f"{m['train_real_tokens_per_s']:>10.0f}{m['peak_memory_mb']:>9.0f}{m['useful_flop_utilisation']:>12.0%}"
                  f"{m['dev_accuracy']:>8.3f}")
        print(f"{'':<22}{'speed-up':<10}{r['train_speedup']:>11.2f}×{r['eval_speedup']:>10.2f}×")
    return results
