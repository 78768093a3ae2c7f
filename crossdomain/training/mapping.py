"""Token mapping: each symbol of a task's alphabet becomes a distinct token of the model's vocabulary.

The paper's strategy (``random``) draws the tokens at random with a *mapping seed*, independent
of the training seed, from the vocabulary's plain, word-initial words. What that means depends on the
vocabulary's family, read from its own markers (:func:`vocabulary_family`):

* WordPiece (BERT, ELECTRA, MPNet): tokens of ASCII letters only, never a special token, ``[unused…]`` slot,
  bracketed reserved token or ``##`` continuation piece;
* byte-level BPE (RoBERTa, GPT-2): ``Ġ`` + ASCII letters (a word after a space), never a special token;
* SentencePiece (ALBERT, T5, DeBERTa-v3, XLNet): ``▁`` + ASCII letters, never a special token.

Any other vocabulary is refused. The draw depends only on (vocabulary, alphabet, seed), so it is identical
on any machine. The model's own specials frame every sequence (``[CLS]``/``[SEP]``, or ``<s>``/``</s>``).
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import asdict, dataclass

from crossdomain.registry import Registry

WORD = re.compile(r"^[A-Za-z]+$")
WORDPIECE, BYTE_BPE, SENTENCEPIECE = "wordpiece", "byte-level-bpe", "sentencepiece"
# a family's marker: WordPiece marks continuations, the other two mark word starts
MARKERS = {WORDPIECE: "##", BYTE_BPE: "Ġ", SENTENCEPIECE: "▁"}
WORD_START = {BYTE_BPE: "Ġ", SENTENCEPIECE: "▁"}
MIN_MARKED_SHARE = 0.01  # a family's marker on at least 1% of the vocabulary (BERT: 19% ##; RoBERTa: 63% Ġ)


class MappingError(ValueError):
    pass


@dataclass
class TokenMapping:
    strategy: str
    seed: int
    symbols: dict[str, dict]  # symbol → {"token": str, "id": int}  (ids of the original vocabulary)
    vocab_size: int
    vocab_sha256: str
    candidates: int  # how many tokens the strategy could draw from
    family: str = WORDPIECE  # the vocabulary's family (records written before it was recorded were WordPiece)

    def ids(self) -> dict[str, int]:
        return {symbol: entry["id"] for symbol, entry in self.symbols.items()}

    def to_json(self) -> dict:
        return asdict(self)


def vocabulary_items(tokenizer) -> list[tuple[int, str]]:
    """(id, token) pairs sorted by id, so draws never depend on dict order."""
    return sorted((i, t) for t, i in tokenizer.get_vocab().items())


def vocabulary_sha256(tokenizer) -> str:
    joined = "\n".join(token for _, token in vocabulary_items(tokenizer))
    return hashlib.sha256(joined.encode()).hexdigest()


def reserved_token(token: str, specials: set[str]) -> bool:
    return token in specials or token.startswith("[") or token.startswith("##") or token.startswith("<")


def vocabulary_family(tokenizer) -> str:
    """WordPiece, byte-level BPE or SentencePiece, from which marker most of the vocabulary carries."""
    tokens = list(tokenizer.get_vocab())
    counts = {family: sum(t.startswith(marker) for t in tokens) for family, marker in MARKERS.items()}
    family = max(counts, key=counts.get)
    if counts[family] < max(10, MIN_MARKED_SHARE * len(tokens)):
        raise MappingError(f"cannot tell the vocabulary's family ({len(tokens)} tokens; {counts} carry the markers "
                           "'##' (WordPiece), 'Ġ' (byte-level BPE), '▁' (SentencePiece)): a symbol could be mapped "
                           "to a word fragment, so this tokenizer is not supported")
    return family


def candidate_tokens(tokenizer, family: str | None = None) -> list[tuple[int, str]]:
    """Plain-word, word-initial tokens of the vocabulary, by id."""
    family = family or vocabulary_family(tokenizer)
    specials = set(tokenizer.all_special_tokens)
    if family == WORDPIECE:
        return [(i, t) for i, t in vocabulary_items(tokenizer) if WORD.match(t) and not reserved_token(t, specials)]
    start = WORD_START[family]
    return [(i, t) for i, t in vocabulary_items(tokenizer)
            if t.startswith(start) and WORD.match(t[len(start):]) and t not in specials]


class MappingStrategy:
    name = ""

    def choose(self, alphabet: list[str], candidates: list[tuple[int, str]], seed: int) -> list[tuple[int, str]]:
        raise NotImplementedError

    def build(self, alphabet: list[str], tokenizer, seed: int) -> TokenMapping:
        if len(set(alphabet)) != len(alphabet):
            raise MappingError(f"alphabet has repeated symbols: {alphabet}")
        family = vocabulary_family(tokenizer)
        candidates = candidate_tokens(tokenizer, family)
        if len(candidates) < len(alphabet):
            raise MappingError(f"vocabulary has {len(candidates)} plain-word tokens, fewer than {len(alphabet)} symbols")
        chosen = self.choose(alphabet, candidates, seed)
        return TokenMapping(
            strategy=self.name,
            seed=seed,
            symbols={s: {"token": t, "id": i} for s, (i, t) in zip(alphabet, chosen)},
            vocab_size=len(tokenizer.get_vocab()),
            vocab_sha256=vocabulary_sha256(tokenizer),
            candidates=len(candidates),
            family=family,
        )


class RandomMapping(MappingStrategy):
    """Kao & Lee's mapping: distinct plain-word tokens drawn uniformly at random."""

    name = "random"

    def choose(self, alphabet, candidates, seed):
        return random.Random(seed).sample(candidates, len(alphabet))


MAPPINGS: Registry[type[MappingStrategy]] = Registry("mapping strategy", entry_point_group="crossdomain.mappings",
                                                     base=MappingStrategy)
MAPPINGS.register("random", RandomMapping)


def build_mapping(strategy: str, alphabet: list[str], tokenizer, seed: int) -> TokenMapping:
    return MAPPINGS.get(strategy)().build(alphabet, tokenizer, seed)


def truncate(symbols: list[str], limit: int, rule: str) -> list[str]:
    if len(symbols) <= limit:
        return symbols
    if rule == "head_tail":
        head = (limit + 1) // 2
        return symbols[:head] + symbols[len(symbols) - (limit - head):]
    return symbols[:limit]


def encode(symbols: list[str], symbol_ids: dict[str, int], cls_id: int, sep_id: int, max_length: int, rule: str) -> list[int]:
    """The model's own start token ([CLS] or <s>) + mapped symbols (truncated by the task's rule) + its separator
    ([SEP] or </s>)."""
    kept = truncate(symbols, max_length - 2, rule)
    try:
        return [cls_id] + [symbol_ids[s] for s in kept] + [sep_id]
    except KeyError as error:
        raise MappingError(f"symbol {error.args[0]!r} is not in the mapping's alphabet") from None
