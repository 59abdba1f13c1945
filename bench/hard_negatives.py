"""Hard negatives for the stacked AutoInt+, measured on validation: with and without a sampling-bias correction.

    python bench/hard_negatives.py --data-dir ../shared/data --share 0.5 --out results/hard_negatives.json
    # or fit once and rank later: --save FIT.weights.h5, then --weights FIT.weights.h5

Fits the shipped AutoInt+ configuration (``model/autointp.manifest.json``:
hyperparameters, EASE prior, training settings, the same epoch cap) on the
training part with ``--share`` of its sampled negatives drawn from each
user's ``HARD_POOL`` best-scored unrated movies by the out-of-fold prior
(``TrainSettings.hard_negative_share``, ``movierec.negatives``), no refit, then
ranks the validation part's catalogue for every validation user. The test
part is not read. ``--weights FILE`` ranks weights an earlier run saved
(``--save FILE``, with the settings they were fitted with beside them in
``FILE``'s ``.settings.json``) instead of fitting again.

The correction. A rated head trained by binary cross-entropy against k
negatives per rated row drawn from ``q(movie | person)`` learns a logit of
about ``log p - log k - log q``. Uniform negatives have ``q = 1 / N_u``
over the person's ``N_u`` unrated movies. The mixture draws a pool slot
with chance ``s`` (one of ``P`` slots, ``P_u`` of them filled; an empty
slot falls back to the uniform draw), so ``N_u q = 1 - s P_u / P`` for
every unrated movie, plus ``s N_u / P`` on the pool's. Adding
``c * log(N_u q)`` to the rated logit (for full pools ``log(1 - s + s N_u
/ P)`` on the pool and ``log(1 - s)`` elsewhere) puts the network on the
uniform scale for ``c = 1``; ``c = 0`` is the network as trained. Both
terms count: the rules rank by log P(rated) + e log P(like | rated), and
log-sigmoid is not linear. The pools are the ones training drew from (the
validation people are the training part's people), built by the sampler's
own code (``negatives.catalogue_pools`` on the out-of-fold prior).

Each (like exponent, prior gain, c) is one ranking rule (``RULES``); the
table gives each rule's validation NDCG@10 and Hit@10 beside the shipped
model's train-only fit under the same rule (uniform negatives, the numbers
its manifest recorded when its rule was chosen) and EASE's at the shipped
l2. It also says what share of the validation part's liked movies were in
their person's training pool: negatives in training that the person went
on to rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from movierec import artifacts, baselines, data, evaluation, models, training
from movierec.experiment import fit_candidate
from movierec.features import labels
from movierec.files import sha256_file, write_json
from movierec.interactions import rated_matrix
from movierec.negatives import HARD_POOL, catalogue_pools
from movierec.prepared import prepare
from movierec.prior import EasePrior, OutOfFoldPrior
from movierec.scoring import ranked_by

NAME = "autointp"
DEFAULT_SHARE = 0.5
RULES = [(e, g, c) for e in (1.0, 0.5, 0.25) for g in (1.0, 2.0, 4.0, 6.0, 10.0) for c in (0.0, 1.0, 1.5, 2.0)]


def rule_name(rule: tuple[float, float, float]) -> str:
    return f"{evaluation.rule_name(rule[:2])} c{rule[2]:g}"


def log_sampling_ratio(pools: np.ndarray, n_unrated: np.ndarray, n_movies: int, share: float) -> np.ndarray:
    """``log(N_u q(movie | person))`` (people, movies): what hard negatives took off each rated logit.

    ``pools`` (people, slots) are catalogue positions (-1: an empty slot),
    ``n_unrated`` (people,) each person's unrated movies in the catalogue.
    """
    slots = pools.shape[1]
    plain = 1.0 - share * (pools >= 0).sum(axis=1) / slots  # (people,): the uniform draw's share
    ratio = np.repeat(np.log(plain)[:, None], n_movies, axis=1)
    people, slot = np.nonzero(pools >= 0)
    ratio[people, pools[people, slot]] = np.log(plain[people] + share * n_unrated[people] / slots)
    return ratio


def rank_validation(model, prepared, share: float, pools: np.ndarray) -> dict[str, dict]:
    """Every rule's validation full-ranking NDCG@10 and Hit@10 for a model fitted on the training part."""
    prior = EasePrior.for_model(model, prepared, ("train",))
    score_terms = evaluation.model_scorer(model, prepared, "validation", prior)
    n_movies = len(prepared.data.movies)
    n_unrated = n_movies - rated_matrix(prepared.frame("train"), prepared.user_index, prepared.movie_index).getnnz(1)
    names = [rule_name(rule) for rule in RULES]

    def score(rows):
        logit, prior_logit = score_terms(rows, terms=True)
        users, movies, outputs = logit.shape
        logit, prior_logit = logit.reshape(-1, outputs), prior_logit.reshape(-1, outputs)
        correction = log_sampling_ratio(pools[rows], n_unrated[rows], n_movies, share).reshape(-1)
        out = {}
        for (exponent, gain, c), name in zip(RULES, names, strict=True):
            corrected = logit.copy()
            corrected[:, 1] += c * correction  # the rated head's logit
            out[name] = ranked_by(corrected, prior_logit, exponent, gain).reshape(users, movies)
        return out

    ranked = evaluation.full_rankings(prepared, score, names, "validation")
    return {name: {"full_ndcg@10": ranked[name]["ndcg@10"], "full_hit@10": ranked[name]["hit@10"]} for name in names}


def liked_in_pools(prepared, pools: np.ndarray) -> float:
    """The share of the validation part's liked (person, movie) pairs that were in the person's pool."""
    frame = prepared.split.validation
    liked = frame[labels(frame) > 0]
    people = prepared.user_index.get_indexer(liked["user_id"])
    movies = prepared.movie_index.get_indexer(liked["movie_id"])
    return float((pools[people] == movies[:, None]).any(axis=1).mean())


def sidecar(weights: Path) -> Path:
    return weights.with_name(weights.name.removesuffix(".weights.h5") + ".settings.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--share", type=float, default=None, help=f"hard share of the negatives ({DEFAULT_SHARE})")
    parser.add_argument("--weights", type=Path, default=None, help="rank weights --save wrote instead of fitting")
    parser.add_argument("--save", type=Path, default=None, help="save the fitted weights here (NAME.weights.h5)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for path in (args.weights, args.save):
        if path is not None and not path.name.endswith(".weights.h5"):
            parser.error(f"{path}: Keras saves and loads weights only under a name ending in .weights.h5")
    if args.weights is not None and args.save is not None:
        parser.error("--save keeps a fit this run makes; with --weights it makes none")
    if args.save is not None and not args.save.parent.is_dir():
        parser.error(f"--save {args.save}: no folder {args.save.parent} (checked before a fit of half an hour)")
    if args.share is not None and not 0 < args.share < 1:  # NaN fails too
        parser.error(f"--share must be in (0, 1): the correction takes log(1 - share), got {args.share}")

    manifest = artifacts.read_manifest(artifacts.manifest_path(NAME))
    hyperparameters = artifacts.hyperparameters(manifest)
    shipped_settings = dataclasses.replace(training.TrainSettings.from_dict(manifest["training"]), refit=False)
    recorded = None
    if args.weights is not None:  # the settings the weights were trained with, as --save recorded them
        try:
            recorded = json.loads(sidecar(args.weights).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            parser.error(f"--weights {args.weights}: cannot read the settings saved beside it ({err})")
        settings = training.TrainSettings.from_dict(recorded["settings"])
        if args.share is not None and args.share != settings.hard_negative_share:
            parser.error(f"{args.weights} was trained with share {settings.hard_negative_share}, not {args.share}")
        if recorded["hyperparameters"] != hyperparameters or settings != dataclasses.replace(
            shipped_settings, hard_negative_share=settings.hard_negative_share
        ):
            parser.error(f"{args.weights} was trained otherwise than the shipped model, hard negatives aside")
    else:
        share = DEFAULT_SHARE if args.share is None else args.share
        settings = dataclasses.replace(shipped_settings, hard_negative_share=share)
    share = settings.hard_negative_share
    if not 0 < share < 1 or settings.negative_sampling != "uniform":
        parser.error(f"the correction assumes a share in (0, 1) and uniform plain draws, got {share} and "
                     f"{settings.negative_sampling!r}")  # fmt: skip

    prepared = prepare(data.load("ml-1m", args.data_dir))
    fit_seconds = None  # weights fitted by an earlier run
    if recorded is None:
        started = time.perf_counter()
        fitted = fit_candidate(NAME, prepared, settings, hyperparameters, full_ranking=False, verbose=2)
        model, history, fit_seconds = fitted.model, fitted.history, time.perf_counter() - started
        if args.save:
            model.save_weights(args.save)
            write_json(sidecar(args.save), {"settings": settings.to_dict(), "hyperparameters": hyperparameters,
                                            "history": history, "fit_seconds": fit_seconds})  # fmt: skip
    else:
        model = models.create(NAME, prepared.vocab_sizes, seed=settings.seed, **hyperparameters)
        model.load_weights(args.weights)
        history, fit_seconds = recorded.get("history"), recorded.get("fit_seconds")
    l2, weight = float(hyperparameters["ease_l2"]), float(hyperparameters.get("ease_disliked_weight", 1.0))
    pools = catalogue_pools(prepared, OutOfFoldPrior.of_parts(prepared, ("train",), l2, weight))  # training drew these
    grid = rank_validation(model, prepared, share, pools)
    shipped = manifest["serving"]["ranking"]["validation"]  # the uniform fit's rules, recorded when it was chosen
    ease_model = baselines.EASE(prepared.split.train, prepared.data.users["user_id"].to_numpy(),
                                prepared.data.movies["movie_id"].to_numpy(), l2, weight)  # fmt: skip
    ease = evaluation.full_ranking(prepared, ease_model.score_rows, "validation")
    in_pools = liked_in_pools(prepared, pools)

    print(f"validation full ranking, {len(RULES)} rules (hard share {share}, pool {HARD_POOL}):")
    print(f"{'rule':<28} {'NDCG@10':>8} {'Hit@10':>8}   uniform negatives (shipped fit)")
    for name in sorted(grid, key=lambda n: -grid[n]["full_ndcg@10"]):
        mine, uniform = grid[name], shipped.get(name.rsplit(" c", 1)[0], {})
        theirs = [uniform.get(key, float("nan")) for key in ("full_ndcg@10", "full_hit@10")]
        print(f"{name:<28} {mine['full_ndcg@10']:8.4f} {mine['full_hit@10']:8.4f}   {theirs[0]:.4f} {theirs[1]:.4f}")
    print(f"EASE (l2 {l2:g}, disliked weight {weight:g}): {ease['ndcg@10']:.4f} {ease['hit@10']:.4f}")
    print(f"validation liked movies that were in their person's training pool: {in_pools:.1%}")
    if args.out:
        write_json(args.out, {
            "settings": {**settings.to_dict(), "hard_pool": HARD_POOL, "hyperparameters": hyperparameters},
            "weights": None if args.weights is None else {"file": args.weights.name,
                                                          "sha256": sha256_file(args.weights)},
            "history": history, "fit_seconds": fit_seconds, "validation": grid,
            "uniform_negatives_validation": shipped,
            "ease_validation": {"l2": l2, "disliked_weight": weight, "full_ndcg@10": ease["ndcg@10"],
                                "full_hit@10": ease["hit@10"]},
            "validation_liked_in_training_pools": in_pools,
        })  # fmt: skip
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
