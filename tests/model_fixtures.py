"""Small models on random codes, shared by the model, objective and scoring tests (no data set needed)."""

import numpy as np

from autoint import AutoInt
from autointp import AutoIntPlus

VOCAB = [7, 5, 3, 4, 6, 2]
BATCH = 8
MODELS = [AutoInt, AutoIntPlus]


def codes(seed: int = 0, batch: int = BATCH) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, v, batch) for v in VOCAB], axis=1).astype("int32")


# Field 1 stands for movie_id (its place in FIELDS, the history models' default history_field).
HISTORY = 4
POOLINGS = ["mean", "attention"]
HISTORY_OPTIONS = [{"history_length": HISTORY, "history_pooling": mode} for mode in POOLINGS]


def history(seed: int = 0, batch: int = BATCH, length: int = HISTORY) -> np.ndarray:
    """Random movie codes (field 1's vocabulary), with empty slots (code 0) among them."""
    return np.random.default_rng(seed + 1000).integers(0, VOCAB[1], (batch, length)).astype("int32")


# A model that also reads an EASE prior (movierec.prior), with and without a history.
PRIOR_OPTIONS = [
    {"ease_l2": 100.0},
    dict(history_length=HISTORY, history_pooling="attention", ease_l2=100.0, ease_disliked_weight=0.5,
         prior_profile_power=0.5),
]  # fmt: skip


def prior(seed: int = 0, batch: int = BATCH) -> np.ndarray:
    """Random EASE scores, in the range real ones take."""
    return np.random.default_rng(seed + 2000).normal(0.0, 0.3, batch).astype("float32")


def inputs(model, seed: int = 0, batch: int = BATCH):
    """What ``model`` reads for ``codes(seed, batch)``: the codes, with a random history and prior if it takes them."""
    return model.pack_inputs(codes(seed, batch), history(seed, batch, model.history_length), prior(seed, batch))


def small(model_class, **overrides):
    config = dict(embedding_dim=8, attention_layers=2, num_heads=2, attention_dim=4, seed=3)
    if model_class is AutoIntPlus:
        config["dnn_units"] = [16, 8]
    config.update(overrides)
    return model_class.built(VOCAB, **config)


def randomised(model, seed: int = 0):
    """Random values in every weight (zero-initialised first-order terms would hide mistakes)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        values = rng.normal(0.0, 0.3, weight.shape)
        if "variance" in weight.path:
            values = np.abs(values) + 0.5
        weight.assign(values.astype("float32"))
    return model


def log_ranked(outputs) -> np.ndarray:
    """What a catalogue is ranked by under the plain rule, from model outputs: log of P(rated) x P(like | rated)."""
    from movierec.objectives import ranking_scores

    return np.log(ranking_scores(np.asarray(outputs, dtype=np.float64)))


def serve_newcomers_with(model_dir, model, encoder, name: str = "autointp") -> dict:
    """Make ``model`` the set serving ``name``'s newcomers, the two steps --apply-newuser-choice takes."""
    from movierec import artifacts

    record = artifacts.save_newcomer_set(model, encoder, name, model_dir)
    serving = artifacts.read_manifest(artifacts.manifest_path(name, model_dir)).get("serving", {})
    newcomers = {"network": {"variant": "no_prior", **record}}
    artifacts.update_manifest(name, model_dir, serving={**serving, "newcomers": newcomers})
    artifacts.prune_newcomer_sets(model_dir)
    return record
