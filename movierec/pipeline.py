"""The ``tf.data`` input pipeline: shuffled batches of code rows, negatives and unknown codes mixed in.

Only row indices go through the shuffle; each batch is then gathered from the
arrays in one vectorised op (shuffling whole rows element by element made the
pipeline, not the model, the bottleneck on two cores). Batches are prepared
one at a time, ahead of the training step, with tf.data's autotuner off: the
random draws then come in the same order on every run, so a seed fixes the
trained weights exactly, and the autotuner cannot take a core from the
training step on a two-core machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from movierec.features import FIELDS
from movierec.history import HISTORY_PER_PERSON
from movierec.negatives import NegativeSampler
from movierec.prior import OutOfFoldPrior

# Fields replaced by the out-of-vocabulary code now and then during training,
# so the "unknown" rows learn what an average new user, movie or zip code looks like.
OOV_FIELDS = ("user_id", "movie_id", "zip")
PREFETCH_BATCHES = 2  # batches the input pipeline prepares ahead of the training step
# Each random op draws from its own stream, seeded at these offsets from the pipeline's seed: TensorFlow
# ops of one graph that share a seed repeat each other's numbers, which coupled the negatives with the mask.
SEED_OFFSETS = {"negatives": 1, "redraws": 2, "unknown_codes": 3, "hard_negatives": 4, "newcomers": 5,
                "newcomer_ratings": 6}
# A rated row trained as a newcomer keeps 1 to this many of its person's movies, as many as the new-user
# protocol's largest reveal (``movierec.newuser.REVEAL``) and a few more than the app's onboarding asks for.
NEWCOMER_RATINGS = 20
# Which movies those are (``training.TrainSettings.newcomer_history``): as the first newcomer networks were
# trained, the oldest of the row's capped history; the person's first ratings, as an onboarding page collects them
# (the row's own movie left out); or those, with only rows rated after them trained as newcomers, as one is served.
NEWCOMER_HISTORIES = ("oldest_kept", "first_ratings", "first_ratings_later_rows")


def make_dataset(
    codes: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    oov_rate: float = 0.0,
    negatives: tuple[NegativeSampler, np.ndarray, int] | None = None,
    fields: Sequence[str] = FIELDS,
    history: tuple[np.ndarray, np.ndarray] | None = None,
    prior: tuple[OutOfFoldPrior, np.ndarray] | None = None,
    shared_history: bool = False,
    newcomer_share: float = 0.0,
    first_ratings: np.ndarray | None = None,
    later_rows_only: bool = False,
):
    """A ``tf.data`` pipeline of (codes, target) batches.

    ``negatives = (sampler, user row of each code row, k)`` appends k fresh
    unrated movies per row to every batch, with target 0. ``oov_rate`` is the
    share of ``OOV_FIELDS`` codes replaced by the unknown code.

    ``history = (histories, user row of each code row)``, with ``histories``
    the (users, length) movie codes of ``movierec.history``, gives each row
    its user's history without the row's own movie, and the inputs become
    ``{"codes", "history"}`` dicts. A sampled negative carries its rated row's
    history, own movie removed too, so a rated row and its negatives differ
    in the candidate alone and the history's size cannot tell them apart.
    With negatives and ``shared_history``, the batch holds
    ``HISTORY_PER_PERSON`` instead, a row per rated row only: the model
    pools it for the rated row and its k negatives, which follow the rated
    rows k each, in the same order (``AutoInt.pool_history``), so a history
    is looked up once, not k + 1 times. Without ``shared_history`` every row
    gets its own copy, for a distribution strategy that splits each input of
    a batch on its own.

    ``prior = (out-of-fold prior, user row of each code row)`` adds each row's
    EASE score of its movie (``movierec.prior``) as input ``"prior"``,
    negatives included: a negative's is its rated row's user's score of the
    sampled movie, from the user's whole rated set (the rated row's movie
    included, unlike the history: diag(B) = 0 keeps a movie out of its own
    score). A row whose movie code is made unknown gets 0, as an unknown
    movie does when serving.

    ``newcomer_share`` of the rated rows are trained as a newcomer is served
    (``movierec.newuser``): their ``user_id`` becomes the unknown code and
    their history holds k movies, k uniform in 1..``NEWCOMER_RATINGS``. By
    default (the "oldest_kept" rule, which the new-user protocol's validation
    people preferred) these are the oldest k of the row's history (own movie
    already removed), which for someone with more than ``length`` ratings are
    not their first ones. With ``first_ratings``, (users, more than
    ``NEWCOMER_RATINGS``) codes, oldest first (``Histories.first_rated``), the
    rows of ``history``'s users, they are the person's first k ratings
    without the row's own movie, as an onboarding page collects them,
    written as a newcomer's history is served (newest first, the newest
    ``length`` if k is more). Unlike a served newcomer, whose movies to find
    all come after those revealed, a row among the person's first ratings
    then trains with some that came after it, unless ``later_rows_only``: a
    row drawn as a newcomer stays a whole person's row if its movie is among
    the k first ratings it would keep, so every newcomer row's movie was
    rated after its k movies (the share of newcomer rows falls a little).
    Their negatives, built from the rated row, carry both user and history. It
    cannot go with a prior, which is folded in on the whole rated set.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(codes.astype(np.int32))
    y = tf.convert_to_tensor(targets.astype(np.float32))
    indices = tf.data.Dataset.range(len(codes))
    if shuffle:
        indices = indices.shuffle(len(codes), seed=seed, reshuffle_each_iteration=True)
    indices = indices.batch(batch_size)
    droppable = np.isin(np.asarray(fields), OOV_FIELDS)
    if negatives is not None:
        sampler, user_rows, k = negatives
        streams = ("negatives", "redraws", "hard_negatives")
        sample = sampler.graph_sampler(k, tuple(seed + SEED_OFFSETS[n] for n in streams))
        users = tf.convert_to_tensor(user_rows.astype(np.int32))

    if (history is not None or prior is not None) and "movie_id" not in fields:
        raise ValueError("a history or prior is matched against the row's movie_id: that field must be an input")
    movie_column = list(fields).index("movie_id") if "movie_id" in fields else None
    if history is not None:
        histories, history_users = (tf.convert_to_tensor(a.astype(np.int32)) for a in history)
        length = history[0].shape[1]
    if not 0 <= newcomer_share <= 1:  # NaN fails too
        raise ValueError(f"newcomer_share must be in [0, 1], got {newcomer_share}")
    if newcomer_share and prior is not None:
        raise ValueError("rows trained as newcomers cannot read an EASE prior: it is folded in on the whole rated set")
    if newcomer_share and "user_id" not in fields:
        raise ValueError("a row trained as a newcomer has an unknown user_id: that field must be an input")
    user_column = list(fields).index("user_id") if "user_id" in fields else None
    if first_ratings is not None:
        if history is None or not newcomer_share:
            raise ValueError("first_ratings are the history of rows trained as newcomers: they need a history and "
                             "a newcomer_share")  # fmt: skip
        if first_ratings.ndim != 2 or len(first_ratings) != len(history[0]):
            raise ValueError(f"first_ratings are one row per user of the histories ({len(history[0])}), got shape "
                             f"{first_ratings.shape}")  # fmt: skip
        if first_ratings.shape[1] <= NEWCOMER_RATINGS:
            raise ValueError(f"a newcomer keeps up to {NEWCOMER_RATINGS} of their first ratings besides the row's own "
                             f"movie: first_ratings need more than {NEWCOMER_RATINGS} columns, got "
                             f"{first_ratings.shape[1]}")  # fmt: skip
        firsts = tf.convert_to_tensor(first_ratings.astype(np.int32))
    elif later_rows_only:
        raise ValueError("later_rows_only picks newcomer rows rated after their first ratings: it needs first_ratings")
    if prior is not None:
        score_prior, prior_users = prior[0].graph_scorer(), tf.convert_to_tensor(prior[1].astype(np.int32))

    def as_newcomers(rows, past, history_rows):
        """Rows chosen at ``newcomer_share`` (fewer with ``later_rows_only``) with the unknown user and, with a
        history, k of the person's movies by the rule the arguments set."""
        chosen = tf.random.uniform(tf.shape(rows)[:1], seed=seed + SEED_OFFSETS["newcomers"]) < newcomer_share
        user = tf.one_hot(user_column, tf.shape(rows)[1], on_value=True, off_value=False)
        if past is None:
            return tf.where(chosen[:, None] & user[None], tf.zeros_like(rows), rows), None
        kept = tf.random.uniform(tf.shape(rows)[:1], 1, NEWCOMER_RATINGS + 1, dtype=tf.int32,
                                 seed=seed + SEED_OFFSETS["newcomer_ratings"])  # fmt: skip
        if later_rows_only:  # a row among the k first ratings it would keep stays its whole person's
            own = tf.equal(tf.gather(firsts, history_rows), rows[:, movie_column : movie_column + 1])
            chosen &= ~tf.reduce_any(own & (tf.range(tf.shape(own)[1])[None] < kept[:, None]), axis=1)
        rows = tf.where(chosen[:, None] & user[None], tf.zeros_like(rows), rows)
        if first_ratings is None:
            # A history is newest first: a slot's movie is among the oldest k when fewer than k filled slots follow.
            filled = tf.cast(tf.not_equal(past, 0), tf.int32)
            older = tf.cumsum(filled, axis=1, exclusive=True, reverse=True)
            keep = ~chosen[:, None] | (older < kept[:, None])
            return rows, tf.where(keep, past, tf.zeros_like(past))
        first = tf.gather(firsts, history_rows)
        first = tf.where(tf.equal(first, rows[:, movie_column : movie_column + 1]), tf.zeros_like(first), first)
        filled = tf.cast(tf.not_equal(first, 0), tf.int32)
        first = tf.where(tf.cumsum(filled, axis=1, exclusive=True) < kept[:, None], first, tf.zeros_like(first))
        # As a newcomer's history is served (``Histories.for_movie_codes``): newest first from slot 0, the
        # newest ``length`` if k is more.
        newest = tf.reverse(first, axis=[1])
        newest = tf.gather(newest, tf.argsort(tf.cast(tf.equal(newest, 0), tf.int32), axis=1, stable=True),
                           batch_dims=1)[:, :length]  # fmt: skip
        first = tf.pad(newest, [[0, 0], [0, length - min(length, first_ratings.shape[1])]])
        return rows, tf.where(chosen[:, None], first, past)

    def gather(batch):
        rows, targets = tf.gather(x, batch), tf.gather(y, batch)
        past = history_rows = None
        if history is not None:
            history_rows = tf.gather(history_users, batch)
            past = tf.gather(histories, history_rows)
            past = tf.where(tf.equal(past, rows[:, movie_column : movie_column + 1]), tf.zeros_like(past), past)
        if newcomer_share:  # before the negatives are built, which copy the rated row's user and history
            rows, past = as_newcomers(rows, past, history_rows)
        if prior is not None:
            people = tf.gather(prior_users, batch)
        if negatives is not None:
            unrated = sample(rows, tf.gather(users, batch))
            rows = tf.concat([rows, unrated], axis=0)
            targets = tf.concat([targets, tf.zeros(tf.shape(unrated)[:1])], axis=0)
            if history is not None and not shared_history:
                past = tf.concat([past, tf.repeat(past, negatives[2], axis=0)], axis=0)
        inputs = {}
        if history is not None:  # one per person only where the negatives follow and share it
            inputs[HISTORY_PER_PERSON if negatives is not None and shared_history else "history"] = past
        if prior is not None:  # a rated row and its k negatives are one person with k + 1 candidates
            movies, rated = rows[:, movie_column], tf.shape(people)[0]
            k = negatives[2] if negatives is not None else 0
            candidates = tf.concat([movies[:rated, None], tf.reshape(movies[rated:], (rated, k))], axis=1)
            scores = score_prior(people, candidates)
            inputs["prior"] = tf.concat([scores[:, 0], tf.reshape(scores[:, 1:], (-1,))], axis=0)
        if oov_rate > 0:
            drop = tf.random.uniform(tf.shape(rows), seed=seed + SEED_OFFSETS["unknown_codes"]) < oov_rate
            rows = tf.where(drop & droppable, tf.zeros_like(rows), rows)
            if prior is not None:  # an unknown movie has no EASE score when serving either
                inputs["prior"] = tf.where(tf.equal(rows[:, movie_column], 0), 0.0, inputs["prior"])
        return ({"codes": rows, **inputs} if inputs else rows), targets

    options = tf.data.Options()
    options.autotune.enabled = False
    return indices.map(gather).prefetch(PREFETCH_BATCHES).with_options(options)
