"""Distillation: the matching loss, which teachers a student accepts, and a fit that learns from one."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY
from model_fixtures import MODELS, PRIOR_OPTIONS, inputs, randomised, small

from autointp import AutoIntPlus
from movierec import models, training
from movierec.distillation import Distillation
from movierec.objectives import RatingObjective

RATINGS = np.array([0, 0, 0, 4, 5, 1, 0, 2], dtype="float32")


def _bce(target, logit):
    return np.logaddexp(0, logit) - target * logit


def _gap(model, teacher, rows) -> float:
    """Mean squared distance of the model's logits from the teacher's on code ``rows``."""
    theirs, mine = (keras.ops.convert_to_numpy(m.logits(rows)) for m in (teacher, model))
    return float(np.mean((mine - theirs) ** 2))


@pytest.mark.parametrize("rated_head", [False, True])
def test_matching_loss_is_the_cross_entropy_against_the_teachers_probabilities(rated_head):
    rng = np.random.default_rng(0)
    outputs = 2 if rated_head else 1
    student, teacher = (rng.normal(0, 2, (8, outputs)).astype("float32") for _ in range(2))
    objective = RatingObjective(ordinal=True, rated_head=rated_head)
    got = float(objective.matching_loss(keras.ops.sigmoid(student), teacher, RATINGS))
    soft = 1 / (1 + np.exp(-teacher))
    if rated_head:  # the like output over rated rows, the rated output over all
        rated = RATINGS > 0
        expected = _bce(soft[:, 0], student[:, 0])[rated].mean() + _bce(soft[:, 1], student[:, 1]).mean()
    else:
        expected = _bce(soft[:, 0], student[:, 0]).mean()
    assert got == pytest.approx(expected, rel=1e-4)


def test_matching_loss_is_flat_at_the_teacher_and_ignores_its_like_logit_on_unrated_rows():
    objective = RatingObjective(rated_head=True)
    teacher = np.random.default_rng(1).normal(0, 2, (8, 2)).astype("float32")
    student = tf.Variable(teacher)
    with tf.GradientTape() as tape:
        loss = objective.matching_loss(keras.ops.sigmoid(student), teacher, RATINGS)
    np.testing.assert_allclose(tape.gradient(loss, student).numpy(), 0.0, atol=1e-6)
    moved = teacher.copy()
    moved[RATINGS == 0, 0] += 5.0  # the like logit of unrated rows
    away = teacher + 1.0
    at = float(objective.matching_loss(keras.ops.sigmoid(teacher), teacher, RATINGS))
    assert float(objective.matching_loss(keras.ops.sigmoid(teacher), moved, RATINGS)) == pytest.approx(at)
    assert float(objective.matching_loss(keras.ops.sigmoid(away), teacher, RATINGS)) > at


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("options", PRIOR_OPTIONS)
def test_a_students_loss_adds_the_weighted_matching_of_its_teachers_logits(model_class, options):
    student = randomised(small(model_class, rated_head=True, ordinal=True, **options), 0)
    teacher = randomised(small(model_class, rated_head=True, ordinal=True, **options), 1)
    x = inputs(student)
    plain = float(student.compute_loss(x, RATINGS, student(x)))
    student.distillation = Distillation(student, teacher, 0.5)
    taught = float(student.compute_loss(x, RATINGS, student(x)))
    matching = float(student.objective.matching_loss(student(x), teacher.logits(x), RATINGS))
    assert taught == pytest.approx(plain + 0.5 * matching, rel=1e-5)
    assert matching > 0.1  # two different random networks: the term is not negligible
    # validation's loss (training=False) stays the labels' alone
    assert float(student.compute_loss(x, RATINGS, student(x), training=False)) == pytest.approx(plain, rel=1e-6)


def test_a_like_only_model_adds_the_matching_to_its_compiled_loss():
    """Neither ordinal nor rated head: Keras' compiled cross-entropy, then the teacher's term on every row."""
    student, teacher = randomised(small(AutoIntPlus), 0), randomised(small(AutoIntPlus), 1)
    training.compile_model(student, training.TrainSettings())
    x, liked = inputs(student), (RATINGS >= 4).astype("float32")
    plain = float(student.compute_loss(x, liked, student(x)))
    student.distillation = Distillation(student, teacher, 2.0)
    matching = float(student.objective.matching_loss(student(x), teacher.logits(x), liked))
    assert float(student.compute_loss(x, liked, student(x))) == pytest.approx(plain + 2.0 * matching, rel=1e-5)


def test_setting_a_teacher_drops_the_functions_keras_traced_before_and_after(prepared):
    """Keras traces the loss once into its train and test functions: one traced without the teacher must not
    train a taught fit, nor one traced with it a later fit."""
    model = models.create("autointp", prepared.vocab_sizes, seed=0, **json.loads(TINY))
    teacher = models.create("autointp", prepared.vocab_sizes, seed=1, **json.loads(TINY))
    settings = training.TrainSettings(distillation_weight=1.0)
    training.compile_model(model, settings)
    model.make_train_function()
    assert model.train_function is not None
    with training.taught_by(model, teacher, settings):
        assert model.train_function is None and model.distillation is not None
        model.make_train_function()
    assert model.train_function is None and model.test_function is None and model.distillation is None


def test_a_teacher_must_read_the_same_inputs_and_give_the_same_outputs():
    student = small(AutoIntPlus, rated_head=True)
    for other in ({"rated_head": False}, {"history_length": 4}, {"ease_l2": 100.0}):
        with pytest.raises(ValueError, match=f"{next(iter(other))} "):
            Distillation(student, small(AutoIntPlus, **{"rated_head": True, **other}), 1.0)
    with pytest.raises(ValueError, match="vocab_sizes"):
        Distillation(student, AutoIntPlus.built([7, 5, 3, 4, 6, 3], rated_head=True), 1.0)
    for weight in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="positive"):
            Distillation(student, small(AutoIntPlus, rated_head=True), weight)
    wider = small(AutoIntPlus, rated_head=True, dnn_units=[64, 64], embedding_dim=16, attention_layers=1)
    assert Distillation(student, wider, 1.0).teacher is wider  # the tower and the widths may differ


def test_a_recorded_weight_is_not_carried_to_a_run_with_no_teacher():
    """Settings read back from a distilled model's manifest (protocol runs, a rule chosen again, the benchmarks)
    train from the labels unless the caller brings a teacher and sets the weight beside it."""
    assert training.TrainSettings.from_dict({"distillation_weight": 1.0, "epochs": 3}).distillation_weight == 0.0
    assert training.TrainSettings.from_dict({"distillation_weight": 1.0, "epochs": 3}).epochs == 3


def test_settings_and_fit_need_a_teacher_and_a_weight_together(prepared):
    for weight in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="distillation_weight"):
            training.TrainSettings(distillation_weight=weight)
    model = models.create("autointp", prepared.vocab_sizes, seed=0, **json.loads(TINY))
    teacher = models.create("autointp", prepared.vocab_sizes, seed=1, **json.loads(TINY))
    with pytest.raises(ValueError, match=r"no teacher and weight 1\.0"):
        training.fit(model, prepared, training.TrainSettings(epochs=1, distillation_weight=1.0), verbose=0)
    with pytest.raises(ValueError, match=r"a teacher and weight 0\.0"):
        training.fit(model, prepared, training.TrainSettings(epochs=1), verbose=0, teacher=teacher)


def test_a_distilled_fit_moves_the_student_towards_its_teacher_and_saves_none_of_it(prepared):
    """The same seed and data, with and without a teacher whose random weights say something the labels do not:
    taught, the student's logits end far nearer the teacher's (on validation rows, which neither trained on); the
    teacher is untouched and none of its weights joins the student's."""
    config = json.loads(TINY)
    teacher = randomised(models.create("autointp", prepared.vocab_sizes, seed=7, **{**config, "dnn_units": [32]}))
    teacher_weights = [w.numpy().copy() for w in teacher.weights]

    def student(weight: float):
        model = models.create("autointp", prepared.vocab_sizes, seed=0, **config)
        taught = training.TrainSettings(epochs=3, batch_size=256, learning_rate=0.01, refit=False,
                                        distillation_weight=weight)  # fmt: skip
        training.fit(model, prepared, taught, verbose=0, teacher=teacher if weight else None)
        return model

    plain, distilled = student(0.0), student(10.0)
    rows = prepared.part("validation").codes
    assert _gap(distilled, teacher, rows) < 0.5 * _gap(plain, teacher, rows)
    assert distilled.distillation is None
    assert len(distilled.weights) == len(plain.weights)
    for before, after in zip(teacher_weights, teacher.weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())


def test_a_refit_learns_from_the_teacher_it_is_given(prepared):
    config = json.loads(TINY)
    teacher = randomised(models.create("autointp", prepared.vocab_sizes, seed=7, **{**config, "dnn_units": [32]}))
    model = models.create("autointp", prepared.vocab_sizes, seed=0, **config)
    history = {"val_auc": [0.5, 0.6, 0.7], "learning_rate": [0.01] * 3}
    taught = training.TrainSettings(epochs=3, batch_size=256, distillation_weight=10.0)
    with pytest.raises(ValueError, match="no teacher"):
        training.refit(model, prepared, taught, history, verbose=0)
    fresh, _ = training.refit(model, prepared, taught, history, verbose=0, teacher=teacher)
    alone, _ = training.refit(model, prepared, training.TrainSettings(epochs=3, batch_size=256), history, verbose=0)
    rows = prepared.part("validation").codes
    assert _gap(fresh, teacher, rows) < 0.5 * _gap(alone, teacher, rows)
    assert fresh.distillation is None
