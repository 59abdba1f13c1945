"""The tf.data input pipeline: every row once per epoch, seeded order, unknown codes only in id fields."""

import numpy as np

from movierec import pipeline
from movierec.features import FIELDS


def test_oov_dropout_only_touches_id_fields():
    x = np.arange(1, 1 + 14 * 4000, dtype=np.int32).reshape(4000, 14) % 50 + 1
    y = np.zeros(4000, dtype=np.float32)
    batch = next(iter(pipeline.make_dataset(x, y, 4000, oov_rate=0.2, seed=1)))[0].numpy()
    dropped = (batch == 0).mean(axis=0)
    for j, field in enumerate(FIELDS):
        if field in pipeline.OOV_FIELDS:
            assert 0.15 < dropped[j] < 0.25, field
        else:
            assert dropped[j] == 0, field


def test_input_pipeline_keeps_every_row_once_per_epoch_in_a_seeded_order_without_the_autotuner():
    x = np.arange(1000 * 14, dtype=np.int32).reshape(1000, 14) + 1
    y = np.arange(1000, dtype=np.float32)

    def epoch(dataset):
        return np.concatenate([targets.numpy() for _, targets in dataset])

    dataset = pipeline.make_dataset(x, y, 128, shuffle=True, seed=7)
    first, second = epoch(dataset), epoch(dataset)
    assert sorted(first) == sorted(second) == list(y)  # every row exactly once per epoch
    assert first.tolist() != second.tolist()  # reshuffled each epoch
    assert first.tolist() == epoch(pipeline.make_dataset(x, y, 128, shuffle=True, seed=7)).tolist()
    # tf.data's autotuner halved whole training epochs on two cores (README, "Speed").
    assert dataset.options().autotune.enabled is False


def test_no_row_sees_its_own_movie_in_its_history_and_negatives_carry_their_rated_rows_history(prepared):
    """The leakage guard of the history-aware model, on the real training pipeline (negatives and unknown codes on)."""
    from movierec.history import HISTORY_PER_PERSON, Histories
    from movierec.negatives import NegativeSampler

    k, movie = 3, FIELDS.index("movie_id")
    frame = prepared.split.train
    users = prepared.user_index.get_indexer(frame["user_id"])
    past = Histories.of_parts(prepared, ("train",), length=50)
    assert (past.codes != 0).sum(axis=1).max() > 10  # people with real histories, so the check has teeth
    sampler = NegativeSampler.for_rows(prepared, frame, "uniform")
    dataset = pipeline.make_dataset(
        prepared.codes("train"), np.ones(len(frame), np.float32), 256, shuffle=True, seed=3, oov_rate=0.2,
        negatives=(sampler, users, k), history=(past.codes, users), shared_history=True,
    )  # fmt: skip
    rows_seen = 0
    for inputs, targets in dataset:
        codes, history = inputs["codes"].numpy(), inputs[HISTORY_PER_PERSON].numpy()
        rated = int(targets.numpy().sum())
        # One history per rated row, which its k negatives share: they follow the rated rows, k each, in order
        # (what AutoInt.pool_history reads), so each negative's history is its rated row's, own movie removed.
        assert history.shape[0] == rated and codes.shape[0] == rated * (k + 1)
        person = np.concatenate([np.arange(rated), np.repeat(np.arange(rated), k)])
        own = codes[:, movie]
        assert not ((history[person] == own[:, None]) & (own[:, None] != 0)).any()
        rows_seen += rated
    assert rows_seen == len(frame)
    # For a strategy that slices each input of a batch on its own, every row carries a copy of its history
    # (first epochs of both, the same seed: the same rows).
    shared, copied = (pipeline.make_dataset(
        prepared.codes("train"), np.ones(len(frame), np.float32), 256, shuffle=True, seed=3, oov_rate=0.2,
        negatives=(sampler, users, k), history=(past.codes, users), shared_history=share,
    ) for share in (True, False))  # fmt: skip
    for (inputs, targets), (mine, _) in zip(shared.take(3), copied.take(3), strict=True):
        rated = int(targets.numpy().sum())
        person = np.concatenate([np.arange(rated), np.repeat(np.arange(rated), k)])
        assert HISTORY_PER_PERSON not in mine
        np.testing.assert_array_equal(mine["history"].numpy(), inputs[HISTORY_PER_PERSON].numpy()[person])
        np.testing.assert_array_equal(mine["codes"].numpy(), inputs["codes"].numpy())
    # Unknown-code dropout hides a rated row's movie from the model, not from the history rule: with the
    # original codes every rated row's own movie is absent, and only it is removed.
    codes = prepared.codes("train")
    original = past.for_rows(users, codes[:, movie])
    assert not (original == codes[:, movie][:, None]).any()
    removed = (past.codes[users] != 0).sum(axis=1) - (original != 0).sum(axis=1)
    assert set(np.unique(removed)) <= {0, 1} and removed.sum() > 0


def test_rows_trained_as_newcomers_by_the_oldest_kept_rule_have_the_unknown_user_and_their_oldest_movies(prepared):
    """``newcomer_share`` without first ratings (the first newcomer networks' rule): a rated row and its negatives
    get the unknown user and the oldest 1-20 movies of its capped history."""
    from movierec.history import HISTORY_PER_PERSON, Histories
    from movierec.negatives import NegativeSampler

    k, movie, user = 2, FIELDS.index("movie_id"), FIELDS.index("user_id")
    frame = prepared.split.train
    users = prepared.user_index.get_indexer(frame["user_id"])
    past = Histories.of_parts(prepared, ("train",), length=50)
    codes = prepared.codes("train")
    original = past.for_rows(users, codes[:, movie])  # each row's history, own movie removed
    assert ((original != 0).sum(axis=1) > pipeline.NEWCOMER_RATINGS).mean() > 0.3  # long histories get cut
    sampler = NegativeSampler.for_rows(prepared, frame, "uniform")
    dataset = pipeline.make_dataset(
        codes, np.ones(len(frame), np.float32), 256, seed=5, negatives=(sampler, users, k),
        history=(past.codes, users), shared_history=True, newcomer_share=0.5,
    )  # fmt: skip
    start, chosen, kept_sizes = 0, [], []
    for inputs, targets in dataset:
        rows, history = inputs["codes"].numpy(), inputs[HISTORY_PER_PERSON].numpy()
        rated = int(targets.numpy().sum())
        newcomer = rows[:rated, user] == 0  # no unknown-code dropout here: 0 means trained as a newcomer
        # The negatives follow their rated rows, k each, and carry the same user code.
        np.testing.assert_array_equal(rows[rated:, user].reshape(rated, k), np.repeat(rows[:rated, user, None], k, 1))
        assert (rows[:rated, user][~newcomer] == codes[start : start + rated, user][~newcomer]).all()
        for j in range(rated):
            before, after = original[start + j], history[j]
            if not newcomer[j]:
                np.testing.assert_array_equal(after, before)
                continue
            filled = before[before != 0]  # newest first
            size = int((after != 0).sum())
            assert 1 <= size <= min(pipeline.NEWCOMER_RATINGS, len(filled)) or len(filled) == 0
            # The kept movies are the oldest of the history, in their slots; the rest are emptied.
            assert sorted(after[after != 0]) == sorted(filled[len(filled) - size :])
            assert ((after == before) | (after == 0)).all()
            kept_sizes.append(size) if len(filled) >= pipeline.NEWCOMER_RATINGS else None
        chosen.append(newcomer)
        start += rated
    assert start == len(frame)
    # Without a shared history every row carries a copy: a negative gets its rated row's cut history and user.
    copied = pipeline.make_dataset(
        codes, np.ones(len(frame), np.float32), 256, seed=5, negatives=(sampler, users, k),
        history=(past.codes, users), shared_history=False, newcomer_share=0.5,
    )  # fmt: skip
    for (inputs, targets), (mine, _) in zip(dataset.take(2), copied.take(2), strict=True):
        rated = int(targets.numpy().sum())
        person = np.concatenate([np.arange(rated), np.repeat(np.arange(rated), k)])
        np.testing.assert_array_equal(mine["history"].numpy(), inputs[HISTORY_PER_PERSON].numpy()[person])
        np.testing.assert_array_equal(mine["codes"].numpy(), inputs["codes"].numpy())
    share = np.concatenate(chosen).mean()
    assert 0.45 < share < 0.55
    assert min(kept_sizes) == 1 and max(kept_sizes) == pipeline.NEWCOMER_RATINGS  # k spans 1..20


def test_rows_trained_as_newcomers_have_their_persons_first_ratings_without_their_own_movie(prepared):
    """With ``first_ratings``, a newcomer row's history is the person's first k ratings, k in 1..20, own movie
    left out, as the new-user protocol reveals them; other rows keep their whole history, negatives share it."""
    from movierec.history import HISTORY_PER_PERSON, Histories
    from movierec.negatives import NegativeSampler

    k, movie, user = 2, FIELDS.index("movie_id"), FIELDS.index("user_id")
    frame = prepared.split.train
    users = prepared.user_index.get_indexer(frame["user_id"])
    past = Histories.of_parts(prepared, ("train",), length=24)
    first = Histories.first_rated(frame, prepared.user_index, prepared.encoder, pipeline.NEWCOMER_RATINGS + 1)
    codes = prepared.codes("train")
    original = past.for_rows(users, codes[:, movie])
    # the first ratings are not the oldest of a capped history for long histories: the two rules differ here
    assert (first[users, -1] != 0).mean() > 0.3 and (past.codes[users, -1] != 0).mean() > 0.3
    sampler = NegativeSampler.for_rows(prepared, frame, "uniform")
    made = {share: pipeline.make_dataset(
        codes, np.ones(len(frame), np.float32), 256, seed=5, negatives=(sampler, users, k),
        history=(past.codes, users), shared_history=share, newcomer_share=0.5, first_ratings=first,
    ) for share in (True, False)}  # fmt: skip
    start, chosen, kept_sizes, not_oldest_kept = 0, [], [], 0
    for inputs, targets in made[True]:
        rows, history = inputs["codes"].numpy(), inputs[HISTORY_PER_PERSON].numpy()
        rated = int(targets.numpy().sum())
        newcomer = rows[:rated, user] == 0
        np.testing.assert_array_equal(rows[rated:, user].reshape(rated, k), np.repeat(rows[:rated, user, None], k, 1))
        for j in range(rated):
            row = start + j
            if not newcomer[j]:
                np.testing.assert_array_equal(history[j], original[row])
                continue
            own = codes[row, movie]
            firsts = first[users[row]]
            firsts = firsts[(firsts != 0) & (firsts != own)]  # oldest first, own movie out
            got = history[j][history[j] != 0]
            assert own not in got
            assert 1 <= len(got) <= pipeline.NEWCOMER_RATINGS or len(firsts) == 0
            np.testing.assert_array_equal(got, firsts[: len(got)][::-1])  # the first k, newest first, at the front
            assert not history[j][len(got) :].any()
            oldest = original[row][original[row] != 0][::-1][: len(got)]
            not_oldest_kept += sorted(got) != sorted(oldest)
            kept_sizes.append(len(got)) if len(firsts) >= pipeline.NEWCOMER_RATINGS else None
        chosen.append(newcomer)
        start += rated
    assert start == len(frame)
    assert 0.45 < np.concatenate(chosen).mean() < 0.55
    assert min(kept_sizes) == 1 and max(kept_sizes) == pipeline.NEWCOMER_RATINGS  # k spans 1..20
    assert not_oldest_kept > 0  # the rule changed something
    for (inputs, targets), (mine, _) in zip(made[True].take(2), made[False].take(2), strict=True):
        rated = int(targets.numpy().sum())
        person = np.concatenate([np.arange(rated), np.repeat(np.arange(rated), k)])
        np.testing.assert_array_equal(mine["history"].numpy(), inputs[HISTORY_PER_PERSON].numpy()[person])
        np.testing.assert_array_equal(mine["codes"].numpy(), inputs["codes"].numpy())


def test_newcomer_share_is_checked():
    import pytest

    from movierec.prior import OutOfFoldPrior

    x, y = np.ones((4, len(FIELDS)), np.int32), np.ones(4, np.float32)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"newcomer_share must be in \[0, 1\]"):
            pipeline.make_dataset(x, y, 2, newcomer_share=bad)
    with pytest.raises(ValueError, match="cannot read an EASE prior"):
        pipeline.make_dataset(x, y, 2, newcomer_share=0.5, prior=(OutOfFoldPrior.__new__(OutOfFoldPrior), np.zeros(4)))
    with pytest.raises(ValueError, match="unknown user_id: that field must be an input"):
        pipeline.make_dataset(x[:, :3], y, 2, fields=("movie_id", "gender", "age"), newcomer_share=0.5)
    users, wide = np.zeros(4, np.int32), np.zeros((1, pipeline.NEWCOMER_RATINGS + 1), np.int32)
    with pytest.raises(ValueError, match="need a history and a newcomer_share"):
        pipeline.make_dataset(x, y, 2, newcomer_share=0.5, first_ratings=wide)
    with pytest.raises(ValueError, match="need a history and a newcomer_share"):
        pipeline.make_dataset(x, y, 2, history=(wide, users), first_ratings=wide)
    with pytest.raises(ValueError, match=f"keeps up to {pipeline.NEWCOMER_RATINGS} of their first ratings"):
        pipeline.make_dataset(x, y, 2, newcomer_share=0.5, history=(wide, users), first_ratings=wide[:, :-1])
    with pytest.raises(ValueError, match=r"one row per user of the histories \(1\), got shape \(2, 21\)"):
        pipeline.make_dataset(x, y, 2, newcomer_share=0.5, history=(wide, users), first_ratings=np.vstack([wide] * 2))


def test_with_later_rows_only_a_newcomer_rows_movie_was_rated_after_the_first_ratings_it_keeps():
    """As a served newcomer's movies to find all come after those revealed: a row drawn as a newcomer whose own
    movie is among the first k ratings it would keep stays its whole person's row, history and user unchanged."""
    import pytest

    movie, user, rows = FIELDS.index("movie_id"), FIELDS.index("user_id"), 4000
    first = np.arange(1, pipeline.NEWCOMER_RATINGS + 2, dtype=np.int32)[None]  # codes 1..21, oldest first
    whole = np.arange(100, 124, dtype=np.int32)[None]  # the person's capped history, none of the first ratings
    x = np.ones((rows, len(FIELDS)), np.int32)
    x[:, movie] = np.resize(np.append(first[0], 99), rows)  # every first rating, and a later movie
    users = np.zeros(rows, np.int32)
    made = pipeline.make_dataset(x, np.ones(rows, np.float32), rows, seed=3, history=(whole, users),
                                 newcomer_share=0.5, first_ratings=first, later_rows_only=True)  # fmt: skip
    inputs, _ = next(iter(made))
    codes, history = inputs["codes"].numpy(), inputs["history"].numpy()
    newcomer = codes[:, user] == 0
    for own, is_newcomer, got in zip(codes[:, movie], newcomer, history, strict=True):
        if not is_newcomer:
            np.testing.assert_array_equal(got, whole[0])
            continue
        kept = got[got != 0]
        np.testing.assert_array_equal(kept, np.arange(len(kept), 0, -1))  # the first k, newest first
        assert own > len(kept)  # rated after every one of them (99: after all 21)
    # The draw of every newcomer row by the first-ratings rule, less those rows: same rows, same k otherwise.
    every, _ = next(iter(pipeline.make_dataset(x, np.ones(rows, np.float32), rows, seed=3, history=(whole, users),
                                               newcomer_share=0.5, first_ratings=first)))  # fmt: skip
    drawn = every["codes"].numpy()[:, user] == 0
    assert (newcomer <= drawn).all() and (newcomer < drawn).any()
    np.testing.assert_array_equal(history[newcomer], every["history"].numpy()[newcomer])
    by_movie = {m: newcomer[codes[:, movie] == m].mean() for m in (1, 11, 21, 99)}
    assert by_movie[1] == 0  # the first rating comes before any k >= 1
    assert 0.4 < by_movie[99] < 0.6  # a later movie is drawn at the share
    assert 0 < by_movie[11] < by_movie[99]  # only where k < its position: about half of the draws for k in 1..20
    with pytest.raises(ValueError, match=r"later_rows_only .* needs first_ratings"):
        pipeline.make_dataset(x, np.ones(rows, np.float32), 2, history=(whole, users), newcomer_share=0.5,
                              later_rows_only=True)  # fmt: skip


def test_a_newcomer_row_of_a_short_history_keeps_the_newest_of_its_first_ratings():
    """A history narrower than the first ratings kept holds the newest of them, as a newcomer's is served."""
    from movierec.history import Histories

    movie, rows = FIELDS.index("movie_id"), 400
    x = np.ones((rows, len(FIELDS)), np.int32)
    x[:, movie] = 99  # not among the person's first ratings
    first = np.zeros((1, pipeline.NEWCOMER_RATINGS + 1), np.int32)
    first[0] = np.arange(1, pipeline.NEWCOMER_RATINGS + 2)  # oldest first
    histories = np.zeros((1, 3), np.int32)
    dataset = pipeline.make_dataset(x, np.ones(rows, np.float32), rows, seed=1, history=(histories, np.zeros(rows)),
                                    newcomer_share=1.0, first_ratings=first)  # fmt: skip
    inputs, _ = next(iter(dataset))
    assert not inputs["codes"].numpy()[:, FIELDS.index("user_id")].any()
    seen = set()
    for got in inputs["history"].numpy():
        k = int(got.max())  # the k first ratings are codes 1..k: the newest is k
        served = Histories.for_movie_codes(first[0, :k], length=3)
        np.testing.assert_array_equal(got, served)
        seen.add(k)
    assert {1, 2, 3, pipeline.NEWCOMER_RATINGS} <= seen
