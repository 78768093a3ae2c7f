import re

import pytest
import torch

from crossdomain.training.mapping import MAPPINGS, build_mapping, candidate_tokens, encode, truncate
from crossdomain.training.models import fresh_classifier, load_tokenizer, pretrained_classifier, prune_vocabulary, resolve_model

PROTEIN = list("ACDEFGHIKLMNPQRSTVWYXBZUO")


def test_same_seed_same_mapping_and_pinned_across_machines(tokenizer):
    first = build_mapping("random", list("ACGT"), tokenizer, seed=0)
    second = build_mapping("random", list("ACGT"), tokenizer, seed=0)
    assert first.symbols == second.symbols
    # pinned: the draw depends only on (vocabulary, alphabet, seed), so it must not drift between machines
    assert first.symbols == {"A": {"token": "tilt", "id": 17010}, "C": {"token": "wrecked", "id": 18480},
                             "G": {"token": "operated", "id": 3498}, "T": {"token": "chronic", "id": 11888}}


def test_mapping_seed_changes_the_draw(tokenizer):
    draws = {tuple(build_mapping("random", PROTEIN, tokenizer, seed=s).ids().values()) for s in range(5)}
    assert len(draws) == 5


def test_tokens_are_distinct_plain_words_never_reserved(tokenizer):
    specials = set(tokenizer.all_special_tokens)
    for seed in range(20):
        mapping = build_mapping("random", PROTEIN, tokenizer, seed=seed)
        tokens = [entry["token"] for entry in mapping.symbols.values()]
        assert len(set(tokens)) == len(PROTEIN)
        for token in tokens:
            assert token not in specials and not token.startswith(("[", "##")) and re.fullmatch(r"[A-Za-z]+", token)
            assert tokenizer.convert_tokens_to_ids(token) == mapping.symbols[PROTEIN[tokens.index(token)]]["id"]


def test_candidates_exclude_unused_and_special(tokenizer):
    candidates = {token for _, token in candidate_tokens(tokenizer)}
    assert "[unused0]" not in candidates and "[CLS]" not in candidates and "[PAD]" not in candidates
    assert "we" in candidates and "you" in candidates


def test_unknown_strategy_suggests(tokenizer):
    with pytest.raises(KeyError, match="Did you mean 'random'"):
        MAPPINGS.get("randon")


def test_encode_frames_with_cls_and_sep_and_truncates_head_tail():
    ids = {c: i for i, c in enumerate("ABCDEFGH", start=10)}
    assert encode(list("ABC"), ids, 101, 102, 64, "head") == [101, 10, 11, 12, 102]
    assert truncate(list("ABCDEFGH"), 5, "head_tail") == list("ABCGH")
    assert truncate(list("ABCDEFGH"), 4, "head") == list("ABCD")
    assert len(encode(list("ABCDEFGH"), ids, 101, 102, 6, "head_tail")) == 6


def test_pruned_vocabulary_gives_identical_logits_and_loss(tokenizer):
    source = resolve_model("tiny")
    mapping = build_mapping("random", list("ACGT"), tokenizer, seed=3)
    keep = [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id, *mapping.ids().values()]
    torch.manual_seed(0)
    full = fresh_classifier(source, num_labels=3).eval()
    torch.manual_seed(0)
    pruned = fresh_classifier(source, num_labels=3).eval()
    remap = prune_vocabulary(pruned, keep)
    assert pruned.get_input_embeddings().num_embeddings == 7

    sequences = [encode(list(s), mapping.ids(), tokenizer.cls_token_id, tokenizer.sep_token_id, 64, "head")
                 for s in ["ACGTTGCA", "GGA"]]
    padded = [s + [tokenizer.pad_token_id] * (10 - len(s)) for s in sequences]
    ids = torch.tensor(padded)
    mask = (ids != tokenizer.pad_token_id).long()
    labels = torch.tensor([0, 2])
    with torch.no_grad():
        reference = full(input_ids=ids, attention_mask=mask, labels=labels)
        small = pruned(input_ids=torch.tensor([[remap[t] for t in row] for row in padded]), attention_mask=mask, labels=labels)
    torch.testing.assert_close(small.logits, reference.logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(small.loss, reference.loss, rtol=1e-5, atol=1e-6)
    # the saved mapping keeps the original vocabulary ids
    assert all(entry["id"] == tokenizer.convert_tokens_to_ids(entry["token"]) for entry in mapping.symbols.values())


def test_random_head_is_reproducible_after_seeding():
    from transformers import set_seed

    source = resolve_model("tiny")
    set_seed(7)
    a = pretrained_classifier(source, num_labels=2)
    set_seed(7)
    b = pretrained_classifier(source, num_labels=2)
    set_seed(8)
    c = pretrained_classifier(source, num_labels=2)
    assert torch.equal(a.classifier.weight, b.classifier.weight)
    assert not torch.equal(a.classifier.weight, c.classifier.weight)
    # the pretrained arm shares the encoder weights, whatever the seed
    assert torch.equal(a.bert.encoder.layer[0].attention.self.query.weight, c.bert.encoder.layer[0].attention.self.query.weight)


def test_missing_model_error_says_what_was_tried():
    from crossdomain.training.models import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match=r"tried alias table .*'/nonexistent/model'"):
        load_tokenizer(resolve_model("/nonexistent/model"))
