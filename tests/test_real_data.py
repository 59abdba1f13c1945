"""Checks on the real MovieLens 1M (skipped when ../shared/data is absent; CI runs them).

They load the artifacts committed under model/ and data/ and re-measure them
on the documented split, so a change that silently breaks the shipped models,
the split or the metrics fails here.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from movierec import artifacts, data, evaluation
from movierec.prepared import prepare
from scripts.report import NEWUSER_RUNS, PENDING_NEWUSER_RUNS

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.real_data

# Bars of the core issue for the shipped AutoInt+ (test split, seed protocol).
BARS = {"auc": 0.815, "seed_ndcg@10": 0.68, "seed_hr@10": 0.645}


@pytest.fixture(scope="module")
def shipped():
    return {name: artifacts.load(name) for name in ("autoint", "autointp")}


@pytest.fixture(scope="module")
def real_prepared(real_data_dir, shipped):
    release = data.load("ml-1m", real_data_dir, download=False)
    _, encoder, manifest = shipped["autointp"]
    assert manifest["data"]["fingerprint"] == release.fingerprint(), "artifacts were trained on other data"
    return prepare(release, encoder=encoder)


def test_split_is_the_documented_one(real_prepared):
    split = real_prepared.split
    assert (len(split.train), len(split.validation), len(split.test)) == (720_150, 80_017, 200_042)


def test_baselines_match_the_reference_numbers(real_prepared):
    result = evaluation.evaluate_baselines(real_prepared)
    assert result["movie_mean"]["seed_ndcg@10"] == pytest.approx(0.664, abs=1e-3)
    assert result["movie_mean"]["seed_hr@10"] == pytest.approx(0.632, abs=1e-3)
    assert result["popularity"]["full_ndcg@10"] == pytest.approx(0.173, abs=1e-3)
    assert result["popularity"]["full_hit@10"] == pytest.approx(0.608, abs=1e-3)
    # Item-kNN (cosine on the implicit matrix): the ranking issue's 0.272 / 0.776.
    assert result["item_knn"]["full_ndcg@10"] == pytest.approx(0.272, abs=1e-3)
    assert result["item_knn"]["full_hit@10"] == pytest.approx(0.776, abs=1e-3)
    # EASE, l2 chosen on validation (2000): the ranking issue's 0.369 / 0.875 with l2 = 1000.
    assert result["ease"]["l2"] == 2000
    assert result["ease"]["full_ndcg@10"] == pytest.approx(0.3687, abs=1e-3)
    assert result["ease"]["full_hit@10"] == pytest.approx(0.8718, abs=1e-3)
    # Graded EASE (a disliked movie counts less), l2 and weight chosen on validation: README, "Graded EASE".
    assert (result["ease_graded"]["l2"], result["ease_graded"]["disliked_weight"]) == (500, 0.5)
    assert result["ease_graded"]["full_ndcg@10"] == pytest.approx(0.3902, abs=1e-3)
    assert result["ease_graded"]["full_hit@10"] == pytest.approx(0.8792, abs=1e-3)


@pytest.fixture(scope="module")
def remeasured(shipped, real_prepared):
    """Each shipped model re-evaluated now (under the rule its manifest names), its full ranking on the sample
    people alone: everyone's would cost eight times as much (evaluation.SAMPLE_EVERY)."""
    return {name: evaluation.evaluate_model(model, real_prepared, sample_only=True)
            for name, (model, _, _) in shipped.items()}  # fmt: skip


SAMPLE_KEYS = ("full_sample_ndcg@10", "full_sample_hit@10")


@pytest.mark.parametrize("name", ["autoint", "autointp"])
def test_shipped_models_reproduce_their_manifest_numbers(shipped, remeasured, name):
    """The shipped weights, code and metrics give the manifest's numbers: every test row's (AUC, log loss, seed
    protocol) and the sample people's full ranking, which the same pass as everyone's recorded."""
    recorded = shipped[name][2]["evaluation"]
    keys = [k for k in evaluation.REPRODUCED_KEYS if not k.startswith("full_")] + list(SAMPLE_KEYS)
    for key in keys:
        assert key in recorded, f"run: python -m movierec.evaluate --model {name} --data-dir DIR --record-sample"
        assert remeasured[name][key] == pytest.approx(recorded[key], abs=evaluation.REPRODUCED_WITHIN), key
    assert remeasured[name]["full_sample_users"] == recorded["full_sample_users"]
    assert recorded["full_sample_users"] > 700  # an eighth of the 5,991 people ranked


# How far everyone's full-ranking numbers may lie from the sample's, re-measured: the sample is one person in eight
# (a standard error near 0.01 for either metric) with a few more light users than the rest, and today's gaps are
# 0.0004-0.004 (NDCG@10) and 0.026-0.03 (Hit@10, the sample lower for both models). A loose bound, but the only tie
# left between the weights and everyone's numbers, which are not re-ranked here.
EVERYONE_NEAR_SAMPLE = {"full_ndcg@10": 0.03, "full_hit@10": 0.08}


@pytest.mark.parametrize("name", ["autoint", "autointp"])
@pytest.mark.parametrize("key", list(EVERYONE_NEAR_SAMPLE))
def test_everyones_recorded_full_ranking_lies_near_the_sample_re_measured(shipped, remeasured, name, key):
    recorded, sample = shipped[name][2]["evaluation"][key], remeasured[name][key.replace("full_", "full_sample_")]
    assert abs(recorded - sample) <= EVERYONE_NEAR_SAMPLE[key], f"recorded {recorded:.4f}, sample now {sample:.4f}"


@pytest.fixture(scope="module")
def measured(shipped, remeasured):
    """Each shipped model's numbers: re-measured now, and everyone's full ranking as its manifest records it (not
    re-ranked here: the sample's reproduction, and its nearness, above, are what vouch for it)."""
    return {name: {**manifest["evaluation"], **remeasured[name]} for name, (_, _, manifest) in shipped.items()}


# Bars of the ranking issue for the shipped AutoInt+ (test split, full ranking; item-kNN: 0.272 / 0.776).
FULL_BARS = {"full_ndcg@10": 0.29, "full_hit@10": 0.79}
MISSED: dict[str, str] = {}  # bar -> why it is missed, to mark it xfail (strict: reaching it flags)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(key, marks=pytest.mark.xfail(strict=True, reason=MISSED[key])) if key in MISSED else key
        for key in [*BARS, *FULL_BARS]
    ],
)
def test_shipped_autointp_clears_the_bars(measured, key):
    bar = {**BARS, **FULL_BARS}[key]
    assert measured["autointp"][key] >= bar, f"{key} {measured['autointp'][key]:.4f} is below {bar}"


# The history issue's bars for the shipped AutoInt+ (plain EASE, l2 chosen on validation: 0.3687 / 0.8718).
HISTORY_BARS = {"full_ndcg@10": 0.38, "full_hit@10": 0.88}
HISTORY_MISSED = {
    "full_hit@10": "the distilled 128-wide AutoInt+ reaches 0.8753 under its rule (README: A distilled narrower tower)"
}


@pytest.mark.parametrize(
    "key",
    [  # strict: reaching a missed bar makes its case fail, to update it
        pytest.param(key, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=HISTORY_MISSED[key]))
        if key in HISTORY_MISSED
        else key
        for key in HISTORY_BARS
    ],
)
def test_shipped_autointp_against_the_history_issue_bars(measured, key):
    assert measured["autointp"][key] >= HISTORY_BARS[key], f"{key} {measured['autointp'][key]:.4f}"


@pytest.mark.parametrize("key", list(BARS))
def test_shipped_autoint_lands_close(measured, key):
    """AutoInt without the DNN should land within 0.01 of AutoInt+'s bars."""
    assert measured["autoint"][key] >= BARS[key] - 0.01


def test_temporal_split_of_the_real_data_never_tests_on_the_past(real_data_dir):
    from movierec import protocols

    release = data.load("ml-1m", real_data_dir, download=False)
    split = protocols.PROTOCOLS["temporal"].make_split(release.ratings)
    assert split.train["timestamp"].max() <= split.validation["timestamp"].min()
    assert split.validation["timestamp"].max() <= split.test["timestamp"].min()


def newuser_run(name: str) -> dict | None:
    """The committed new-user run of the shipped ``name``; None while it is pending (after a retrain)."""
    path = ROOT / "results" / NEWUSER_RUNS[name]
    if name in PENDING_NEWUSER_RUNS:
        assert not path.exists(), f"results/{NEWUSER_RUNS[name]} exists: take {name} out of PENDING_NEWUSER_RUNS"
        return None
    run = json.loads(path.read_text())
    assert run["model"] == name
    return run


@pytest.mark.parametrize("name", list(NEWUSER_RUNS))
def test_the_shipped_manifest_serves_newcomers_as_its_new_user_run_chose(name):
    """The apply step recorded this run (results/newuser*.json): its prior power, and a network of the run's own
    exactly when the run chose one over the shipped kind. While its run is pending, newcomers get the shipped
    network with its prior as trained, and the manifest claims no choice."""
    run = newuser_run(name)
    manifest = artifacts.read_manifest(artifacts.manifest_path(name))
    newcomers = manifest.get("serving", {}).get("newcomers")
    if run is None:
        assert newcomers is None and artifacts.newcomer_folders(name) is None
        assert manifest["config"].get("prior_profile_power", 0.0) == 0.0
        return
    apply = f"python -m movierec.evaluate --model {name} --apply-newuser-choice results/{NEWUSER_RUNS[name]}"
    assert newcomers, f"{name}'s manifest records no new-user choice: run {apply}"
    power = run["settings"]["newcomers"]["model"]["prior_profile_power"]
    assert newcomers["source"] == NEWUSER_RUNS[name]
    assert newcomers["prior_profile_power"] == manifest["config"]["prior_profile_power"] == power
    chosen = run["settings"]["newcomer_network"]["network"]
    assert ("network" in newcomers) == (chosen != "model")
    assert (artifacts.newcomer_folders(name) is None) == (chosen == "model")
    if chosen != "model":
        assert newcomers["network"]["variant"] == chosen
        assert newcomers["network"]["weights_sha256"] == run["settings"]["trained"][chosen]["saved"]["weights_sha256"]


@pytest.mark.parametrize("name", list(NEWUSER_RUNS))
def test_the_network_serving_newcomers_is_the_one_the_new_user_run_measured(real_data_dir, name):
    """A newcomer network in service, re-measured on the new-user protocol's validation people, gives the numbers
    its choice was made on: the network in service is the network that was chosen."""
    from movierec import newuser
    from movierec.split import new_user_split

    run = newuser_run(name)
    if run is None:
        pytest.skip(f"no new-user run for the shipped {name} yet: no network of a run's serves its newcomers")
    chosen = run["settings"]["newcomer_network"]["network"]
    if chosen == "model":
        pytest.skip(f"{name}'s run chose the shipped network for newcomers: no network of the run's serves them")
    model, encoder, _ = artifacts.load(name, *artifacts.newcomer_folders(name))
    release = data.load("ml-1m", real_data_dir, download=False)
    prepared = prepare(release, encoder=encoder, split=new_user_split(release.ratings))
    onboarding = newuser.onboard(prepared, 5, "validation")
    got = newuser.rank(onboarding, newuser.model_scores(model, prepared, onboarding), len(release.movies))
    recorded = run["settings"]["validation_people"]["5"]["baselines"][chosen]
    assert got["users"] == recorded["users"]
    assert got["full_ndcg@10"] == pytest.approx(recorded["full_ndcg@10"], abs=1e-6)


def test_hard_negative_pools_build_for_train_plus_validation_where_movies_unknown_to_the_encoder_are_rated(
    real_prepared,
):
    """The refit's rated rows hold validation movies the encoder (fitted on train) does not know: the sampler and
    the prior must still agree that they describe the same rated rows, and no pool may hold a rated movie."""
    from movierec.negatives import HARD_POOL, NegativeSampler
    from movierec.prior import OutOfFoldPrior

    frame = real_prepared.frame("train", "validation")
    assert (real_prepared.encoder.encode_movie_ids(frame["movie_id"]) == 0).any()  # what makes this case
    prior = OutOfFoldPrior.of_parts(real_prepared, ("train", "validation"), 1000.0)
    sampler = NegativeSampler.for_rows(real_prepared, frame, "uniform", (prior, 0.5))
    pools = sampler.hard_pools
    assert pools.shape == (len(real_prepared.user_index), HARD_POOL) and (pools >= 0).all()
    users = np.repeat(np.arange(len(pools)), HARD_POOL)
    assert not sampler.is_rated(users, pools.reshape(-1)).any()
