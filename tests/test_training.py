"""Fitting: settings checks and reproducible training."""

import json

import numpy as np
import pytest
from conftest import TINY

from movierec import models, training


def test_settings_reject_bad_negative_options():
    with pytest.raises(ValueError, match="negatives"):
        training.TrainSettings(negatives=-1)
    with pytest.raises(ValueError, match="negative_sampling"):
        training.TrainSettings(negative_sampling="zipf")


def test_a_rated_head_model_refuses_to_train_without_negatives(prepared):
    model = models.create("autoint", prepared.vocab_sizes, embedding_dim=4, attention_layers=1, rated_head=True)
    with pytest.raises(ValueError, match="sampled negatives"):
        training.fit(model, prepared, training.TrainSettings(epochs=1, negatives=0), verbose=0)


def test_the_same_seed_trains_the_same_weights(prepared):
    """Sampled negatives and unknown-code dropout included: a seed fixes the run exactly."""
    settings = training.TrainSettings(epochs=2, batch_size=256, refit=False, oov_rate=0.2)

    def run():
        model = models.create("autointp", prepared.vocab_sizes, seed=0, **json.loads(TINY))
        history = training.fit(model, prepared, settings, verbose=0)
        return [w.numpy() for w in model.weights], history

    (first, first_history), (second, second_history) = run(), run()
    assert first_history == second_history
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_validation_rows_and_their_negatives_read_the_training_parts_history(prepared):
    from movierec.history import Histories

    model = models.create("autointp", prepared.vocab_sizes, seed=0, history_length=15, **json.loads(TINY))
    settings = training.TrainSettings(negatives=2)
    batches = list(training.validation_data(model, prepared, settings, batch_size=10**6))
    assert len(batches) == 1
    inputs, _ = batches[0]
    frame = prepared.split.validation
    users = prepared.user_index.get_indexer(frame["user_id"])
    expected = Histories.of_parts(prepared, ("train",), 15).codes[users]
    history = inputs["history"].numpy()
    np.testing.assert_array_equal(history[: len(frame)], expected)
    np.testing.assert_array_equal(history[len(frame) :], np.repeat(expected, 2, axis=0))  # negatives, user-major
    with_validation = Histories.of_parts(prepared, ("train", "validation"), 15).codes[users]
    assert not np.array_equal(expected, with_validation)  # so the check above tells the two apart


@pytest.mark.parametrize("replicas", [1, 2])
def test_batches_share_a_history_only_where_one_replica_takes_the_whole_batch(prepared, monkeypatch, replicas):
    """A strategy with several replicas slices each input of a batch on its own, which would part a shared
    history from its rated row's negatives: there every row carries its own copy. The model's own strategy
    counts, not the one in scope (keras-tuner builds a model in its strategy and fits it outside)."""
    from movierec.history import HISTORY_PER_PERSON

    class Strategy:  # what training_data asks of the model's strategy
        num_replicas_in_sync = replicas

    model = models.create("autointp", prepared.vocab_sizes, seed=0, history_length=15, **json.loads(TINY))
    monkeypatch.setattr(model, "_distribute_strategy", Strategy())  # Keras' model.distribute_strategy reads it
    settings = training.TrainSettings(negatives=2, batch_size=64)
    inputs, targets = next(iter(training.training_data(model, prepared, ("train",), settings)))
    rated = int(np.count_nonzero(targets.numpy()))
    assert inputs["codes"].shape[0] == 3 * rated
    key = HISTORY_PER_PERSON if replicas == 1 else "history"
    assert set(inputs) == {"codes", key} and inputs[key].shape[0] == (rated if replicas == 1 else 3 * rated)


def test_a_history_needs_the_movie_field_among_the_inputs():
    from movierec import pipeline

    x, y = np.ones((4, 3), np.int32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="movie_id"):
        pipeline.make_dataset(x, y, 2, fields=("gender", "age", "zip"), history=(np.ones((2, 5)), np.zeros(4)))


def _row_users(prepared, codes: np.ndarray) -> np.ndarray:
    """The user row of each code row, from its user_id code (no code made unknown in these pipelines)."""
    vocabulary = np.asarray(prepared.encoder.vocabularies["user_id"]).astype(np.int64)
    return prepared.user_index.get_indexer(vocabulary[codes[:, prepared.fields.index("user_id")] - 1])


@pytest.mark.parametrize("weight", [1.0, 0.5])
def test_training_rows_read_the_out_of_fold_prior_and_validation_rows_the_training_parts(prepared, weight):
    """The wiring of the stacking rule: a B that saw the row never scores it, end to end through training's data;
    a graded prior (disliked movies count ``weight``) is graded in training and validation alike."""
    from movierec.prior import EasePrior, OutOfFoldPrior

    l2, movie = 25.0, prepared.fields.index("movie_id")
    model = models.create("autointp", prepared.vocab_sizes, seed=0, ease_l2=l2, ease_disliked_weight=weight,
                          rated_head=True, **json.loads(TINY))  # fmt: skip
    settings = training.TrainSettings(batch_size=512, oov_rate=0.0, negatives=2)
    inputs, _ = next(iter(training.training_data(model, prepared, ("train",), settings)))
    codes, got = inputs["codes"].numpy(), inputs["prior"].numpy()
    users = _row_users(prepared, codes)
    out_of_fold = OutOfFoldPrior.of_parts(prepared, ("train",), l2, weight).pair_scores(users, codes[:, movie])
    seen_all = EasePrior.of_parts(prepared, ("train",), l2, weight).pair_scores(users, codes[:, movie])
    np.testing.assert_allclose(got, out_of_fold, rtol=1e-4, atol=1e-5)
    assert not np.allclose(got, seen_all, rtol=1e-3, atol=1e-4)
    other = OutOfFoldPrior.of_parts(prepared, ("train",), l2, 1.5 - weight).pair_scores(users, codes[:, movie])
    assert not np.allclose(got, other, rtol=1e-3, atol=1e-4)  # the other weight's prior is another prior

    inputs, _ = next(iter(training.validation_data(model, prepared, settings)))
    codes, got = inputs["codes"].numpy(), inputs["prior"].numpy()
    users = _row_users(prepared, codes)
    train_only = EasePrior.of_parts(prepared, ("train",), l2, weight).pair_scores(users, codes[:, movie])
    with_validation = EasePrior.of_parts(prepared, ("train", "validation"), l2, weight).pair_scores(
        users, codes[:, movie])  # fmt: skip
    np.testing.assert_allclose(got, train_only, rtol=1e-4, atol=1e-5)
    assert not np.allclose(got, with_validation, rtol=1e-3, atol=1e-4)
