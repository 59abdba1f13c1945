"""Hyperparameter search with keras-tuner.

Why Bayesian optimisation and not Hyperband: a trial here costs minutes on
two cores, so only a handful fit in a run, and each should be chosen from
what the earlier ones showed, which is what a Gaussian-process tuner does.
Hyperband's saving comes from judging many configurations after an epoch or
two; these models reach their best validation AUC within three to six epochs,
and the one-epoch ranking of two configurations often flips by the third, so
its short brackets would discard the wrong ones.

The objective is validation AUC (of what the model ranks by; with sampled
negatives that includes unrated movies). Each trial also records the
seed-protocol NDCG@10 and HR@10 on the validation rows, so a search that buys
AUC by hurting the ranking shows up in the results table.

Searches are seeded and resumable: the oracle's state lives under
``directory/project`` and a rerun with the same arguments continues where it
stopped (``overwrite=True`` starts afresh). With keras-tuner's
``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP`` and
``KERASTUNER_ORACLE_PORT`` the same code runs as a chief (the oracle) or as a
worker that asks the chief for trials.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from pathlib import Path

import keras_tuner as kt
import numpy as np

from movierec import evaluation, models, training
from movierec.files import atomic_write_text
from movierec.prepared import Prepared

OBJECTIVE = "val_auc"
DNN_SHAPES = ("128-64", "256-128", "512-256", "400-400-400")


def search_space(model_name: str) -> kt.HyperParameters:
    """The hyperparameters searched, each defaulting to the untuned default (``movierec.models``)."""
    defaults = models.DEFAULT_HYPERPARAMETERS[model_name]
    hp = kt.HyperParameters()
    hp.Choice("embedding_dim", [8, 16, 24, 32], default=defaults["embedding_dim"])
    hp.Int("attention_layers", 1, 4, default=defaults["attention_layers"])
    hp.Choice("num_heads", [1, 2, 4], default=defaults["num_heads"])
    hp.Choice("attention_dim", [8, 16, 32], default=defaults["attention_dim"])
    if model_name == "autointp":
        hp.Choice("dnn_units", list(DNN_SHAPES), default="-".join(map(str, defaults["dnn_units"])))
    hp.Float("dropout", 0.0, 0.3, step=0.1, default=defaults["dropout"])
    hp.Float("learning_rate", 5e-4, 5e-3, sampling="log", default=training.TrainSettings().learning_rate)
    hp.Choice("embeddings_l2", [0.0, 1e-6, 1e-5, 1e-4], default=defaults["embeddings_l2"])
    return hp


def model_hyperparameters(model_name: str, values: dict) -> dict:
    """Model keyword arguments from a trial's values (the learning rate is a training setting)."""
    chosen = {k: v for k, v in values.items() if k != "learning_rate"}
    if "dnn_units" in chosen:
        chosen["dnn_units"] = [int(u) for u in str(chosen["dnn_units"]).split("-")]
    return {**models.DEFAULT_HYPERPARAMETERS[model_name], **chosen}


class DefaultsFirstOracle(kt.oracles.BayesianOptimizationOracle):
    """Bayesian optimisation whose first trial is the default (untuned) configuration.

    Every search then measures the untuned model under exactly the same
    budget as the candidates, so "did tuning help?" is answered in the
    results table itself.
    """

    def populate_space(self, trial_id):
        if not self.trials:  # create_trial records the values, so later draws never repeat them
            values = {p.name: p.default for p in self.hyperparameters.space}
            return {"status": "RUNNING", "values": values}
        return super().populate_space(trial_id)


class AutoIntHyperModel(kt.HyperModel):
    """Builds AutoInt / AutoInt+ from a trial's values and trains them with the project's ``fit``."""

    def __init__(self, model_name: str, prepared: Prepared, settings: training.TrainSettings, **fixed):
        super().__init__(name=model_name)
        self.model_name = model_name
        self.prepared = prepared
        self.settings = settings
        self.fixed = fixed  # model options held fixed during the search (e.g. the rated head)

    def build(self, hp: kt.HyperParameters):
        chosen = model_hyperparameters(self.model_name, {**self._values(hp), **self.fixed})
        return models.MODELS[self.model_name].built(self.prepared.vocab_sizes, seed=self.settings.seed, **chosen)

    def _values(self, hp: kt.HyperParameters) -> dict:
        space = search_space(self.model_name)
        return {p.name: hp.get(p.name) if p.name in hp.values else p.default for p in space.space}

    def fit(self, hp: kt.HyperParameters, model, callbacks=(), verbose=0, **_):
        settings = dataclasses.replace(self.settings, learning_rate=float(self._values(hp)["learning_rate"]))
        history = training.fit(model, self.prepared, settings, verbose=verbose, callbacks=list(callbacks))
        # Through the evaluation, so a model that reads a history or an EASE prior gets them (from train).
        measured = evaluation.evaluate_model(model, self.prepared, full=False, part="validation")
        _record_worker(self, hp)
        return {
            OBJECTIVE: float(np.max(history[OBJECTIVE])),
            "val_seed_ndcg@10": measured["seed_ndcg@10"],
            "val_seed_hr@10": measured["seed_hr@10"],
            "epochs": float(len(history["loss"])),
        }


def _record_worker(hypermodel: AutoIntHyperModel, hp: kt.HyperParameters) -> None:
    """Append which tuner process ran which values, so a distributed run can be audited."""
    log = getattr(hypermodel, "worker_log", None)
    if log is None:
        return
    entry = json.dumps({"tuner_id": os.environ.get("KERASTUNER_TUNER_ID", "tuner0"), "values": hp.values})
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(entry + "\n")


def make_tuner(
    model_name: str,
    prepared: Prepared,
    settings: training.TrainSettings,
    trials: int,
    directory: str | Path,
    project: str | None = None,
    overwrite: bool = False,
    distribution_strategy=None,
    **fixed,
) -> kt.Tuner:
    hypermodel = AutoIntHyperModel(model_name, prepared, settings, **fixed)
    oracle = DefaultsFirstOracle(
        objective=kt.Objective(OBJECTIVE, direction="max"),
        max_trials=trials,
        num_initial_points=min(3, trials),
        seed=settings.seed,
        hyperparameters=search_space(model_name),
    )
    tuner = kt.Tuner(
        oracle,
        hypermodel,
        directory=str(directory),
        project_name=project or model_name,
        overwrite=overwrite,
        distribution_strategy=distribution_strategy,
    )
    hypermodel.worker_log = os.path.join(tuner.project_dir, "workers.jsonl")
    return tuner


def results(tuner: kt.Tuner) -> list[dict]:
    """One row per trial: id, status, every searched value, the objective and the logged ranking metrics."""
    rows = []
    for trial in sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id):
        row = {"trial": trial.trial_id, "status": trial.status}
        row.update(trial.hyperparameters.values)
        for name in (OBJECTIVE, "val_seed_ndcg@10", "val_seed_hr@10", "epochs"):
            row[name] = trial.metrics.get_last_value(name) if trial.metrics.exists(name) else None
        rows.append(row)
    return rows


def best(tuner: kt.Tuner) -> dict:
    """The completed trial with the highest objective: its values and metrics."""
    done = [r for r in results(tuner) if r[OBJECTIVE] is not None]
    if not done:
        raise RuntimeError("no trial has completed yet")
    return max(done, key=lambda r: r[OBJECTIVE])


def write_csv(rows: list[dict], path: str | Path) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())
