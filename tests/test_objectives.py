"""The objectives: ordinal cut-points, the rated head, and what a recommendation ranks by."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_fixtures import BATCH, MODELS, VOCAB, codes, small

from autoint import AutoInt
from autointp import AutoIntPlus
from movierec.objectives import INITIAL_CUT_OFFSETS, RatingObjective, cut_offsets, logits_of, ranking_scores


@pytest.mark.parametrize("model_class", MODELS)
def test_ordinal_loss_is_the_cumulative_cross_entropy_of_all_cut_points(model_class):
    model = small(model_class, ordinal=True)
    x = codes()
    ratings = np.array([1, 2, 3, 4, 5, 5, 3, 1], dtype="float32")
    p = keras.ops.convert_to_numpy(model(x)).reshape(-1).astype("float64")
    offsets = keras.ops.convert_to_numpy(cut_offsets(model.cut_steps))
    logits = np.log(p / (1 - p))[:, None] + np.array([offsets[0], offsets[1], 0.0, offsets[2]])
    targets = ratings[:, None] >= np.array([2, 3, 4, 5])
    expected = np.mean(np.logaddexp(0, logits) - targets * logits)
    got = float(model.compute_loss(x, ratings, model(x)))
    assert got == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("model_class", MODELS)
def test_ordinal_gradient_reaches_every_weight_including_the_cut_points(model_class):
    model = small(model_class, ordinal=True)
    x, ratings = codes(), np.array([1, 2, 3, 4, 5, 5, 3, 1], dtype="float32")
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x, ratings, model(x, training=True))
    gradients = tape.gradient(loss, model.trainable_weights)
    assert any(w is model.cut_steps for w in model.trainable_weights)
    for weight, gradient in zip(model.trainable_weights, gradients, strict=True):
        assert gradient is not None and float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(gradient)))) > 0, weight.path


def test_ordinal_model_trains_on_ratings_and_serves_like_probabilities():
    from movierec import training

    rng = np.random.default_rng(1)
    x = np.stack([rng.integers(0, v, 4096) for v in VOCAB], axis=1).astype("int32")
    ratings = np.clip(1 + x[:, 0] % 5 + (x[:, 1] % 2), 1, 5).astype("float32")
    model = small(AutoIntPlus, ordinal=True)
    training.compile_model(model, training.TrainSettings(learning_rate=0.02))
    history = model.fit(x, ratings, epochs=8, batch_size=256, verbose=0)
    assert history.history["auc"][-1] > 0.95  # AUC of P(rating >= 4) against rating >= 4
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("ordinal", [False, True])
def test_rated_head_adds_a_second_output_and_ranks_by_the_product(model_class, ordinal):
    model = small(model_class, rated_head=True, ordinal=ordinal)
    out = keras.ops.convert_to_numpy(model(codes()))
    assert out.shape == (BATCH, 2)
    np.testing.assert_allclose(ranking_scores(out), out[:, 0] * out[:, 1], rtol=1e-6)
    np.testing.assert_allclose(ranking_scores(out[:, :1]), out[:, 0])
    assert model_class.from_config(model.get_config()).rated_head


@pytest.mark.parametrize("model_class", MODELS)
def test_rated_head_loss_learns_likes_from_rated_rows_only(model_class):
    """Unrated rows (rating 0) train only the rated output; rated rows train both."""
    model = small(model_class, rated_head=True)
    x = codes()
    ratings = np.array([0, 0, 0, 4, 5, 1, 0, 2], dtype="float32")
    p = keras.ops.convert_to_numpy(model(x)).astype("float64")
    logits = np.log(p / (1 - p))

    def bce(target, logit):
        return np.logaddexp(0, logit) - target * logit

    rated = ratings > 0
    like = bce(ratings >= 4, logits[:, 0])[rated].mean()
    rated_loss = bce(rated, logits[:, 1]).mean()
    assert float(model.compute_loss(x, ratings, model(x))) == pytest.approx(like + rated_loss, rel=1e-4)


def test_rated_head_learns_what_gets_rated_apart_from_what_gets_liked():
    """Field 0 decides whether a row is rated at all, field 1 whether a rated row is liked."""
    rng = np.random.default_rng(2)
    x = np.stack([rng.integers(0, v, 4096) for v in VOCAB], axis=1).astype("int32")
    rated = x[:, 0] % 2 == 0
    ratings = np.where(rated, np.where(x[:, 1] % 2 == 0, 5.0, 1.0), 0.0).astype("float32")
    model = small(AutoInt, rated_head=True)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    model.fit(x, ratings, epochs=10, batch_size=256, verbose=0)
    out = keras.ops.convert_to_numpy(model(x))
    assert ((out[:, 1] > 0.5) == rated).mean() > 0.95
    assert ((out[rated, 0] > 0.5) == (x[rated, 1] % 2 == 0)).mean() > 0.95




def test_cut_points_start_where_documented_and_stay_ordered_for_any_weights():
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cut_offsets(small(AutoInt, ordinal=True).cut_steps)),
                               INITIAL_CUT_OFFSETS, rtol=1e-6)  # fmt: skip
    for steps in np.random.default_rng(0).normal(0, 5, size=(200, 3)).astype("float32"):
        offset_2, offset_3, offset_5 = keras.ops.convert_to_numpy(cut_offsets(steps))
        assert offset_2 >= offset_3 >= 0 >= offset_5  # so P(r >= 2) >= P(r >= 3) >= P(r >= 4) >= P(r >= 5)


@pytest.mark.parametrize("options", [{"ordinal": True}, {"rated_head": True}, {"ordinal": True, "rated_head": True}])
def test_the_loss_keeps_its_gradient_for_confident_rows(options):
    """From logits, not from clipped probabilities: a wrong row with logit 30 still pulls its weights."""
    objective = RatingObjective(**options)
    logits = tf.Variable([[30.0] * objective.num_outputs, [-30.0] * objective.num_outputs])
    ratings = np.array([1.0, 5.0], dtype="float32")  # both confidently wrong
    with tf.GradientTape() as tape:
        loss = objective.loss(keras.ops.sigmoid(logits), ratings, np.zeros(3, "float32"))
    gradient = tape.gradient(loss, logits).numpy()
    assert np.abs(gradient[:, 0]).min() > 0.1
    assert float(loss) > 10  # a clipped probability would cap each term near -log(1e-7) = 16 with no slope


def test_logits_of_falls_back_to_log_odds_for_plain_arrays():
    p = np.array([[0.1, 0.5, 0.9]], dtype="float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(logits_of(p)), np.log(p / (1 - p)), rtol=1e-5)


def _bce(target, logit):
    return np.logaddexp(0, logit) - target * logit


OBJECTIVES = [{}, {"ordinal": True}, {"rated_head": True}, {"ordinal": True, "rated_head": True}]


@pytest.mark.parametrize("options", OBJECTIVES)
def test_sample_weights_scale_each_rows_terms(options):
    objective = RatingObjective(**options)
    logits = np.random.default_rng(0).normal(size=(6, objective.num_outputs))
    ratings = np.array([0, 5, 4, 2, 1, 3] if objective.rated_head else [5, 5, 4, 2, 1, 3], dtype="float32")
    weights = np.array([1, 0, 2, 1, 0, 1], dtype="float32")
    # By hand: zero steps put the cut offsets at (2 ln 2, ln 2, 0, -ln 2) around the like cut.
    if objective.ordinal:
        offsets = np.log(2) * np.array([2.0, 1.0, 0.0, -1.0])
        cuts = ratings[:, None] >= np.array([2, 3, 4, 5])
        like = _bce(cuts, logits[:, :1] + offsets).mean(axis=1)
    else:
        like = _bce(ratings >= 4, logits[:, 0])
    if objective.rated_head:
        rated = ratings > 0
        expected = (weights * like * rated).sum() / rated.sum() + (weights * _bce(rated, logits[:, 1])).sum() / 6
    else:
        expected = (weights * like).sum() / 6
    outputs, steps = keras.ops.sigmoid(logits.astype("float32")), np.zeros(3, "float32")
    assert float(objective.loss(outputs, ratings, steps, weights)) == pytest.approx(expected, rel=1e-5)
    unweighted = float(objective.loss(outputs, ratings, steps))
    assert float(objective.loss(outputs, ratings, steps, np.ones(6, "float32"))) == pytest.approx(unweighted)


def test_targets_are_ratings_or_like_labels():
    ratings = np.array([1, 3, 4, 5, 0])
    np.testing.assert_array_equal(RatingObjective().targets(ratings), [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(RatingObjective(ordinal=True).targets(ratings), ratings.astype("float32"))
    assert RatingObjective(rated_head=True).num_outputs == 2 and RatingObjective().num_outputs == 1


def test_the_like_exponent_weighs_the_like_output_in_the_ranking_score():
    outputs = np.array([[0.25, 0.8], [0.81, 0.4], [1.0, 0.1]], "float32")
    np.testing.assert_allclose(ranking_scores(outputs), [0.2, 0.324, 0.1], rtol=1e-6)
    np.testing.assert_allclose(ranking_scores(outputs, 0.5), [0.4, 0.36, 0.1], rtol=1e-6)
    np.testing.assert_allclose(ranking_scores(outputs, 0.0), outputs[:, 1], rtol=1e-6)
    np.testing.assert_allclose(ranking_scores(outputs[:, :1], 0.5), outputs[:, 0])  # one output: the like probability


def test_the_log_ranking_score_does_not_saturate_where_probabilities_do():
    """In float32 sigmoid is exactly 1 beyond a logit of about 17; the log scale still orders such movies."""
    from movierec.objectives import log_ranking_scores

    logits = np.array([[2.0, 20.0], [2.0, 30.0], [1.0, 40.0]], "float32")  # (like, rated)
    probabilities = np.asarray(keras.ops.sigmoid(logits))
    assert (ranking_scores(probabilities, 0.0) == 1.0).all()  # three ties at the top
    for scores in (log_ranking_scores(logits, 0.0), np.asarray(log_ranking_scores(tf.constant(logits), 0.0))):
        assert scores[0] < scores[1] < scores[2] < 0
    both = log_ranking_scores(logits, 0.5)
    np.testing.assert_allclose(both, np.log(ranking_scores(1 / (1 + np.exp(-logits.astype(float))), 0.5)), rtol=1e-5)
    np.testing.assert_allclose(log_ranking_scores(logits[:, :1]), -np.log1p(np.exp(-logits[:, 0])), rtol=1e-6)
