"""Where one ranking's time goes: the compiled catalogue call traced op by op, and its tower timed alone.

    python bench/rank_profile.py --data-dir ../shared/data [--model autointp] [--calls 10]

``Recommender.rank`` spends nearly all its time in one compiled call
(``movierec.scoring.CandidateScorer``). This freezes that call's graph,
runs it in a session with full tracing for one person whose history is full
and prints each op's share of the summed op time (two cores run ops side by
side, so the sum exceeds the wall time), the largest first. Then it times the
tower's hidden layers alone over the whole catalogue (random inputs of the
same shapes), with the arithmetic rate that implies, which says how far the
tower is from these cores' float32 limit.
"""

from __future__ import annotations

import argparse
import collections
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from movierec import artifacts, data
from movierec.features import MOVIE_FIELDS
from movierec.models import MODELS
from movierec.recommend import Recommender


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--model", default="autointp", choices=sorted(MODELS))
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--encoder-dir", default=None)
    parser.add_argument("--calls", type=int, default=10, help="traced calls the op times are averaged over")
    parser.add_argument("--top", type=int, default=15, help="ops printed")
    args = parser.parse_args()
    if args.calls < 1 or args.top < 1:
        parser.error("--calls and --top must be at least 1")

    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    model, encoder, manifest = artifacts.load(args.model, args.model_dir, args.encoder_dir)
    rec = Recommender(model, encoder, data.load("ml-1m", args.data_dir, download=False), manifest)
    year, month = rec.latest
    def full(profile) -> bool:  # a whole history, the case the ranking-speed target is set for
        codes = rec.history_codes(profile)
        return codes is None or bool((codes != 0).all())

    person = next(p for p in (rec.profile(int(u)) for u in rec.data.users["user_id"]) if full(p))
    user_codes, context_codes = rec._codes(person, year, month)
    shared = encoder.assemble(user_codes, np.zeros((1, len(MOVIE_FIELDS)), np.int32), context_codes)
    history = rec.history_codes(person)
    prior = rec.prior_scores(person)
    feeds = [shared, np.zeros((1, 1), np.int32) if history is None else history,
             np.zeros((1, 1), np.float32) if prior is None else prior]  # fmt: skip

    frozen = convert_variables_to_constants_v2(rec.scorer._score)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(frozen.graph.as_graph_def(), name="")
    inputs, outputs = [t.name for t in frozen.inputs], [t.name for t in frozen.outputs]
    spent = collections.Counter()
    with tf.compat.v1.Session(graph=graph) as session:
        feed = dict(zip(inputs, feeds, strict=True))
        for _ in range(3):  # warm-up
            session.run(outputs, feed)
        trace = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        for _ in range(args.calls):
            metadata = tf.compat.v1.RunMetadata()
            session.run(outputs, feed, options=trace, run_metadata=metadata)
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:
                    spent[node.node_name] += node.all_end_rel_micros / args.calls
    total = sum(spent.values())
    print(f"model={args.model}: summed op time {total / 1000:.1f} ms a call, over {args.calls} traced calls")
    for name, micros in spent.most_common(args.top):
        print(f"{micros / 1000:7.2f} ms  {micros / total:5.1%}  {name}")

    tower = getattr(model, "tower", None)
    if tower is None:
        print("no DNN tower")
        return
    import keras

    dense = [layer for layer in tower.hidden if isinstance(layer, keras.layers.Dense)]
    kernels = [layer.kernel for layer in dense[1:]]  # the first layer's product is cached per movie
    if not kernels:
        print("the tower has no hidden layer after its first")
        return
    rows = rec.scorer.n_movies
    hidden = tf.random.normal((rows, kernels[0].shape[0]))

    @tf.function
    def layers(x):
        for kernel in kernels:
            x = tf.nn.relu(x @ kernel)
        return x

    layers(hidden)
    times = []
    for _ in range(50):
        started = time.perf_counter()
        layers(hidden).numpy()
        times.append(time.perf_counter() - started)
    seconds = float(np.median(times))
    flops = sum(2 * rows * k.shape[0] * k.shape[1] for k in kernels)
    print(f"tower's {len(kernels)} hidden layers {[tuple(k.shape) for k in kernels]} over {rows:,} movies: "
          f"{seconds * 1000:.1f} ms median, {flops / seconds / 1e9:.0f} GFLOP/s")  # fmt: skip


if __name__ == "__main__":
    main()
