"""The unit stages (crossdomain.training.stages): items, encoding, the arm's model and pruning, one unit's result."""
import torch

from crossdomain.config import TrainConfig
from crossdomain.run.units import BaselineUnit, TrainedUnit
from crossdomain.training import stages


def unit(init="pretrained", seed=0, **train):
    cfg = TrainConfig(max_steps=4, eval_every=2, batch_size=8, max_length=16, **train)
    return TrainedUnit(task="synthetic/motif", fold=0, init=init, seed=seed, mapping_seed=0, model="tiny",
                       mapping="random", train=cfg)


def test_items_are_disjoint_stratified_subsamples_of_the_fold(synthetic):
    data, items = stages.select_items(unit(max_train_examples=60, max_eval_examples=20))
    fold = data.folds[0]
    assert (len(items["train"]), len(items["dev"]), len(items["test"])) == (60, 20, 20)
    assert set(items["train"]) <= set(fold.train) and set(items["test"]) <= set(fold.test)
    assert not set(items["train"]) & set(items["dev"]) and not set(items["dev"]) & set(items["test"])
    share = [sum(data.label_ids[i] for i in items[name]) / len(items[name]) for name in ("train", "test")]
    whole = sum(data.label_ids[i] for i in fold.train) / len(fold.train)
    assert all(abs(s - whole) <= 0.05 for s in share)  # stratified: each subsample keeps the class balance


def test_encoded_inputs_are_cls_mapped_symbols_sep_cut_to_the_length(synthetic):
    prepared = stages.prepare(unit())
    symbol_ids = prepared.mapping.ids()
    record = prepared.data.records[stages.select_items(unit())[1]["train"][0]]
    ids = prepared.splits["train"].input_ids[0]
    assert len(ids) <= 16 and ids[0] == prepared.tokenizer.cls_token_id and ids[-1] == prepared.tokenizer.sep_token_id
    assert list(ids[1:-1]) == [symbol_ids[s] for s in record.symbols[:14]]


def test_the_arms_model_is_seeded_and_pruned_to_the_ids_the_mapping_can_produce(synthetic):
    prepared = stages.prepare(unit())
    first, again = stages.build_init(unit("random", 3), prepared), stages.build_init(unit("random", 3), prepared)
    other = stages.build_init(unit("random", 4), prepared)
    weights = [m.model.get_input_embeddings().weight for m in (first, again, other)]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    kept = len(prepared.mapping.ids()) + len(set(prepared.special_ids))
    assert first.model.get_input_embeddings().num_embeddings == kept < first.vocab_rows
    assert max(max(ids) for ids in first.splits["train"].input_ids) < kept and first.init["spec"] == "random"


def test_a_baseline_unit_runs_its_own_stage_on_the_same_items(synthetic):
    trained = unit(max_train_examples=60, max_eval_examples=20)
    baseline = BaselineUnit(task=trained.task, fold=0, train=trained.train, baseline="majority")
    result = stages.execute(baseline, "unused", None)
    assert result.fields["sizes"]["train"] == 60 and result.fields["init"]["baseline"] == "majority"
    test_ids = [stages.select_items(trained)[0].records[i].id for i in stages.select_items(trained)[1]["test"]]
    assert list(result.predictions[0]) == test_ids
