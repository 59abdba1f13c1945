"""The two model families by name, and the default hyperparameters ``python -m movierec.train`` uses.

The defaults are the untuned configuration; the shipped AutoInt+ was tuned
(its manifest, ``model/autointp.manifest.json``, holds the configuration it
was trained with) and the tuner's search space is centred on these values.
The rated head needs sampled negatives in training (``TrainSettings.negatives``,
4 by default).
"""

from __future__ import annotations

from autoint import AutoInt
from autointp import AutoIntPlus

MODELS: dict[str, type[AutoInt]] = {"autoint": AutoInt, "autointp": AutoIntPlus}
TITLES: dict[str, str] = {"autoint": "AutoInt", "autointp": "AutoInt+"}

DEFAULT_HYPERPARAMETERS: dict[str, dict] = {
    "autoint": dict(embedding_dim=16, attention_layers=3, num_heads=2, attention_dim=8, dropout=0.0,
                    embeddings_l2=0.0, use_linear=True, ordinal=True, rated_head=True),
    "autointp": dict(embedding_dim=16, attention_layers=3, num_heads=2, attention_dim=8, dnn_units=[512, 256],
                     dropout=0.0, embeddings_l2=0.0, use_linear=True, ordinal=True, rated_head=True),
}  # fmt: skip


def create(name: str, vocab_sizes: list[int], seed: int | None = None, **overrides) -> AutoInt:
    """A built model of family ``name`` with the default hyperparameters, overridden by ``overrides``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    hyperparameters = {**DEFAULT_HYPERPARAMETERS[name], **overrides}
    return MODELS[name].built(vocab_sizes, seed=seed, **hyperparameters)
