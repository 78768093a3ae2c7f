"""What every analysis works on: a unit's model in two states, on a fixed sample of its own items.

* **before**: the arm's initial weights, rebuilt exactly as the unit built them (same arm, same seed);
* **after**: the fine-tuned weights saved by the unit's ``save-model`` hook (``--set hooks=[save-model]``).

:class:`Representations` holds, for one model state and one item sample, every layer's mean-pooled and
[CLS] hidden states and per-head attention statistics, computed in batches so memory stays bounded.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PATTERNS = ("self", "cls", "sep", "previous", "next", "same_symbol", "other")  # exclusive, in this priority
DOMINANT_THRESHOLD = 0.5  # a head is "broad" unless one pattern takes at least this share of its attention


@dataclass
class UnitModel:
    """One unit's model in one state, with the items it reads (vocabulary ids of that model)."""

    unit: object
    record: object
    state: str  # "before" | "after"
    model: object
    splits: dict  # name → EncodedSplit, in this model's ids
    pad_id: int
    symbol_rows: dict  # symbol → embedding row of this model


@dataclass
class Representations:
    pooled: np.ndarray  # layers+1 × items × hidden (mean over real tokens)
    cls: np.ndarray  # layers+1 × items × hidden
    labels: np.ndarray
    attention_shares: np.ndarray | None = None  # layers × heads × patterns (mean over symbol queries)
    attention_entropy: np.ndarray | None = None  # layers × heads
    example_attention: np.ndarray | None = None  # layers × heads × n × n, the first item
    example_tokens: list = field(default_factory=list)


def sample_indices(n: int, size: int, seed: int = 0) -> list[int]:
    return sorted(random.Random(seed).sample(range(n), min(size, n)))


def subset(split, indices):
    from crossdomain.training.trainer import EncodedSplit

    return EncodedSplit([split.input_ids[i] for i in indices], [split.labels[i] for i in indices],
                        [split.ids[i] for i in indices])


def load_state(unit, record, state: str) -> UnitModel | None:
    """The unit's model before or after fine-tuning; None when 'after' weights were not saved."""
    from crossdomain.training import stages as pipeline

    prepared = pipeline.prepare(unit)
    mapping_ids = prepared.mapping.ids()
    if state == "before":
        built = pipeline.build_init(unit, prepared)
        model, splits, pad_id = built.model, built.splits, built.pad_id
        remap = _remap_of(unit, prepared)
    else:
        folder = Path(record.path).parent / record.unit_id / "save-model"
        if not (folder / "model.safetensors").exists():
            return None
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(folder)
        keep = json.loads((folder / "vocabulary_ids.json").read_text())
        remap = {old: new for new, old in enumerate(keep)} if keep is not None else None
        splits = {k: pipeline.remap_split(v, remap) for k, v in prepared.splits.items()} if remap else prepared.splits
        pad_id = remap[prepared.pad_id] if remap else prepared.pad_id
    rows = {s: (remap[i] if remap else i) for s, i in mapping_ids.items()}
    model.eval()
    return UnitModel(unit, record, state, model, splits, pad_id, rows)


def _remap_of(unit, prepared):
    from crossdomain.training.models import kept_vocabulary_ids

    keep = kept_vocabulary_ids(unit.train.prune_vocab, prepared)
    return {old: new for new, old in enumerate(keep)} if keep is not None else None


def represent(unit_model: UnitModel, split_name: str, examples: int, batch_size: int = 32,
              attention: bool = False) -> Representations:
    """Hidden states of every layer (and attention statistics) on a seeded sample of one split."""
    import torch

    from crossdomain.training.trainer import PadCollator

    split = subset(unit_model.splits[split_name], sample_indices(len(unit_model.splits[split_name]), examples))
    model = unit_model.model
    if attention:
        model.set_attn_implementation("eager")  # the fused kernels do not return attention weights
    collate = PadCollator(unit_model.pad_id)
    pooled, cls = [], []
    shares = entropy = None
    queries = 0
    example_attention = None
    with torch.inference_mode():
        for start in range(0, len(split), batch_size):
            items = [{"input_ids": split.input_ids[i], "labels": split.labels[i]}
                     for i in range(start, min(start + batch_size, len(split)))]
            batch = collate(items)
            output = model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                      output_hidden_states=True, output_attentions=attention)
            mask = batch["attention_mask"].unsqueeze(-1).float()
            hidden = torch.stack(output.hidden_states)  # layers+1 × batch × length × hidden
            pooled.append(((hidden * mask).sum(2) / mask.sum(1)).numpy())
            cls.append(hidden[:, :, 0].numpy())
            if attention:
                attentions = torch.stack(output.attentions)  # layers × batch × heads × n × n
                batch_shares, batch_entropy, count = attention_statistics(attentions, batch["input_ids"],
                                                                          batch["attention_mask"])
                shares = batch_shares if shares is None else shares + batch_shares
                entropy = batch_entropy if entropy is None else entropy + batch_entropy
                queries += count
                if example_attention is None:
                    length = int(batch["attention_mask"][0].sum())
                    example_attention = attentions[:, 0, :, :length, :length].numpy()
    return Representations(
        pooled=np.concatenate(pooled, axis=1), cls=np.concatenate(cls, axis=1), labels=np.asarray(split.labels),
        attention_shares=shares / queries if attention else None,
        attention_entropy=entropy / queries if attention else None,
        example_attention=example_attention, example_tokens=list(split.input_ids[0]) if split.input_ids else [])


def pattern_masks(input_ids, length: int):
    """For one sequence of ``length`` real tokens: patterns × n × n boolean masks, exclusive, in PATTERNS order."""
    import torch

    n = input_ids.shape[0]
    positions = torch.arange(n)
    query, key = positions[:, None], positions[None, :]
    real = (query < length) & (key < length)
    taken = torch.zeros(n, n, dtype=torch.bool)
    masks = []
    rules = {
        "self": key == query,
        "cls": key == 0,
        "sep": key == length - 1,
        "previous": key == query - 1,
        "next": key == query + 1,
        "same_symbol": input_ids[None, :] == input_ids[:, None],
        "other": torch.ones(n, n, dtype=torch.bool),
    }
    for name in PATTERNS:
        mask = rules[name] & real & ~taken
        taken |= mask
        masks.append(mask)
    return torch.stack(masks)


def attention_statistics(attentions, input_ids, attention_mask):
    """Summed per-head pattern shares (layers × heads × patterns) and entropies over symbol queries, and their count.

    Queries are the symbol positions (not [CLS]/[SEP]); each query's shares over the exclusive patterns sum to 1.
    """
    import torch

    layers, batch, heads, n, _ = attentions.shape
    shares = torch.zeros(layers, heads, len(PATTERNS))
    entropy = torch.zeros(layers, heads)
    count = 0
    for b in range(batch):
        length = int(attention_mask[b].sum())
        if length < 3:
            continue
        masks = pattern_masks(input_ids[b], length).float()  # patterns × n × n
        weights = attentions[:, b, :, 1:length - 1, :]  # layers × heads × queries × n
        mass = torch.einsum("lhqk,pqk->lhp", weights, masks[:, 1:length - 1, :])
        shares += mass
        safe = weights.clamp_min(1e-12)
        entropy += -(weights * safe.log()).sum(-1).sum(-1)
        count += length - 2
    return shares.numpy(), entropy.numpy(), count


def dominant_patterns(shares: np.ndarray) -> np.ndarray:
    """layers × heads: the pattern holding at least DOMINANT_THRESHOLD of a head's attention, else 'broad'."""
    candidates = [p for p in PATTERNS if p != "other"]
    index = [PATTERNS.index(p) for p in candidates]
    best = shares[..., index].argmax(-1)
    value = shares[..., index].max(-1)
    names = np.array(candidates, dtype=object)[best]
    return np.where(value >= DOMINANT_THRESHOLD, names, "broad")
