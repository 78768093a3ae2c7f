"""`crossdomain bench` on the tiny model: both arms see the same ids, and the figures are real measurements."""
import json

import numpy as np

from crossdomain import bench
from crossdomain.cli import main
from crossdomain.models import load_tokenizer, resolve_model


def test_baseline_text_tokenises_to_the_harness_ids(mirror):
    tokenizer = load_tokenizer(resolve_model("tiny"))
    work = bench.make_workload("dna/splice", tokenizer, steps=2, batch_size=4, max_length=64, data_dirs=[str(mirror)])
    encoded = tokenizer(work.texts[: len(work.train)], truncation=True, max_length=64)["input_ids"]
    assert encoded == work.train.input_ids  # the plain recipe trains on exactly the same tokens
    assert len(work.train) == 8 and set(work.keep_ids) >= {tokenizer.cls_token_id, tokenizer.pad_token_id}


def test_training_flops_count_attention_and_non_embedding_parameters():
    from crossdomain.models import fresh_classifier

    model = fresh_classifier(resolve_model("tiny"), num_labels=2)
    non_embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    layers, hidden = model.config.num_hidden_layers, model.config.hidden_size
    assert bench.training_flops(model, [10, 20]) == 6 * non_embedding * 30 + 12 * layers * hidden * (100 + 400)


def test_bench_command_reports_both_arms(mirror, capsys):
    main(["bench", "--model", "tiny", "--tasks", "dna/splice", "--steps", "3", "--batch-size", "4", "--repeats", "1",
          "--json", "--data-dir", str(mirror)])
    report = json.loads(capsys.readouterr().out)
    assert report["matmul_peak_gflops"] > 0.1
    (task,) = report["tasks"]
    assert task["task"] == "dna/splice" and task["sequences"] == 12
    assert task["mean_real_tokens"] == 62  # 60 bases + [CLS] + [SEP]
    for arm in ("baseline", "harness"):
        figures = task[arm]
        assert figures["train_seq_per_s"] > 0 and figures["eval_seq_per_s"] > 0
        assert 0 < figures["useful_flop_utilisation"] < 5
        assert 0 <= figures["dev_accuracy"] <= 1
    assert np.isclose(task["train_speedup"], task["harness"]["train_seq_per_s"] / task["baseline"]["train_seq_per_s"])
