"""Each init arm's defining property on the tiny model, spec parsing, and freezing during training."""
import pytest
import torch

from crossdomain.config import ConfigError
from crossdomain.inits import INITS, InitContext, parse_init
from crossdomain.inits.base import body_parameters, layer_index
from crossdomain.registry import UnknownNameError
from crossdomain.training.models import resolve_model


def build(spec, seed=0, num_labels=3):
    arm = parse_init(spec)
    model = arm.build(InitContext(resolve_model("tiny"), num_labels, seed)).model
    arm.freeze(model)
    return model


@pytest.fixture(scope="module")
def checkpoint():
    return {k: v.detach().clone() for k, v in body_parameters(build("pretrained")).items()}


def test_spec_parsing_is_canonical_and_checked():
    assert parse_init("pretrained-layers:k=3").spec == "pretrained-layers:k=3"
    assert parse_init("frozen").spec == parse_init(" frozen:base=pretrained ").spec == "frozen:base=pretrained"
    bad = {"stats-match": (UnknownNameError, r"Did you mean 'stats-matched'"),
           "pretrained-layers:kk=3": (ConfigError, r"unknown key 'kk'.*Did you mean 'k'"),
           "pretrained-layers": (ConfigError, r"missing key\(s\) 'k'"),
           "pretrained-layers:k=three": (ConfigError, r"k: expected int, got 'three'"),
           "frozen:base=randm": (ConfigError, r"unknown base arm 'randm'.*Did you mean 'random'"),
           "frozen:random": (ConfigError, r"expected NAME:KEY=VALUE")}
    for spec, (error, message) in bad.items():
        with pytest.raises(error, match=message):
            parse_init(spec)
    assert {"pretrained", "random", "reinit-embeddings", "stats-matched", "shuffled", "pretrained-layers",
            "frozen"} <= set(INITS.names())
    assert all(INITS.get(name).summary() for name in INITS.names())  # a one-line docstring each


def test_same_seed_same_weights_for_every_arm():
    for spec in ("random", "stats-matched", "shuffled", "reinit-embeddings", "pretrained-layers:k=1"):
        a, b, c = build(spec, seed=5), build(spec, seed=5), build(spec, seed=6)
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values())), spec
        assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values())), spec


def test_stats_matched_keeps_mean_and_std_but_not_the_values(checkpoint):
    matched = body_parameters(build("stats-matched"))
    big = [name for name, value in checkpoint.items() if value.numel() >= 1000]
    assert big
    for name in big:
        old, new = checkpoint[name].flatten(), matched[name].detach().flatten()
        n = old.numel()
        assert abs(float(new.mean() - old.mean())) < 5 * float(old.std()) / n**0.5 + 1e-6, name
        assert float(new.std()) == pytest.approx(float(old.std()), rel=0.1), name
        correlation = torch.corrcoef(torch.stack([old, new]))[0, 1]
        assert abs(float(correlation)) < 5 / n**0.5, name  # independent draws


def test_shuffled_keeps_the_exact_values_in_other_places(checkpoint):
    shuffled = body_parameters(build("shuffled"))
    for name, old in checkpoint.items():
        new = shuffled[name].detach()
        assert torch.equal(torch.sort(new.flatten()).values, torch.sort(old.flatten()).values), name
        if old.numel() > 10 and old.unique().numel() > 1:
            assert not torch.equal(new, old), name


def test_pretrained_layers_below_k_from_the_checkpoint_above_from_the_random_arm(checkpoint):
    mixed = body_parameters(build("pretrained-layers:k=1", seed=3))
    random_arm = body_parameters(build("random", seed=3))
    layers_seen = set()
    for name, value in mixed.items():
        layer = layer_index(name)
        layers_seen.add(layer)
        from_checkpoint = name.startswith("embeddings.") or (layer is not None and layer < 1)
        reference = checkpoint[name] if from_checkpoint else random_arm[name]
        assert torch.equal(value.detach(), reference), name
    assert {0, 1} <= layers_seen
    with pytest.raises(ValueError, match=r"k=5 but the model has 2 layers"):
        from crossdomain.training.models import model_config

        parse_init("pretrained-layers:k=5").check(model_config(resolve_model("tiny")))


def test_reinit_embeddings_differs_from_the_checkpoint_only_in_word_embeddings(checkpoint):
    model = build("reinit-embeddings")
    for name, value in body_parameters(model).items():
        if name == "embeddings.word_embeddings.weight":
            assert not torch.equal(value.detach(), checkpoint[name])
            assert float(value.detach().std()) == pytest.approx(model.config.initializer_range, rel=0.1)
        else:
            assert torch.equal(value.detach(), checkpoint[name]), name


def test_frozen_body_stays_bit_identical_while_trainable_parameters_move(tmp_path):
    """The harness's own optimiser set-up (AdamW with weight decay) must leave frozen tensors untouched."""
    from transformers import Trainer

    from crossdomain.config import TrainConfig
    from crossdomain.training.trainer import PadCollator, SequenceDataset, training_arguments
    from tests.test_trainer import toy_split

    model = build("frozen:base=random", num_labels=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("LayerNorm" in n for n in trainable) and any("position_embeddings" in n for n in trainable)
    assert any(n.startswith("classifier") for n in trainable) and any("word_embeddings" in n for n in trainable)
    assert not any("attention.self.query" in n or "intermediate.dense" in n or "pooler" in n for n in trainable)
    args = training_arguments(TrainConfig(lr=1e-2, max_steps=5, batch_size=8, weight_decay=0.1), 0, str(tmp_path))
    args.eval_strategy, args.eval_on_start = "no", False
    Trainer(model=model, args=args, data_collator=PadCollator(0), train_dataset=SequenceDataset(toy_split(40, 0))).train()
    for name, parameter in model.named_parameters():
        if name in trainable:
            assert not torch.equal(parameter.detach(), before[name]), f"{name} should have moved"
        else:
            assert torch.equal(parameter.detach(), before[name]), f"{name} should be frozen"



def test_pretrained_embeddings_copies_positions_and_token_types_onto_the_random_arm():
    from crossdomain.inits import InitContext, parse_init
    from crossdomain.inits.base import body_parameters
    from crossdomain.training.models import resolve_model

    source = resolve_model("tiny")
    built = parse_init("pretrained-embeddings").build(InitContext(source, 2, seed=5)).model
    random = body_parameters(parse_init("random").build(InitContext(source, 2, seed=5)).model)
    pretrained = body_parameters(parse_init("pretrained").build(InitContext(source, 2, seed=5)).model)
    for name, parameter in body_parameters(built).items():
        copied = name.startswith(("embeddings.position_embeddings.", "embeddings.token_type_embeddings."))
        expected = pretrained[name] if copied else random[name]
        assert torch.equal(parameter, expected), name
    assert not torch.equal(pretrained["embeddings.position_embeddings.weight"],
                           random["embeddings.position_embeddings.weight"])  # the copy is not a no-op
