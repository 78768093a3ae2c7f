"""`crossdomain bench` on the tiny model: every recipe sees the same ids, and the figures are real measurements."""
import json

import pytest

from crossdomain import bench
from crossdomain.cli import main


def test_plain_recipe_text_tokenises_to_the_harness_ids(mirror):
    work = bench.make_workload("dna/splice", "tiny", steps=2, batch_size=4, lr=1e-3, max_length=64, threads=1,
                               data_dirs=[str(mirror)])
    tokenizer = work.prepared.tokenizer
    encoded = tokenizer(work.texts[: len(work.train)], truncation=True, max_length=64)["input_ids"]
    assert encoded == work.train.input_ids  # the plain recipe trains on exactly the same tokens
    assert work.sequences == 8 and len(work.dev) == 256


def test_training_flops_count_attention_and_non_embedding_parameters():
    from crossdomain.training.models import fresh_classifier, resolve_model

    model = fresh_classifier(resolve_model("tiny"), num_labels=2)
    non_embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    layers, hidden = model.config.num_hidden_layers, model.config.hidden_size
    assert bench.training_flops(model, [10, 20]) == 6 * non_embedding * 30 + 12 * layers * hidden * (100 + 400)


def test_bench_command_reports_every_recipe_against_its_own_peak(mirror, capsys):
    from crossdomain.config import ExecutionConfig
    from crossdomain.training.precision import resolve_precision

    main(["bench", "--model", "tiny", "--tasks", "dna/splice", "--steps", "3", "--batch-size", "4", "--repeats", "1",
          "--threads", "1", "--json", "--data-dir", str(mirror)])
    report = json.loads(capsys.readouterr().out)
    assert report["threads"] == 1 and set(report["matmul_peak_gflops"]) == {"fp32", "bf16"}
    assert min(report["matmul_peak_gflops"].values()) > 0.1
    (task,) = report["tasks"]
    assert task["task"] == "dna/splice" and task["sequences"] == 12
    assert task["mean_real_tokens"] == 62  # 60 bases + [CLS] + [SEP]
    recipes = task["recipes"]
    assert [recipes[name]["precision"] for name in bench.RECIPES] == ["fp32", "bf16", resolve_precision(ExecutionConfig())]
    for name, figures in recipes.items():
        assert figures["train_seq_per_s"] > 0 and figures["eval_seq_per_s"] > 0, name
        # one thread cannot beat its own matmul peak by more than noise; a FLOP count off by 10x would
        assert 0 < figures["useful_flop_utilisation"] < 1.5, name
        assert figures["peak_memory_mb"] > 100, name  # the process's resident peak, torch and the model included
        assert figures["dev_accuracy"] in {k / 256 for k in range(257)}, name  # a share of the 256 dev items
    harness = recipes["crossdomain"]["train_seq_per_s"]
    assert task["speedup_vs_hf_fp32"] == pytest.approx(harness / recipes["hf-fp32"]["train_seq_per_s"])
    assert task["speedup_vs_hf_bf16"] == pytest.approx(harness / recipes["hf-bf16"]["train_seq_per_s"])
    assert task["harness_utilisation"] == recipes["crossdomain"]["useful_flop_utilisation"]
