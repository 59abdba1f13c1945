"""How much a train-only fit of AutoInt+ adds to EASE in a catalogue ranking, and what blends after training buy.

    python bench/ease_headroom.py --data-dir ../shared/data [--fit DIR] [--out FILE]

The stacked AutoInt+ reads graded EASE's score as an input (``movierec.prior``)
and ranks the catalogue under a rule chosen on validation
(``evaluation.ranking_rule_on_validation``). Graded EASE, the strongest simple
baseline here, ranks the test catalogue better than the shipped AutoInt+. This
asks, on validation only, whether a cheap change after training would close
that gap. In one pass over the validation people it ranks, from the fit's
logits and the prior's share:

* the fit under its recorded rule, and graded EASE alone with the prior's own
  l2 and disliked weight, fitted on the training part;
* the rule plus gamma x graded EASE's score again, for a few gamma: more of
  EASE's signal than the learned prior weights give it;
* the rule plus beta x log(1 + the movie's count of training ratings): a
  popularity term, which Hit@10 might favour;
* finer rules beside the recorded one: the like exponent, then the prior's
  gain, halfway to each neighbour the fit's own grid tried.

It first checks that the fit under its rule and graded EASE alone give the
validation numbers their records hold (the fit's manifest, ``results/full.json``),
then prints each ranking's NDCG@10 and Hit@10 and its lead over graded EASE
alone, and writes them to ``--out``. It reads validation only, chooses
nothing and changes no set: a blend it finds would still have to be chosen
so, then tested once, and served.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from movierec import artifacts, baselines, data, evaluation, prior
from movierec.files import REPOSITORY, recorded_path, write_json
from movierec.prepared import history_parts, prepare
from movierec.scoring import ranked_by, ranking_rule

NAME = "autointp"
FIT = REPOSITORY / "model" / "candidates" / "distilled128" / "student-128-fit"
EASE_GAINS = (0.5, 1.0, 2.0, 4.0)
POPULARITY_GAINS = (-0.1, 0.05, 0.1, 0.2)
PART = "validation"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--fit", type=Path, default=FIT, help="an AutoInt+ set fitted on the training part alone")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.out is not None and args.out.is_dir():
        parser.error(f"--out {args.out} is a folder; name a JSON file")
    model, encoder, manifest = artifacts.load(NAME, args.fit, args.fit)
    trained = manifest.get("training") or {}
    if trained.get("refit") is not False or trained.get("refitted") is not None:
        parser.error(f"--fit {args.fit} is not a fit on the training part alone, so validation cannot judge it")
    l2, disliked = float(getattr(model, "ease_l2", 0.0)), prior.disliked_weight(model)  # the prior's own EASE
    if not l2:
        parser.error(f"--fit {args.fit} has no EASE prior: there is nothing to blend")

    started = time.perf_counter()
    release = data.load("ml-1m", args.data_dir, download=False)
    if release.fingerprint() != manifest.get("data", {}).get("fingerprint"):
        raise SystemExit(f"the data in {release.path} is not the data --fit {args.fit} was trained on")
    prepared = prepare(release, encoder=encoder)
    if prepared.split.describe() != manifest["data"].get("split"):
        raise SystemExit(f"this code splits the data otherwise than --fit {args.fit} was trained on")
    rated = prepared.frame(*history_parts(PART))
    users, catalogue = prepared.data.users["user_id"].to_numpy(), prepared.data.movies["movie_id"].to_numpy()
    # The baseline exactly as evaluate reports it (the model's prior is the same fit in its own code space).
    ease = baselines.EASE(rated, users, catalogue, l2, disliked)
    counts = rated.groupby("movie_id").size().reindex(catalogue, fill_value=0).to_numpy()
    log_popularity = np.log1p(counts).astype(np.float32)

    exponent, gain = ranking_rule(model)
    rules = {"rule": (exponent, gain)}
    tried = [evaluation.parse_rule_name(name) for name in recorded_grid(manifest)]
    for e in midpoints(exponent, [e for e, _ in tried]):
        rules[evaluation.rule_name((e, gain))] = (e, gain)
    for g in midpoints(gain, [g for _, g in tried]):
        rules[evaluation.rule_name((exponent, g))] = (exponent, g)
    score_terms = evaluation.model_scorer(model, prepared, PART)

    def score(rows):
        logit, prior_logit = score_terms(rows, terms=True)
        people, movies, outputs = logit.shape
        logit, prior_logit = logit.reshape(-1, outputs), prior_logit.reshape(-1, outputs)
        scores = {name: ranked_by(logit, prior_logit, *rule).reshape(people, movies) for name, rule in rules.items()}
        ease_scores = ease.score_rows(rows)
        scores["graded EASE alone"] = ease_scores
        scores.update({f"rule + {g:g} x EASE": scores["rule"] + g * ease_scores for g in EASE_GAINS})
        scores.update({f"rule + {b:g} x log popularity": scores["rule"] + b * log_popularity
                       for b in POPULARITY_GAINS})  # fmt: skip
        return scores

    names = [*rules, "graded EASE alone", *(f"rule + {g:g} x EASE" for g in EASE_GAINS),
             *(f"rule + {b:g} x log popularity" for b in POPULARITY_GAINS)]  # fmt: skip
    ranked = evaluation.full_rankings(prepared, score, names, PART)
    seconds = round(time.perf_counter() - started, 1)
    check_reproduced(manifest, ranked, (exponent, gain), l2, disliked)
    reference = ranked["graded EASE alone"]["ndcg@10"]
    print(f"validation full ranking, {ranked['rule']['users']} people, {seconds:.0f} s in all; the fit's rule is "
          f"{evaluation.rule_name((exponent, gain))}, EASE l2 {l2:g}, disliked {disliked:g}")  # fmt: skip
    print(f"{'ranking':<32} {'NDCG@10':>8} {'Hit@10':>8} {'vs EASE':>8}")
    for name in names:
        result = ranked[name]
        print(f"{name:<32} {result['ndcg@10']:8.4f} {result['hit@10']:8.4f} {result['ndcg@10'] / reference - 1:+8.2%}")
    if args.out is not None:
        write_json(args.out, {
            "part": PART, "fit": recorded_path(args.fit), "fit_weights_sha256": manifest["weights"]["sha256"],
            "rule": evaluation.rule_name((exponent, gain)), "seconds": seconds,
            "ease": {"l2": l2, "disliked_weight": disliked},
            "full_ranking": {name: {"ndcg@10": ranked[name]["ndcg@10"], "hit@10": ranked[name]["hit@10"],
                                    "users": ranked[name]["users"]} for name in names},
        })  # fmt: skip
        print(f"written to {args.out}")


def recorded_grid(manifest: dict) -> dict:
    """Every rule the fit's choice ranked validation under, by name, with its numbers (``serving.ranking``)."""
    return manifest.get("serving", {}).get("ranking", {}).get("validation", {})


def midpoints(value: float, tried: list[float]) -> list[float]:
    """The points halfway from ``value`` to its nearest neighbours below and above among the values ``tried``."""
    below, above = [v for v in tried if v < value], [v for v in tried if v > value]
    return [(value + v) / 2 for v in ((max(below),) if below else ()) + ((min(above),) if above else ())]


def check_reproduced(manifest: dict, ranked: dict, rule: tuple[float, float], l2: float, disliked: float) -> None:
    """Stop unless the fit under its rule, and graded EASE alone, rank validation as their records say: the fit's
    manifest (``serving.ranking.validation``) and graded EASE's grid in ``results/full.json``."""
    ease_cell = f"l2 {l2:.10g}, disliked {disliked:.10g}"
    full = json.loads((REPOSITORY / "results" / "full.json").read_text())
    recorded = {
        "rule": recorded_grid(manifest).get(evaluation.rule_name(rule), {}).get("full_ndcg@10"),
        "graded EASE alone": full["baselines"]["ease_graded"]["validation_ndcg@10"].get(ease_cell),
    }
    for name, want in recorded.items():
        got = ranked[name]["ndcg@10"]
        if want is None:
            raise SystemExit(f"{name}: no recorded validation NDCG@10 to check the ranking against")
        if abs(got - want) > evaluation.REPRODUCED_WITHIN:
            raise SystemExit(f"{name}: validation NDCG@10 {got:.6f} does not reproduce the recorded {want}")
        print(f"{name}: reproduces the recorded validation NDCG@10 ({want:.6f})")


if __name__ == "__main__":
    main()
