"""Training runs from start to finish, with every choice made on validation and test read once.

A run has three stages, and only the last one reads the test part:

1. ``fit_candidate``: fit one configuration on the training part with early
   stopping (the epochs and learning rates are chosen on validation), choose
   its ranking rule on validation (``choose_ranking_rule``), then measure it
   on the validation part (``Candidate.validation``). A candidate with more
   rules to choose from has a slightly optimistic validation ranking number,
   as any choice on the same part has; ``Candidate.ranking`` keeps the plain
   product's numbers beside the chosen rule's.
2. ``select``: pick among candidates from their validation metrics alone: the
   highest validation full-ranking NDCG@10 (the app's job), ties to the
   candidate listed first, among those whose validation numbers clear the
   floors given (``LIKE_FLOOR``: a shipped model must still predict likes,
   not only rank).
3. ``finish``: refit the chosen candidate on train + validation with the
   schedule it found, then evaluate it on the test part, once.

The training CLI (one candidate, so nothing to select), the notebook and the
objectives benchmark share these.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from movierec import artifacts, evaluation, models, training
from movierec.files import recorded_path
from movierec.prepared import Prepared
from movierec.scoring import set_ranking_rule

SELECTION_METRIC = "full_ndcg@10"
# The core issue's bar on the like probability (AUC >= 0.815), applied to validation numbers when choosing.
LIKE_FLOOR = {"auc": 0.815}


@dataclass
class Candidate:
    """One configuration fitted on the training part and measured on the validation part."""

    name: str
    hyperparameters: dict
    settings: training.TrainSettings
    model: object
    history: dict[str, list[float]]
    validation: dict
    seconds: float
    ranking: dict | None = None  # the ranking rule chosen on validation, with every rule's numbers


@dataclass
class Trained:
    """What one training run produced: the model, its history and test evaluation, and how it was trained."""

    name: str
    model: object
    prepared: Prepared
    settings: training.TrainSettings
    history: dict[str, list[float]]
    evaluation: dict
    seconds: float
    refitted: dict | None = None
    strategy: dict | None = None
    validation: dict = field(default_factory=dict)
    ranking: dict | None = None
    teachers: dict | None = None  # a distilled model's teachers, by stage ("fit", "refit"): folder and weights

    def save(self, model_dir=None, encoder_dir=None) -> artifacts.ArtifactPaths:
        """Write weights, manifest and encoder (atomically) where the app reads them, or under the given dirs."""
        release = self.prepared.data
        return artifacts.save(
            self.model,
            self.prepared.encoder,
            self.name,
            model_dir,
            encoder_dir,
            data={"release": release.name, "fingerprint": release.fingerprint(),
                  "split": self.prepared.split.describe()},
            training={**self.settings.to_dict(), "seconds": round(self.seconds, 1),
                      "epochs_run": len(self.history["loss"]), "history": self.history, "refitted": self.refitted,
                      "strategy": self.strategy, **({"teachers": self.teachers} if self.teachers else {})},
            validation=self.validation,
            evaluation=self.evaluation,
            serving={} if self.ranking is None else {"ranking": self.ranking},
        )  # fmt: skip


def fit_candidate(
    name: str,
    prepared: Prepared,
    settings: training.TrainSettings,
    hyperparameters: dict | None = None,
    strategy: str = "default",
    full_ranking: bool = True,
    verbose: int | str = "auto",
    teacher=None,
) -> Candidate:
    """Fit model family ``name`` on the training part (early stopping on validation), measure it on validation.

    ``teacher``: a model fitted on the training part whose outputs this one learns to match too, with the
    settings' ``distillation_weight`` (``movierec.distillation``).
    """
    distribution = training.distribution_strategy(strategy)
    hyperparameters = dict(hyperparameters or {})
    started = time.perf_counter()
    with distribution.scope():  # variables, optimizer and training steps live on the strategy's devices
        model = models.create(name, prepared.vocab_sizes, seed=settings.seed, **hyperparameters)
        history = training.fit(model, prepared, settings, verbose=verbose, teacher=teacher)
    seconds = time.perf_counter() - started
    progress = verbose not in (0, 2)
    ranking, ranked = None, None  # validation is ranked once: for the rule, and its chosen rule's numbers kept
    if full_ranking:
        ranking, ranked = choose_ranking_rule(model, prepared, progress)
    validation = evaluation.evaluate_model(model, prepared, full=full_ranking, progress=progress, part="validation",
                                           ranked=ranked)  # fmt: skip
    return Candidate(name, hyperparameters, settings, model, history, validation, seconds, ranking)


def choose_ranking_rule(model, prepared: Prepared, progress: bool = False) -> tuple[dict | None, dict | None]:
    """Set a model fitted on the training part to the ranking rule that ranks validation best; say what was chosen.

    Returns the choice and the chosen rule's validation ranking (for
    ``evaluate_model``, so validation is ranked once, not once more under the
    chosen rule); (None, None), and the model unchanged, when the model has
    no rule to choose (one output and no prior). The rule is part of the
    model's config, so a refit keeps it.
    """
    if len(evaluation.ranking_rules(model)) < 2:
        return None, None
    (exponent, gain), grid, ranked = evaluation.ranking_rule_on_validation(model, prepared, progress)
    set_ranking_rule(model, (exponent, gain))
    chosen = {"like_exponent": exponent, "prior_gain": gain, "chosen_by": f"validation {SELECTION_METRIC}",
              "validation": grid}  # fmt: skip
    return chosen, ranked


def select(validation: dict[str, dict], metric: str = SELECTION_METRIC, floors: dict[str, float] | None = None) -> str:
    """The key of the best candidate by a validation metric (higher is better); ties to the first listed.

    ``floors`` (metric -> minimum) rule out candidates whose validation
    numbers fall below any of them, before the best is taken. Takes
    validation metrics only, so nothing measured on test can reach a choice.
    """
    if not validation:
        raise ValueError("no candidates to choose from")
    needed = [metric, *(floors or {})]
    missing = [key for key, values in validation.items() if any(m not in values for m in needed)]
    if missing:
        raise ValueError(f"candidates {missing} lack a validation {' or '.join(needed)}")
    allowed = [key for key, values in validation.items() if all(values[m] >= v for m, v in (floors or {}).items())]
    if not allowed:
        raise ValueError(f"no candidate clears the validation floors {floors}")
    return max(allowed, key=lambda key: (validation[key][metric], -allowed.index(key)))


def finish(
    candidate: Candidate,
    prepared: Prepared,
    strategy: str = "default",
    full_ranking: bool = True,
    verbose: int | str = "auto",
    teacher=None,
) -> Trained:
    """Refit the chosen candidate on train + validation (if its settings ask), then evaluate it on test, once.

    A distilled candidate's refit learns from ``teacher``, which must be trained on train + validation itself.
    """
    if teacher is not None and not candidate.settings.refit:
        raise ValueError("a teacher for the refit was given, but this candidate's settings ask for no refit")
    distribution = training.distribution_strategy(strategy)
    model, refitted, started = candidate.model, None, time.perf_counter()
    if candidate.settings.refit:
        with distribution.scope():
            model, refitted = training.refit(model, prepared, candidate.settings, candidate.history, verbose=verbose,
                                             teacher=teacher)  # fmt: skip
    seconds = candidate.seconds + time.perf_counter() - started
    result = evaluation.evaluate_model(model, prepared, full=full_ranking, progress=verbose not in (0, 2))
    replicas = {"name": strategy, "replicas": distribution.num_replicas_in_sync}
    return Trained(candidate.name, model, prepared, candidate.settings, candidate.history, result, seconds, refitted,
                   replicas, candidate.validation, candidate.ranking)  # fmt: skip


def load_teacher(name: str, folder, prepared: Prepared, data: dict, student, weight: float, refitted: bool) -> tuple:
    """The saved set of model family ``name`` in ``folder`` as (model, record), checked to teach ``student``.

    ``folder`` holds the set's manifest and weights, and its encoder too
    unless that lies in the default ``data/`` (as the shipped set's does:
    ``model``). The teacher must have been trained on ``prepared``'s rows
    (``data``: the release's fingerprint and the split's description, as a
    manifest records them), encoded alike, on the training part alone (``refitted`` False: a fit
    that validation may judge) or on train + validation (``refitted`` True:
    the teacher of a refit), from its labels (a teacher taught by another
    would bring rows no record here names), and read the student's inputs
    and give its outputs (``distillation.Distillation``). A ``ValueError``
    names what does not match. The record names the set for a manifest.
    """
    from movierec.distillation import Distillation

    try:
        model, encoder, manifest = artifacts.load(name, folder)
    except artifacts.ArtifactError as err:
        raise ValueError(str(err)) from None
    trained = manifest.get("training")
    if not isinstance(trained, dict):
        raise ValueError(f"the set in {folder} records no training: what it was trained on is unknown")
    theirs, mine = manifest.get("data", {}), json.loads(json.dumps(data))  # as JSON has it (a tuple is a list)
    differ = [key for key in ("fingerprint", "split") if theirs.get(key) != mine.get(key)]
    if differ:
        raise ValueError(f"the set in {folder} was trained on other data than its student (its data {differ} differ)")
    if encoder.to_json() != prepared.encoder.to_json():
        raise ValueError(f"the set in {folder} encodes the data otherwise than its student's split")
    if trained.get("distillation_weight"):
        raise ValueError(f"the set in {folder} was itself taught by another; a teacher must learn from its labels")
    was_refitted = trained.get("refitted") is not None
    if refitted and not was_refitted:
        raise ValueError(f"the set in {folder} was fitted on the training part alone; a refit's teacher must be "
                         "refitted on train + validation too")  # fmt: skip
    if was_refitted and not refitted:
        raise ValueError(f"the set in {folder} was refitted on train + validation; a fit judged on validation needs "
                         "a teacher that never trained on it")  # fmt: skip
    Distillation(student, model, weight)
    record = {"folder": recorded_path(folder), "weights_sha256": manifest["weights"]["sha256"],
              "dnn_units": manifest["config"].get("dnn_units"), "variant": manifest.get("serving", {}).get("variant")}
    return model, record
