"""Scoring in parts (the per-movie cache) equals scoring assembled rows, for every model option."""

import keras
import numpy as np
import pytest
from model_fixtures import (
    HISTORY,
    HISTORY_OPTIONS,
    MODELS,
    POOLINGS,
    PRIOR_OPTIONS,
    VOCAB,
    codes,
    history,
    log_ranked,
    prior,
    randomised,
    small,
)

from autointp import AutoIntPlus
from movierec.scoring import CandidateScorer, candidate_parts, predict_rows, ranked_by, score_candidates


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize(
    "options",
    [{}, {"attention_layers": 1}, {"attention_layers": 0}, {"use_residual": False}, {"scaled": True},
     {"use_linear": False}, {"rated_head": True}, {"ordinal": True}],
)  # fmt: skip
def test_scoring_candidates_in_parts_equals_scoring_assembled_rows(model_class, options):
    model = randomised(small(model_class, **options))
    candidate_fields = [1, 3, 4]  # interleaved with the shared ones, as the movie fields are
    candidates, people = codes(seed=1, batch=10), codes(seed=2, batch=3)
    parts = candidate_parts(model, candidates, candidate_fields)
    got = np.asarray(score_candidates(model, people, parts, candidate_fields))
    assert got.shape == (3, 10)
    shared = [i for i in range(len(VOCAB)) if i not in candidate_fields]
    for person, scores in zip(people, got, strict=True):
        rows = candidates.copy()
        rows[:, shared] = person[shared]
        np.testing.assert_allclose(scores, log_ranked(np.asarray(model(rows))), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", [{"batch_norm": True}, {"dnn_units": []}, {"dnn_units": [16], "dropout": 0.3}])
def test_scoring_candidates_in_parts_covers_every_tower_shape(options):
    model = randomised(small(AutoIntPlus, **options), seed=5)
    candidates, people = codes(seed=3, batch=6), codes(seed=4, batch=2)
    parts = candidate_parts(model, candidates, [0, 2])
    got = np.asarray(score_candidates(model, people, parts, [0, 2]))
    for person, scores in zip(people, got, strict=True):
        rows = candidates.copy()
        rows[:, [1, 3, 4, 5]] = person[[1, 3, 4, 5]]
        np.testing.assert_allclose(scores, log_ranked(np.asarray(model(rows))), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("history_options", HISTORY_OPTIONS, ids=POOLINGS)
@pytest.mark.parametrize("options", [{}, {"attention_layers": 0}, {"use_residual": False}, {"rated_head": True}])
def test_scoring_candidates_with_a_history_equals_scoring_assembled_rows(model_class, history_options, options):
    """A mean-pooled history joins the person's fields, an attention-pooled one is scored per pair: both exact."""
    model = randomised(small(model_class, **history_options, **options), seed=7)
    candidate_fields = [1, 3, 4]  # field 1 is the movie, the history's field and attention's query
    candidates, people = codes(seed=1, batch=10), codes(seed=2, batch=3)
    past = history(seed=2, batch=3)
    past[2] = 0  # a person with no history at all
    parts = candidate_parts(model, candidates, candidate_fields)
    got = np.asarray(score_candidates(model, people, parts, candidate_fields, past))
    shared = [i for i in range(len(VOCAB)) if i not in candidate_fields]
    for person, own_past, scores in zip(people, past, got, strict=True):
        rows = candidates.copy()
        rows[:, shared] = person[shared]
        direct = model({"codes": rows, "history": np.repeat(own_past[None], len(rows), axis=0)})
        np.testing.assert_allclose(scores, log_ranked(np.asarray(direct)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("prior_options", PRIOR_OPTIONS, ids=["prior", "prior and history"])
@pytest.mark.parametrize("options", [{}, {"rated_head": True}])
def test_scoring_candidates_with_a_prior_equals_scoring_assembled_rows(model_class, prior_options, options):
    """The prior differs per (person, candidate): the cache adds its share to each pair's logits, exactly."""
    model = randomised(small(model_class, **prior_options, **options), seed=9)
    candidate_fields = [1, 3, 4]
    candidates, people = codes(seed=1, batch=10), codes(seed=2, batch=3)
    past = history(seed=2, batch=3) if model.history_length else None
    priors = prior(seed=3, batch=30).reshape(3, 10)
    parts = candidate_parts(model, candidates, candidate_fields)
    got = np.asarray(score_candidates(model, people, parts, candidate_fields, past, priors))
    shared = [i for i in range(len(VOCAB)) if i not in candidate_fields]
    for i, (person, scores) in enumerate(zip(people, got, strict=True)):
        rows = candidates.copy()
        rows[:, shared] = person[shared]
        direct = {"codes": rows, "prior": priors[i]}
        if past is not None:
            direct["history"] = np.repeat(past[i][None], len(rows), axis=0)
        np.testing.assert_allclose(scores, log_ranked(np.asarray(model(direct))), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pass prior"):
        score_candidates(model, people, parts, candidate_fields, past)
    with pytest.raises(ValueError, match=r"pass \['prior'\]"):
        predict_rows(model, candidates, history=None if past is None else np.repeat(past[:1], 10, axis=0))


@pytest.mark.parametrize("model_class", MODELS)
def test_a_history_model_needs_the_history(model_class):
    model = small(model_class, history_length=HISTORY)
    parts = candidate_parts(model, codes(), [1, 3])
    with pytest.raises(ValueError, match="pass history"):
        score_candidates(model, codes(), parts, [1, 3])
    with pytest.raises(ValueError, match=r"pass \['history'\]"):
        predict_rows(model, codes())


@pytest.fixture(scope="module")
def small_model(prepared):
    from movierec import models

    return models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4, attention_layers=2,
                         num_heads=2, attention_dim=2, dnn_units=[8])  # fmt: skip


@pytest.mark.parametrize(("movies", "people_per_call"), [(1, 1), (7, 2), (None, 16)])
def test_candidate_scorer_equals_the_model_on_assembled_rows(small_model, prepared, ml1m, movies, people_per_call):
    """Any catalogue size (split into halves or not) and any number of users per call."""
    encoder = prepared.encoder
    catalogue = ml1m.movies.head(movies) if movies else ml1m.movies
    scorer = CandidateScorer(small_model, encoder, catalogue, people_per_call=people_per_call)
    users = encoder.encode_users(ml1m.users.head(5))
    context = encoder.encode_context([2000, 2001, 2001, 2002, 2003], [1, 5, 12, 6, 2])
    got = scorer.score(users, context)
    assert got.shape == (5, len(catalogue))
    n = len(catalogue)
    rows = encoder.assemble(
        np.repeat(users, n, axis=0), np.tile(encoder.encode_movies(catalogue), (5, 1)), np.repeat(context, n, axis=0)
    )
    direct = log_ranked(np.asarray(small_model(rows)))
    np.testing.assert_allclose(got.ravel(), direct, rtol=1e-5, atol=1e-6)


def test_predict_rows_gives_the_like_probability_in_any_batch_size(small_model, prepared):
    codes = prepared.part("test").codes[:50]
    expected = np.asarray(small_model(codes))[:, 0]
    for batch_size in (7, 50, 1000):
        np.testing.assert_allclose(predict_rows(small_model, codes, batch_size=batch_size), expected, rtol=1e-6)


def test_the_catalogue_scorer_says_what_history_shape_it_needs(prepared, ml1m):
    from movierec import models

    model = models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4, attention_layers=1,
                          num_heads=1, attention_dim=2, dnn_units=[8], history_length=6)  # fmt: skip
    scorer = CandidateScorer(model, prepared.encoder, ml1m.movies.head(5))
    users = prepared.encoder.encode_users(ml1m.users.head(2))
    context = prepared.encoder.encode_context([2000, 2000], [1, 2])
    for bad in (None, np.zeros((2, 5), np.int32), np.zeros((3, 6), np.int32)):
        with pytest.raises(ValueError, match=r"a history of 6 movie codes per user: expected shape \(2, 6\)"):
            scorer.score(users, context, bad)
    assert scorer.score(users, context, np.zeros((2, 6), np.int32)).shape == (2, 5)


def test_the_catalogue_scorer_takes_a_prior_per_movie(prepared, ml1m):
    from movierec import models

    model = models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4, attention_layers=1,
                          num_heads=1, attention_dim=2, dnn_units=[8], ease_l2=10.0)  # fmt: skip
    randomised(model, seed=4)
    catalogue = ml1m.movies.head(7)
    scorer = CandidateScorer(model, prepared.encoder, catalogue)
    users = prepared.encoder.encode_users(ml1m.users.head(2))
    context = prepared.encoder.encode_context([2000, 2000], [1, 2])
    for bad in (None, np.zeros((2, 6), np.float32), np.zeros((1, 7), np.float32)):
        with pytest.raises(ValueError, match=r"an EASE prior per movie: expected shape \(2, 7\)"):
            scorer.score(users, context, prior=bad)
    priors = prior(seed=5, batch=14).reshape(2, 7)
    got = scorer.score(users, context, prior=priors)
    movies = np.tile(prepared.encoder.encode_movies(catalogue), (2, 1))
    rows = prepared.encoder.assemble(np.repeat(users, 7, axis=0), movies, np.repeat(context, 7, axis=0))
    direct = log_ranked(np.asarray(model({"codes": rows, "prior": priors.ravel()})))
    np.testing.assert_allclose(got.ravel(), direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(scorer.candidate_codes, prepared.encoder.encode_movies(catalogue)[:, 0])


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize(("like_exponent", "prior_gain"), [(1.0, 1.0), (0.5, 2.0), (0.0, 1.0), (0.25, 0.5)])
def test_the_ranking_rule_reweighs_the_like_output_and_the_prior_and_nothing_else(
    model_class, like_exponent, prior_gain
):
    """Scores follow P(rated) x P(like) ** exponent with the prior's logits x gain; the model's outputs never move."""
    model = randomised(small(model_class, ease_l2=50.0, rated_head=True), seed=11)
    model.prior_logit.kernel.assign(np.array([[0.7, 1.3]], "float32"))
    candidate_fields = [1, 3, 4]
    candidates, people = codes(seed=1, batch=10), codes(seed=2, batch=3)
    priors = prior(seed=3, batch=30).reshape(3, 10)
    parts = candidate_parts(model, candidates, candidate_fields)
    outputs_before = np.asarray(model({"codes": candidates, "prior": priors[0]}))
    model.ranking_like_exponent, model.ranking_prior_gain = like_exponent, prior_gain
    got = np.asarray(score_candidates(model, people, parts, candidate_fields, prior=priors))
    logit, prior_logit = (np.asarray(t) for t in score_candidates(model, people, parts, candidate_fields,
                                                                    prior=priors, terms=True))  # fmt: skip
    assert logit.shape == prior_logit.shape == (3, 10, 2)
    shared = [i for i in range(len(VOCAB)) if i not in candidate_fields]
    for i, person in enumerate(people):
        rows = candidates.copy()
        rows[:, shared] = person[shared]
        direct = {"codes": rows, "prior": priors[i]}
        network = np.asarray(model.logits(direct)) - np.asarray(model.prior_term(priors[i]))
        np.testing.assert_allclose(logit[i], network, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(prior_logit[i], np.asarray(model.prior_term(priors[i])), rtol=1e-5, atol=1e-6)
        total = (network + prior_gain * np.asarray(model.prior_term(priors[i]))).astype(np.float64)
        probabilities = 1.0 / (1.0 + np.exp(-total))
        expected = np.log(probabilities[:, 1] * probabilities[:, 0] ** like_exponent)  # ranked on the log scale
        np.testing.assert_allclose(got[i], expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ranked_by(logit[i], prior_logit[i], like_exponent, prior_gain), expected,
                                   rtol=1e-5, atol=1e-5)  # fmt: skip
    np.testing.assert_array_equal(np.asarray(model({"codes": candidates, "prior": priors[0]})), outputs_before)
    clone = model_class.from_config(model.get_config())
    assert (clone.ranking_like_exponent, clone.ranking_prior_gain) == (like_exponent, prior_gain)


def test_the_catalogue_scorer_gives_the_terms_its_scores_are_ranked_by(prepared, ml1m):
    from movierec import models

    model = models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4, attention_layers=1,
                          num_heads=1, attention_dim=2, dnn_units=[8], ease_l2=10.0, rated_head=True,
                          ranking_like_exponent=0.5, ranking_prior_gain=3.0)  # fmt: skip
    randomised(model, seed=4)
    scorer = CandidateScorer(model, prepared.encoder, ml1m.movies.head(9), people_per_call=2)
    users = prepared.encoder.encode_users(ml1m.users.head(5))
    context = prepared.encoder.encode_context([2000] * 5, [1, 2, 3, 4, 5])
    priors = prior(seed=5, batch=45).reshape(5, 9)
    logit, prior_logit = scorer.score_terms(users, context, prior=priors)
    assert logit.shape == prior_logit.shape == (5, 9, 2)
    again = ranked_by(logit.reshape(-1, 2), prior_logit.reshape(-1, 2), 0.5, 3.0).reshape(5, 9)
    np.testing.assert_allclose(scorer.score(users, context, prior=priors), again, rtol=1e-5, atol=1e-7)


def test_the_catalogue_scorer_orders_movies_whose_probabilities_saturate(prepared, ml1m):
    """A large prior drives P(rated) to exactly 1 in float32; the log-scale scores still follow the prior."""
    from movierec import models

    model = models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4, attention_layers=1,
                          num_heads=1, attention_dim=2, dnn_units=[8], ease_l2=10.0, rated_head=True,
                          ranking_like_exponent=0.0)  # fmt: skip
    randomised(model, seed=4)
    model.prior_logit.kernel.assign(np.array([[0.0, 4.0]], "float32"))  # 40 logits of P(rated) per unit of prior
    scorer = CandidateScorer(model, prepared.encoder, ml1m.movies.head(6))
    users = prepared.encoder.encode_users(ml1m.users.head(1))
    context = prepared.encoder.encode_context([2000], [1])
    priors = np.array([[0.5, 0.625, 0.75, 0.875, 1.0, 1.125]], "float32")  # logits about 20-45: sigmoid is 1.0
    logit, prior_logit = scorer.score_terms(users, context, prior=priors)
    assert (np.asarray(keras.ops.sigmoid(logit + prior_logit))[0, :, 1] == 1.0).all()  # the probabilities tie
    scores = scorer.score(users, context, prior=priors)[0]
    assert (np.diff(scores) > 0).all()  # the log scale still ranks by the prior
