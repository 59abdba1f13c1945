"""One training run from start to finish: fit, refit, evaluate on test, ready to save.

The recipe the training CLI, the notebook and the objectives benchmark share.
Every choice inside it (epochs, learning rates) is made on the validation
part; the test part is read once, by the final evaluation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from movierec import artifacts, evaluation, models, training
from movierec.prepared import Prepared


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

    def save(self, model_dir=None, encoder_dir=None) -> artifacts.ArtifactPaths:
        """Write weights, manifest and encoder (atomically) where the app reads them, or under the given dirs."""
        release = self.prepared.data
        return artifacts.save(
            self.model,
            self.prepared.encoder,
            self.name,
            artifacts.ArtifactPaths.for_model(self.name, model_dir, encoder_dir),
            data={"release": release.name, "fingerprint": release.fingerprint(),
                  "split": self.prepared.split.describe()},
            training={**self.settings.to_dict(), "seconds": round(self.seconds, 1),
                      "epochs_run": len(self.history["loss"]), "history": self.history, "refitted": self.refitted,
                      "strategy": self.strategy},
            evaluation=self.evaluation,
        )  # fmt: skip


def train_and_evaluate(
    name: str,
    prepared: Prepared,
    settings: training.TrainSettings,
    hyperparameters: dict | None = None,
    strategy: str = "default",
    full_ranking: bool = True,
    verbose: int | str = "auto",
) -> Trained:
    """Train model family ``name`` on a prepared split and evaluate it on the test part.

    The early-stopped fit, the optional refit on train + validation, then the
    test evaluation under both protocols. ``Trained.save`` writes the artifacts.
    """
    distribution = training.distribution_strategy(strategy)
    started = time.perf_counter()
    with distribution.scope():  # variables, optimizer and training steps live on the strategy's devices
        model = models.create(name, prepared.vocab_sizes, seed=settings.seed, **(hyperparameters or {}))
        history = training.fit(model, prepared, settings, verbose=verbose)
        refitted = None
        if settings.refit:
            model, refitted = training.refit(model, prepared, settings, history, verbose=verbose)
    seconds = time.perf_counter() - started
    result = evaluation.evaluate_model(model, prepared, full=full_ranking, progress=verbose not in (0, 2))
    replicas = {"name": strategy, "replicas": distribution.num_replicas_in_sync}
    return Trained(name, model, prepared, settings, history, result, seconds, refitted, replicas)
