"""Latency of ranking every movie for one user, against the ``model.predict`` path, in one run.

    python bench/rank_speed.py --data-dir ../shared/data [--users 200] [--model autointp] [--model-dir DIR]

For each of ``--users`` users (a fixed random sample) it times
``Recommender.rank`` (look up the profile's codes, one compiled call over all
~3,900 movies with the per-movie work cached, mask rated movies, partial sort)
and, as the reference, what the course project did per request: build a pandas
frame of the candidate rows and call ``model.predict`` on it (with the
person's history beside it for a history-aware model). Prints median and p95
of both, the ratio, and the process's peak RSS. For a history-aware model the
users are drawn among those whose history is full (``history_length`` movies).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd

from movierec import artifacts, data
from movierec.features import FIELDS
from movierec.models import MODELS
from movierec.objectives import ranking_scores
from movierec.recommend import Recommender


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--model", default="autointp", choices=sorted(MODELS))
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--reference-users", type=int, default=30, help="the slow path is sampled less")
    parser.add_argument("--model-dir", default=None, help="artifacts to load (default: the shipped ones)")
    parser.add_argument("--encoder-dir", default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    model, encoder, manifest = artifacts.load(args.model, args.model_dir, args.encoder_dir)
    release = data.load("ml-1m", args.data_dir, download=False)
    rec = Recommender(model, encoder, release, manifest)
    year, month = rec.latest
    rng = np.random.default_rng(0)
    candidates = release.users["user_id"].to_numpy()
    if rec.history_length:
        full = [u for u in candidates if (rec.history_codes(rec.profile(int(u))) != 0).all()]
        candidates = np.asarray(full)
    users = rng.choice(candidates, size=min(args.users, len(candidates)), replace=False)
    rec.rank(rec.profile(int(users[0])), year, month)  # warm-up: traces and compiles the call
    ready = time.perf_counter() - started

    ours = []
    for user_id in users:
        profile = rec.profile(int(user_id))
        t = time.perf_counter()
        rec.rank(profile, year, month, n=10)
        ours.append(time.perf_counter() - t)

    reference = []
    for user_id in users[: args.reference_users]:
        profile = rec.profile(int(user_id))
        t = time.perf_counter()
        user_codes, context_codes = rec._codes(profile, year, month)
        n = len(rec.movies)
        rows = encoder.assemble(np.repeat(user_codes, n, 0), rec.scorer.movie_codes, np.repeat(context_codes, n, 0))
        frame = pd.DataFrame(rows, columns=list(FIELDS))
        history, prior = rec.history_codes(profile), rec.prior_scores(profile)
        inputs = model.pack_inputs(frame.to_numpy(), None if history is None else np.repeat(history, n, 0),
                                   None if prior is None else prior[0])  # fmt: skip
        inputs = frame if isinstance(inputs, np.ndarray) else inputs  # the course project fed the frame itself
        # The plain product, not the model's ranking rule: the reference stands for the cost, not the order.
        scores = ranking_scores(model.predict(inputs, batch_size=2048, verbose=0))
        order = np.argsort(-scores)[:10]
        reference.append(time.perf_counter() - t)
        assert len(order) == 10

    our_median, our_p95 = percentiles(ours)
    ref_median, ref_p95 = percentiles(reference)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model={args.model} movies={len(rec.movies):,} users={len(ours)} (reference {len(reference)}) "
          f"history={rec.history_length} movies ({manifest['config'].get('history_pooling')}), "
          f"EASE prior l2={manifest['config'].get('ease_l2', 0.0)}")
    print(f"Recommender.rank:            median {our_median:7.1f} ms   p95 {our_p95:7.1f} ms")
    print(f"reference (frame + predict): median {ref_median:7.1f} ms   p95 {ref_p95:7.1f} ms")
    print(f"speed-up (median): {ref_median / our_median:.1f}x")
    print(f"load + first ranking: {ready:.1f} s; peak RSS {rss_mb:,.0f} MB")


if __name__ == "__main__":
    main()
