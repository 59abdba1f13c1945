"""Newcomers under every ranking rule: the networks a new-user run saved, ranked on its validation people only.

    python bench/newcomer_rule.py --data-dir ../shared/data [--run results/newuser.json] [--networks no_prior]

The new-user protocol ranks each of its networks by the shipped ranking rule,
which was chosen on the project's split, where people have whole profiles.
A newcomer has 5 to 20 ratings. This asks whether another rule of the grid
(``evaluation.ranking_rules``) would rank newcomers better, without reading a
test person: each saved network (``--save-networks`` of the run, checked
against the weights' checksum the run recorded) ranks the run's validation
people after each K of reveal under every rule (the test people's rows are
dropped before anything is encoded), from one pass of its logits
per person. A stacked network reads its prior rescaled by the power the run
chose for it. It prints NDCG@10 and Hit@10 by K and the mean NDCG@10 over K,
the run's rule marked; ``--out`` keeps them as JSON. It chooses nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from movierec import artifacts, data, newuser
from movierec.evaluation import ranking_rules, rule_name
from movierec.files import recorded_location, sha256_file, write_json
from movierec.prepared import prepare
from movierec.prior import EasePrior
from movierec.protocols import PROTOCOLS
from movierec.scoring import PRODUCT_RULE, RANKING_OPTIONS, ranking_rule, set_ranking_rule

ROOT = Path(__file__).resolve().parents[1]


def saved_network(run: dict, name: str):
    """The network ``name`` the run saved, after checking its weights and ranking rule are the ones it measured."""
    trained = run["settings"]["trained"]
    if name not in trained:
        raise SystemExit(f"the run trained no {name!r} network; it has {', '.join(trained)}")
    saved = trained[name].get("saved")
    if not saved:
        raise SystemExit(f"the run saved no {name!r} network (run it with --save-networks)")
    folder = recorded_location(saved["folder"])
    model, encoder, manifest = artifacts.load(run["model"], folder, folder)
    got = sha256_file(folder / manifest["weights"]["file"])
    if got != saved["weights_sha256"]:
        raise SystemExit(f"{folder} holds other weights than the run measured ({got[:12]} against "
                         f"{saved['weights_sha256'][:12]})")  # fmt: skip
    recorded = trained[name].get("ranking", {})
    pairs = zip(RANKING_OPTIONS, PRODUCT_RULE, strict=True)
    rule = tuple(float(recorded.get(option, plain)) for option, plain in pairs)
    set_ranking_rule(model, rule)  # the rule the run ranked this network by (the shipped one when it ran)
    return model, encoder


def run_rule(model, prior) -> tuple[float, float]:
    """The rule the run ranked ``model`` by, without the knobs it lacks (they are left out of its grid)."""
    exponent, gain = ranking_rule(model)
    return (exponent if getattr(model, "num_outputs", 1) == 2 else 1.0, gain if prior is not None else 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--run", type=Path, default=ROOT / "results" / "newuser.json")
    parser.add_argument("--networks", nargs="+", default=None, help="default: every network the run trained "
                        "that may serve newcomers")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    run = json.loads(args.run.read_text())
    trained = run["settings"]["trained"]
    args.networks = args.networks or [n for n in newuser.MAY_SERVE_NEWCOMERS if n in trained]
    release = data.load("ml-1m", args.data_dir, download=False)
    if release.fingerprint() != run["settings"]["data"]["fingerprint"]:
        raise SystemExit(f"{args.run} was measured on other data than {release.name} here")
    split = PROTOCOLS["newuser"].make_split(release.ratings)
    split = dataclasses.replace(split, test=split.test.iloc[:0])  # the test people's rows are not even encoded
    results = {}
    for name in args.networks:
        started = time.perf_counter()
        model, encoder = saved_network(run, name)
        prepared = prepare(release, split=split, encoder=encoder)
        prior = EasePrior.for_model(model, prepared, ["train"])
        if prior is not None:  # rescaled for a newcomer as the run chose for this network
            choice = run["settings"]["newcomers"].get(name, {})
            prior = prior.with_profile(choice.get("prior_profile_power", 0.0), prior.fitted_median)
        ran_by = run_rule(model, prior)
        # The written grid, and the rule the run ranked by if its grid grew to it (a gain past an edge).
        rules = list(dict.fromkeys([*ranking_rules(model), ran_by]))
        by_k = {}
        for k in newuser.REVEAL:
            onboarding = newuser.onboard(prepared, k, "validation")
            score = newuser.model_scores(model, prepared, onboarding, prior)
            by_k[k] = newuser.rank_rules(onboarding, partial(score, terms=True), rules, len(prepared.data.movies))
        table = {rule_name(rule): {**{f"{k}": by_k[k][rule] for k in newuser.REVEAL},
                                   "mean_ndcg@10": float(np.mean([by_k[k][rule]["full_ndcg@10"] for k in by_k]))}
                 for rule in rules}  # fmt: skip
        ran_by = rule_name(ran_by)
        best = max(table, key=lambda rule: table[rule]["mean_ndcg@10"])
        results[name] = {"weights_sha256": trained[name]["saved"]["weights_sha256"], "run_rule": ran_by,
                         "best": best, "rules": table, "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
        print(f"\n{name}: validation people, NDCG@10 (Hit@10) by K; * = the run's rule ({ran_by})")
        print(f"{'rule':<22}" + "".join(f"{'K=' + str(k):>18}" for k in newuser.REVEAL) + f"{'mean NDCG':>12}")
        for rule, row in table.items():
            cells = "".join(f"{row[str(k)]['full_ndcg@10']:>10.4f} ({row[str(k)]['full_hit@10']:.4f})"
                            for k in newuser.REVEAL)  # fmt: skip
            print(f"{rule + (' *' if rule == ran_by else ''):<22}{cells}{row['mean_ndcg@10']:>12.4f}")
        print(f"best mean: {best} ({table[best]['mean_ndcg@10']:.4f} against {table[ran_by]['mean_ndcg@10']:.4f}); "
              f"{results[name]['seconds']:.0f} s")  # fmt: skip
    if args.out:
        run_file = args.run.resolve()
        named = run_file.relative_to(ROOT) if run_file.is_relative_to(ROOT) else run_file
        write_json(args.out, {"run": str(named), "people": "validation", "networks": results})


if __name__ == "__main__":
    main()
