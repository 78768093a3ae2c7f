"""crossdomain analyze: CKA's defining properties, attention shares, probes on the tiny model, determinism."""
import numpy as np
import pandas as pd
import pytest
import torch

from crossdomain.analysis.cka import debiased_linear_cka, linear_cka
from crossdomain.analysis.representations import PATTERNS, attention_statistics, pattern_masks
from crossdomain.cli import main


def test_cka_defining_properties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8))
    y = x @ rng.normal(size=(8, 5)) + 0.5 * rng.normal(size=(60, 5))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert debiased_linear_cka(x, x) == pytest.approx(1.0)
    rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert linear_cka(x @ rotation, y) == pytest.approx(linear_cka(x, y))  # orthogonal transform
    assert linear_cka(3.7 * x, y) == pytest.approx(linear_cka(x, y))  # isotropic scaling
    assert debiased_linear_cka(x @ rotation * 2, y) == pytest.approx(debiased_linear_cka(x, y))
    # by hand, one feature each: linear CKA is the squared correlation; x=[1,2,3], y=[1,2,4] → 9 / (2 · 14/3) = 27/28
    assert linear_cka(np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [2.0], [4.0]])) == pytest.approx(27 / 28)
    noise = rng.normal(size=(60, 8))
    assert debiased_linear_cka(x, noise) < linear_cka(x, noise)  # the debiased form removes the small-n upward bias


def test_attention_patterns_partition_each_query_and_shares_sum_to_one():
    from crossdomain.inits import InitContext, parse_init
    from crossdomain.training.models import resolve_model

    ids = torch.tensor([101, 2000, 2001, 2000, 2002, 102, 0, 0])
    masks = pattern_masks(ids, length=6)
    real = torch.zeros(8, 8, dtype=torch.bool)
    real[:6, :6] = True
    assert torch.equal(masks.sum(0), real.long())  # exclusive and complete on real tokens
    assert masks[PATTERNS.index("same_symbol"), 1, 3] and masks[PATTERNS.index("previous"), 2, 1]
    assert masks[PATTERNS.index("cls"), 1, 0] and not masks[PATTERNS.index("previous"), 1, 0]  # [CLS] comes first

    model = parse_init("random").build(InitContext(resolve_model("tiny"), 2, 0)).model.eval()
    model.set_attn_implementation("eager")
    batch = torch.stack([ids, torch.tensor([101, 2003, 2003, 102, 0, 0, 0, 0])])
    mask = (batch != 0).long()
    with torch.no_grad():
        attentions = torch.stack(model.base_model(input_ids=batch, attention_mask=mask, output_attentions=True).attentions)
    shares, entropy, count = attention_statistics(attentions, batch, mask)
    assert count == 4 + 2
    np.testing.assert_allclose(shares.sum(-1) / count, 1.0, atol=1e-5)
    assert (entropy > 0).all()


def run_synthetic(root, save: bool):
    out = root / ("saved" if save else "plain")
    assert main(["run", "--suite", "smoke", "--tasks", "synthetic/motif", "--seeds", "0", "--out", str(out),
                 "--no-progress", "--no-report", "--set", "train.max_steps=30", "--set", "train.eval_every=15",
                 "--set", "train.lr=3e-3", "--set", f"hooks=[{'save-model' if save else ''}]"]) == 0
    return out


def test_analyze_with_saved_weights_gives_all_four_analyses_deterministically(synthetic, monkeypatch):
    import crossdomain.analysis.context as context_module

    out = run_synthetic(synthetic, save=True)
    loaded, real_load = [], context_module.load_state

    def counting_load(unit, record, state):
        loaded.append((record.unit_id, state))
        return real_load(unit, record, state)

    monkeypatch.setattr(context_module, "load_state", counting_load)
    import crossdomain.report.figures as report_figures
    from crossdomain.report.style import layout_problems

    problems, real_save = {}, report_figures.save

    def checked_save(figure, folder, name):  # every analysis figure, measured as rendered
        problems[name] = layout_problems(figure)
        return real_save(figure, folder, name)

    monkeypatch.setattr(report_figures, "save", checked_save)
    assert main(["analyze", str(out), "--examples", "32"]) == 0
    assert len(problems) == 5 and all(found == [] for found in problems.values()), [p[:150] for f in problems.values() for p in f]
    assert sorted(loaded) == sorted(set(loaded)) and len(loaded) == 4  # each (unit, state) built once, one at a time
    probes = pd.read_csv(out / "analysis" / "probes.csv")
    assert set(probes["state"]) == {"before", "after"} and set(probes["arm"]) == {"pretrained", "random"}
    assert sorted(probes["layer"].unique()) == [0, 1, 2] and probes["score"].between(0, 1).all()
    after = probes[(probes["state"] == "after") & (probes["pooling"] == "mean")]
    assert after["score"].max() >= 0.9  # the fine-tuned model separates the motif classes
    change = pd.read_csv(out / "analysis" / "layer-change.csv")
    assert {"pretrained: before vs after", "random: before vs after", "pretrained vs random (after)"} <= set(change["comparison"])
    assert change["cka"].between(0, 1 + 1e-9).all()
    embeddings = pd.read_csv(out / "analysis" / "embeddings.csv")
    assert len(embeddings) == 4 and embeddings["pairs"].eq(6).all()  # the 6 pairs of A, C, G, T
    attention = pd.read_csv(out / "analysis" / "attention.csv")
    np.testing.assert_allclose(attention.filter(like="share_").sum(axis=1), 1.0, atol=1e-4)
    first = {name: (out / "analysis" / name).read_bytes() for name in ("probes.csv", "attention.csv", "layer-change.csv")}
    assert main(["analyze", str(out), "--examples", "32"]) == 0
    assert {name: (out / "analysis" / name).read_bytes() for name in first} == first

    folder = out / "analysis"
    images = sorted(p.stem for p in folder.glob("*.png"))
    text = (folder / "analysis.md").read_text()
    assert all(f"![{name}]({name}.png)\n\n*{name}.* " in text for name in images)  # every figure has its caption
    heat = {p.name: p.read_bytes() for p in folder.glob("attention_*.png")}
    assert main(["analyze", str(out), "--redraw"]) == 0  # from the CSVs alone: same numbers, same heat maps
    assert {name: (folder / name).read_bytes() for name in first} == first
    assert {p.name: p.read_bytes() for p in folder.glob("attention_*.png")} == heat
    assert (folder / "analysis.md").read_text() == text  # captions replaced, not repeated
    assert (folder / "figures.md").read_text().count("![") == len(images)


def test_analyze_without_saved_weights_does_the_before_half_and_says_what_is_missing(synthetic):
    out = run_synthetic(synthetic, save=False)
    assert main(["analyze", str(out), "--examples", "32", "--analyses", "probes", "layer-change"]) == 0
    probes = pd.read_csv(out / "analysis" / "probes.csv")
    assert set(probes["state"]) == {"before"}
    text = (out / "analysis" / "analysis.md").read_text()
    assert "Fine-tuned weights missing" in text and "--set hooks=[save-model]" in text
    assert not (out / "analysis" / "layer-change.csv").exists()


def test_one_unit_per_task_and_arm_is_the_first_whose_weights_were_saved(tmp_path):
    from types import SimpleNamespace

    from crossdomain.analysis.context import choose_unit

    units = [SimpleNamespace(unit_id=f"u{seed}", path=tmp_path / f"u{seed}.json") for seed in range(4)]
    for saved in (units[2], units[3]):  # seeds 0 and 1 lost their weights (git-ignored, another checkout)
        (tmp_path / saved.unit_id / "save-model").mkdir(parents=True)
        (tmp_path / saved.unit_id / "save-model" / "model.safetensors").write_bytes(b"x")

    def first_of(candidates):
        held = None
        for candidate in candidates:
            held = choose_unit(held, candidate)
        return held.unit_id

    assert first_of(units) == "u2"
    assert first_of(units[:2]) == "u0"  # none saved: the first unit, analysed before fine-tuning only


def test_retrain_remakes_missing_weights_from_the_records_and_checks_them(synthetic):
    from crossdomain.analysis.retrain import RECEIPT, Retraining
    from crossdomain.record import load_records

    out = run_synthetic(synthetic, save=False)
    records = [r for r in load_records(out / "units") if not r.is_baseline]
    assert main(["analyze", str(out), "--examples", "32", "--analyses", "probes", "layer-change", "--retrain",
                 "--executor", "sequential"]) == 0
    for record in records:
        saved = out / "units" / record.unit_id / "save-model"
        assert (saved / "model.safetensors").is_file()
        outcome = Retraining.load(saved / RECEIPT)  # same process, same CPU: the very model the record describes
        assert outcome.reproduced and outcome.metric_difference <= 1e-6 and outcome.dev_difference <= 1e-6
    assert not list(out.glob(".retrain.*"))  # the scratch folder is gone
    probes = pd.read_csv(out / "analysis" / "probes.csv")
    assert set(probes["state"]) == {"before", "after"}
    assert (out / "analysis" / "layer-change.csv").is_file()
    text = (out / "analysis" / "analysis.md").read_text()
    assert "re-trained from the records" in text and "2 of them reproducing" in text
    assert "Fine-tuned weights missing" not in text
    assert main(["analyze", str(out), "--examples", "32", "--analyses", "probes"]) == 0  # the receipt is cited later too
    assert "2 of them reproducing" in (out / "analysis" / "analysis.md").read_text()


def test_a_retrained_unit_that_differs_from_its_record_is_named_not_reproduced():
    from types import SimpleNamespace

    from crossdomain.analysis.retrain import Retraining, compare

    curve = [{"step": 0, "dev": 0.5}, {"step": 50, "dev": 0.7}]
    record = SimpleNamespace(metrics={"primary": 0.8, "mcc": float("nan"), "n": 10}, curve=curve)
    same = SimpleNamespace(metrics={"primary": 0.8, "mcc": float("nan"), "n": 10}, curve=[dict(p) for p in curve])
    assert compare(record, same) == (0.0, 0.0)
    other = SimpleNamespace(metrics={"primary": 0.75, "mcc": 0.1, "n": 10},
                            curve=[{"step": 0, "dev": 0.5}, {"step": 50, "dev": 0.68}])
    metric_difference, dev_difference = compare(record, other)
    assert metric_difference == float("inf")  # a metric defined once and undefined once
    assert dev_difference == pytest.approx(0.02)
    shorter = SimpleNamespace(metrics={"primary": 0.75, "mcc": float("nan"), "n": 10}, curve=curve[:1])
    assert compare(record, shorter) == (pytest.approx(0.05), None)
    outcome = Retraining("u1", *compare(record, shorter), cpu="AMD EPYC")
    assert not outcome.reproduced
    assert "not reproduced" in outcome.describe() and "other evaluation steps" in outcome.describe()


def test_executor_options_without_retrain_are_refused(synthetic, capsys):
    out = run_synthetic(synthetic, save=False)
    assert main(["analyze", str(out), "--workers", "2"]) != 0
    assert "--retrain" in capsys.readouterr().err


def test_identical_attention_maps_share_one_row_named_together():
    from crossdomain.analysis.attention import heat_maps
    from crossdomain.analysis.figures import merge_identical

    rng = np.random.default_rng(0)
    pretrained, random = rng.random((2, 3, len(PATTERNS))), rng.random((2, 3, len(PATTERNS)))
    maps = [("pretrained", "before", pretrained), ("frozen:base=pretrained", "before", pretrained.copy()),
            ("pretrained", "after", pretrained.copy()), ("random", "before", random),
            ("frozen:base=random", "before", random + 1e-6)]  # differs: its own row
    merged = merge_identical(maps)
    assert [(arms, state) for arms, state, _ in merged] == [
        (["pretrained", "frozen:base=pretrained"], "before"), (["pretrained"], "after"), (["random"], "before"),
        (["frozen:base=random"], "before")]
    figure = heat_maps("t/a", {("t/a", arm, state): shares for arm, state, shares in maps})
    labels = [ax.get_ylabel() for ax in figure.axes if ax.get_ylabel() and ax.get_ylabel() != figure.axes[-1].get_ylabel()]
    assert labels == ["pretrained\n= frozen:base=pretrained\nbefore", "pretrained\nafter", "random\nbefore",
                      "frozen:base=random\nbefore"]

