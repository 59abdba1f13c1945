"""The Keras layers and both models, on random codes (no data set needed)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_fixtures import (
    BATCH,
    HISTORY,
    HISTORY_OPTIONS,
    MODELS,
    POOLINGS,
    PRIOR_OPTIONS,
    VOCAB,
    codes,
    history,
    inputs,
    small,
)

from autoint import PRIOR_SCALE, FieldEmbedding, HistoryPooling, InteractingLayer
from movierec.history import HISTORY_PER_PERSON

# Every model test runs on codes alone, with each pooling of a history, and with an EASE prior.
NO_HISTORY = [{}, *HISTORY_OPTIONS, *PRIOR_OPTIONS]

# --------------------------------------------------------------------- layers


def test_field_embedding_offsets_give_each_field_its_own_rows():
    layer = FieldEmbedding(VOCAB, 4, seed=1)
    x = np.zeros((1, len(VOCAB)), dtype="int32")
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (1, len(VOCAB), 4)
    table = keras.ops.convert_to_numpy(layer.embeddings)
    offsets = np.cumsum([0, *VOCAB[:-1]])
    np.testing.assert_allclose(out[0], table[offsets])
    assert len({tuple(row) for row in out[0]}) == len(VOCAB)  # code 0 of each field is a different row


def test_field_embedding_lookup_reads_one_fields_block_in_any_shape():
    layer = FieldEmbedding(VOCAB, 4, seed=1)
    movies = history(batch=3)  # (3, HISTORY) codes of field 1
    got = keras.ops.convert_to_numpy(layer.lookup(1, movies))
    assert got.shape == (3, HISTORY, 4)
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(layer.embeddings)[VOCAB[0] + movies])
    rows = codes(batch=3)
    np.testing.assert_allclose(  # the same vectors as the field's column of a plain call
        keras.ops.convert_to_numpy(layer.lookup(1, rows[:, 1])), keras.ops.convert_to_numpy(layer(rows))[:, 1]
    )


def test_field_embedding_rejects_wrong_field_count():
    with pytest.raises(ValueError, match="expected 6 fields"):
        FieldEmbedding(VOCAB, 4)(np.zeros((2, 5), dtype="int32"))


@pytest.mark.parametrize(("heads", "width"), [(1, 4), (2, 8), (3, 5)])
def test_interacting_layer_shapes_and_attention_rows_sum_to_one(heads, width):
    layer = InteractingLayer(width, heads, seed=0)
    x = np.random.default_rng(0).normal(size=(BATCH, 6, 10)).astype("float32")
    out, attention = layer(x, return_attention=True)
    assert tuple(out.shape) == (BATCH, 6, heads * width)
    assert tuple(attention.shape) == (BATCH, heads, 6, 6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(attention).sum(-1), 1.0, rtol=1e-5)
    assert layer.compute_output_shape((BATCH, 6, 10)) == (BATCH, 6, heads * width)
    assert (keras.ops.convert_to_numpy(out) >= 0).all()  # ReLU output


def test_residual_adds_a_projection_and_changes_the_output():
    x = np.random.default_rng(1).normal(size=(BATCH, 6, 10)).astype("float32")
    with_res = InteractingLayer(4, 2, use_residual=True, seed=5)
    without = InteractingLayer(4, 2, use_residual=False, seed=5)
    a, b = with_res(x), without(x)
    assert [w.name for w in with_res.weights] == ["qkv_kernel", "residual_kernel"]
    assert [w.name for w in without.weights] == ["qkv_kernel"]
    # same seed, same Q/K/V kernel: the only difference is the residual term
    np.testing.assert_allclose(keras.ops.convert_to_numpy(with_res.qkv_kernel), without.qkv_kernel.numpy())
    expected = np.maximum(
        0,
        keras.ops.convert_to_numpy(_pre_activation(without, x))
        + x @ keras.ops.convert_to_numpy(with_res.residual_kernel),
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(a), expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def _pre_activation(layer, x):
    """Attention output before ReLU, computed independently with numpy."""
    w = keras.ops.convert_to_numpy(layer.qkv_kernel)
    heads, width = layer.num_heads, layer.attention_dim
    qkv = (x @ w).reshape(x.shape[0], x.shape[1], 3, heads, width)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    scores = q @ k.transpose(0, 1, 3, 2)
    if layer.scaled:
        scores = scores / np.sqrt(width)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    attention = scores / scores.sum(-1, keepdims=True)
    return (attention @ v).transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[1], heads * width)


@pytest.mark.parametrize("scaled", [False, True])
def test_attention_matches_a_numpy_reference(scaled):
    x = np.random.default_rng(2).normal(size=(BATCH, 6, 10)).astype("float32")
    layer = InteractingLayer(4, 2, use_residual=False, scaled=scaled, seed=9)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), np.maximum(0, _pre_activation(layer, x)), rtol=1e-4, atol=1e-5
    )


def test_scaling_softens_attention():
    x = 3 * np.random.default_rng(3).normal(size=(BATCH, 6, 10)).astype("float32")
    plain = InteractingLayer(16, 1, scaled=False, seed=4)
    scaled = InteractingLayer(16, 1, scaled=True, seed=4)
    _, a = plain(x, return_attention=True)
    _, b = scaled(x, return_attention=True)
    # dividing scores by sqrt(16) makes the softmax flatter: lower maximum weight
    assert keras.ops.convert_to_numpy(b).max(-1).mean() < keras.ops.convert_to_numpy(a).max(-1).mean()


@pytest.mark.parametrize(
    "layer",
    [
        FieldEmbedding(VOCAB, 4, embeddings_l2=1e-3, seed=2),
        InteractingLayer(4, 3, use_residual=False, scaled=True, kernel_l2=1e-4, seed=2),
        HistoryPooling("attention"),
    ],
    ids=["FieldEmbedding", "InteractingLayer", "HistoryPooling"],
)
def test_layer_config_round_trip_is_complete(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("autoint>")
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


def test_embedding_l2_penalises_looked_up_rows_per_example():
    layer = FieldEmbedding(VOCAB, 4, embeddings_l2=0.5, seed=0)
    x = codes(batch=4)
    out = keras.ops.convert_to_numpy(layer(x))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), 0.5 * (out**2).sum() / 4, rtol=1e-5)


# --------------------------------------------------------------------- history pooling


def pooling_case(seed: int = 0, batch: int = 6, length: int = 5, dim: int = 3):
    """Items, a mask with an all-empty row (row 0) and a full row (row 1), and a query."""
    rng = np.random.default_rng(seed)
    items = rng.normal(size=(batch, length, dim)).astype("float32")
    mask = rng.random((batch, length)) < 0.6
    mask[0], mask[1] = False, True
    return items, mask, rng.normal(size=(batch, dim)).astype("float32")


def reference_weights(mode: str, items, mask, query) -> np.ndarray:
    """The pooling weights straight from the definitions, one row at a time."""
    out = np.zeros(mask.shape, dtype="float64")
    for row, present in enumerate(mask):
        if not present.any():
            continue
        if mode == "mean":
            out[row, present] = 1 / present.sum()
        else:
            scores = items[row, present] @ query[row] / np.sqrt(items.shape[-1])
            out[row, present] = np.exp(scores) / np.exp(scores).sum()
    return out


@pytest.mark.parametrize("mode", POOLINGS)
def test_history_pooling_matches_a_numpy_reference(mode):
    items, mask, query = pooling_case()
    pooled, weights = HistoryPooling(mode)(items, mask, query=query, return_weights=True)
    expected = reference_weights(mode, items, mask, query)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weights), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(pooled), np.einsum("bl,bld->bd", expected, items), rtol=1e-5, atol=1e-6
    )
    assert HistoryPooling(mode).compute_output_shape(items.shape) == (6, 3)


@pytest.mark.parametrize("mode", POOLINGS)
def test_history_pooling_ignores_what_is_in_empty_slots(mode):
    items, mask, query = pooling_case(seed=1)
    layer = HistoryPooling(mode)
    changed = np.where(mask[..., None], items, 1e4)  # huge values would overflow an unmasked softmax
    for a, b in zip(
        layer(items, mask.astype("int32"), query=query, return_weights=True),  # a 0/1 mask works as well
        layer(changed, mask, query=query, return_weights=True),
        strict=True,
    ):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-6)


@pytest.mark.parametrize("mode", POOLINGS)
def test_an_empty_history_pools_to_zeros_with_finite_gradients(mode):
    items, _, query = pooling_case(seed=2)
    items, query = tf.constant(items), tf.constant(query)
    with tf.GradientTape() as tape:
        tape.watch([items, query])
        pooled, weights = HistoryPooling(mode)(items, np.zeros((6, 5), bool), query=query, return_weights=True)
    gradients = tape.gradient(pooled, [items, query])
    assert not np.asarray(pooled).any() and not np.asarray(weights).any()
    assert all(np.isfinite(np.asarray(g)).all() for g in gradients if g is not None)


def test_attention_weights_sum_to_one_over_the_present_items():
    items, mask, query = pooling_case(seed=3, batch=20)
    _, weights = HistoryPooling("attention")(items, mask, query=query, return_weights=True)
    weights = keras.ops.convert_to_numpy(weights)
    np.testing.assert_allclose(weights[mask.any(-1)].sum(-1), 1.0, rtol=1e-5)
    assert not weights[~mask].any() and (weights[mask] > 0).all()


def test_history_pooling_rejects_an_unknown_mode_and_attention_without_a_query():
    with pytest.raises(ValueError, match="history pooling must be one of"):
        HistoryPooling("max")
    items, mask, _ = pooling_case()
    with pytest.raises(ValueError, match="needs a query"):
        HistoryPooling("attention")(items, mask)


# --------------------------------------------------------------------- models


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("options", NO_HISTORY)
def test_model_outputs_probabilities(model_class, options):
    model = small(model_class, **options)
    out = keras.ops.convert_to_numpy(model(inputs(model)))
    assert out.shape == (BATCH, 1)
    assert ((out > 0) & (out < 1)).all()


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("options", NO_HISTORY)
def test_attention_maps_are_retrievable(model_class, options):
    model = small(model_class, attention_layers=3, num_heads=2, **options)
    maps = model.attention_maps(inputs(model))
    assert len(maps) == 3
    fields = len(VOCAB) + bool(options.get("history_length"))  # a history is one more field, a prior none
    for attention in maps:
        attention = keras.ops.convert_to_numpy(attention)
        assert attention.shape == (BATCH, 2, fields, fields)
        np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize(
    "options", [{}, {"use_residual": False}, {"scaled": True}, {"use_linear": False}, *HISTORY_OPTIONS, *PRIOR_OPTIONS]
)
def test_gradient_reaches_every_weight(model_class, options):
    model = small(model_class, **options)
    x, y = inputs(model), np.ones((BATCH, 1), dtype="float32")
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(y, model(x, training=True))
    gradients = tape.gradient(loss, model.trainable_weights)
    for weight, gradient in zip(model.trainable_weights, gradients, strict=True):
        assert gradient is not None, weight.path
        assert float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(gradient)))) > 0, weight.path


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("options", NO_HISTORY)
def test_config_round_trip_gives_identical_outputs(model_class, options):
    model = small(model_class, dropout=0.1, embeddings_l2=1e-4, scaled=True, **options)
    clone = model_class.from_config(model.get_config())
    x = inputs(model)
    clone(x)
    clone.set_weights(model.get_weights())
    assert clone.get_config() == model.get_config()
    for option, value in options.items():  # every option survives the trip, not only by falling back to its default
        assert model.get_config()[option] == value and getattr(clone, option) == value, option
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(clone(x)))


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("options", NO_HISTORY)
def test_weights_save_load_round_trip(model_class, options, tmp_path):
    model = small(model_class, **options)
    x = inputs(model)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    fresh = model_class.built(**{**model.get_config(), "seed": 99})
    assert not np.allclose(keras.ops.convert_to_numpy(fresh(x)), keras.ops.convert_to_numpy(model(x)))
    fresh.load_weights(path)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fresh(x)), keras.ops.convert_to_numpy(model(x)))


@pytest.mark.parametrize("model_class", MODELS)
def test_same_seed_same_model_different_seed_different_model(model_class):
    a, b, c = small(model_class, seed=11), small(model_class, seed=11), small(model_class, seed=12)
    out = [keras.ops.convert_to_numpy(m(codes())) for m in (a, b, c)]
    np.testing.assert_array_equal(out[0], out[1])
    assert not np.allclose(out[0], out[2])


@pytest.mark.parametrize("model_class", MODELS)
def test_a_few_steps_of_training_learn_a_planted_rule(model_class):
    rng = np.random.default_rng(0)
    x = np.stack([rng.integers(0, v, 2048) for v in VOCAB], axis=1).astype("int32")
    y = ((x[:, 0] % 2) == (x[:, 1] % 2)).astype("float32")  # an interaction of fields 0 and 1
    model = small(model_class)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=256, verbose=0)
    assert history.history["accuracy"][-1] > 0.95


# --------------------------------------------------------------------- models with a history

# The weights of the small models as the code before history fields made them: a model without a history
# must keep exactly these (paths are what .weights.h5 files are read by), and a history adds none.
AUTOINT_WEIGHTS = [
    ("embedding/embeddings", (27, 8)), ("interacting_0/qkv_kernel", (8, 24)),
    ("interacting_0/residual_kernel", (8, 8)), ("interacting_1/qkv_kernel", (8, 24)),
    ("interacting_1/residual_kernel", (8, 8)), ("attention_logit/kernel", (48, 1)), ("attention_logit/bias", (1,)),
    ("linear/embeddings", (27, 1)),
]  # fmt: skip
TOWER_WEIGHTS = [
    ("dnn/dense_0/kernel", (48, 16)), ("dnn/dense_0/bias", (16,)), ("dnn/dense_1/kernel", (16, 8)),
    ("dnn/dense_1/bias", (8,)), ("dnn/logit/kernel", (8, 1)), ("dnn/logit/bias", (1,)),
]  # fmt: skip
EXPECTED_WEIGHTS = {"AutoInt": AUTOINT_WEIGHTS, "AutoIntPlus": AUTOINT_WEIGHTS + TOWER_WEIGHTS}


def weight_list(model) -> list[tuple[str, tuple]]:
    return [(w.path.split("/", 1)[1], tuple(w.shape)) for w in model.weights]  # without the model's own name


@pytest.mark.parametrize("model_class", MODELS)
def test_without_a_history_the_weights_are_exactly_as_before(model_class):
    assert weight_list(small(model_class)) == EXPECTED_WEIGHTS[model_class.__name__]
    assert weight_list(small(model_class, history_length=0, history_pooling="attention")) == weight_list(
        small(model_class)
    )


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("mode", POOLINGS)
def test_a_history_adds_one_field_and_no_weights(model_class, mode):
    wider = {"attention_logit/kernel": (56, 1), "dnn/dense_0/kernel": (56, 16)}  # 7 field vectors of 8, not 6
    expected = [(path, wider.get(path, shape)) for path, shape in EXPECTED_WEIGHTS[model_class.__name__]]
    assert weight_list(small(model_class, history_length=HISTORY, history_pooling=mode)) == expected


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("mode", POOLINGS)
def test_the_output_depends_on_the_history(model_class, mode):
    model = small(model_class, history_length=HISTORY, history_pooling=mode)
    x = codes()
    a = keras.ops.convert_to_numpy(model({"codes": x, "history": np.full((BATCH, HISTORY), 1, "int32")}))
    b = keras.ops.convert_to_numpy(model({"codes": x, "history": np.full((BATCH, HISTORY), 2, "int32")}))
    assert np.abs(a - b).min() > 0


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("mode", POOLINGS)
def test_history_weights_are_retrievable_per_row(model_class, mode):
    model = small(model_class, history_length=HISTORY, history_pooling=mode)
    x = inputs(model, batch=32)
    x["history"][0] = 0  # an empty history
    weights = keras.ops.convert_to_numpy(model.history_weights(x))
    assert weights.shape == (32, HISTORY)
    present = x["history"] != 0
    assert not weights[~present].any()
    np.testing.assert_allclose(weights[present.any(-1)].sum(-1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="reads no history"):
        small(model_class).history_weights(codes())


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("mode", POOLINGS)
def test_a_history_shared_by_a_rated_row_and_its_negatives_equals_a_copy_per_row(model_class, mode):
    """Training passes one history per rated row, its k negatives after the rated rows, k each: every output,
    history weight and gradient is what the same rows give with the history copied to each row."""
    k, people = 3, 8
    model = small(model_class, history_length=HISTORY, history_pooling=mode, ease_l2=50.0)
    rows = codes(batch=people * (k + 1))
    past = history(batch=people)
    past[0] = 0  # an empty history among them
    prior = np.random.default_rng(1).normal(size=len(rows)).astype("float32")
    person = np.concatenate([np.arange(people), np.repeat(np.arange(people), k)])
    shared = {"codes": rows, HISTORY_PER_PERSON: past, "prior": prior}
    copied = {"codes": rows, "history": past[person], "prior": prior}
    # Compiled with unknown batch sizes, as a training step is, both layouts give the same outputs.
    signature = {"codes": tf.TensorSpec((None, len(VOCAB)), tf.int32), "prior": tf.TensorSpec((None,), tf.float32)}
    compiled = {key: tf.function(lambda inputs: model(inputs, training=False),
                                 input_signature=[{**signature, key: tf.TensorSpec((None, HISTORY), tf.int32)}])
                for key in (HISTORY_PER_PERSON, "history")}  # fmt: skip
    np.testing.assert_allclose(compiled[HISTORY_PER_PERSON](shared), compiled["history"](copied), rtol=1e-5, atol=1e-6)

    def gradients(x):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = keras.ops.sum(out * np.linspace(0.5, 1.5, len(rows), dtype="float32")[:, None])
        return out, tape.gradient(loss, model.trainable_weights)

    (out_shared, grad_shared), (out_copied, grad_copied) = gradients(shared), gradients(copied)
    np.testing.assert_allclose(out_shared, out_copied, rtol=1e-5, atol=1e-6)
    for a, b in zip(grad_shared, grad_copied, strict=True):
        np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.history_weights(shared), model.history_weights(copied), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="'history_per_person' holds 5 histories, which cannot serve 32 code rows"):
        model({**shared, HISTORY_PER_PERSON: past[:5]})
    with pytest.raises(ValueError, match=r"takes a dict with keys \['codes', 'history', 'prior'\]"):
        model({**copied, HISTORY_PER_PERSON: past})  # both kinds at once


@pytest.mark.parametrize("model_class", MODELS)
def test_a_history_model_needs_codes_and_history(model_class):
    model = small(model_class, history_length=HISTORY)
    with pytest.raises(ValueError, match=r"takes a dict with keys \['codes', 'history'\], got EagerTensor"):
        model(codes())
    with pytest.raises(ValueError, match="history_length must be 0"):
        small(model_class, history_length=-1)
    with pytest.raises(ValueError, match="history_field 6 is not one of the 6 fields"):
        small(model_class, history_length=HISTORY, history_field=6)


@pytest.mark.parametrize("model_class", MODELS)
def test_a_prior_model_needs_the_prior_and_adds_it_to_the_logits(model_class):
    model = small(model_class, ease_l2=50.0)
    x = inputs(model)
    with pytest.raises(ValueError, match=r"keys \['codes', 'prior'\], got \['codes'\]"):
        model({"codes": x["codes"]})
    with pytest.raises(ValueError, match="ease_l2 must be 0"):
        small(model_class, ease_l2=-1.0)
    with pytest.raises(ValueError, match="prior_profile_power must be a finite number"):
        small(model_class, ease_l2=50.0, prior_profile_power=float("nan"))
    for bad in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"ease_disliked_weight must be in \(0, 1\]"):
            small(model_class, ease_l2=50.0, ease_disliked_weight=bad)
    for option in ("ranking_like_exponent", "ranking_prior_gain"):
        for bad in (-0.5, float("inf"), float("nan"), "2", True, None):
            with pytest.raises(ValueError, match=f"{option} must be a finite number >= 0"):
                small(model_class, ease_l2=50.0, **{option: bad})
    # Starts at zero weight (the network alone), and a weight w adds w * PRIOR_SCALE * prior to each logit.
    np.testing.assert_allclose(model.logits({**x, "prior": x["prior"] + 1.0}), model.logits(x), rtol=1e-6)
    model.prior_logit.kernel.assign(np.full((1, 1), 0.5, "float32"))
    shift = np.asarray(model.logits({**x, "prior": x["prior"] + 1.0})) - np.asarray(model.logits(x))
    np.testing.assert_allclose(shift, 0.5 * PRIOR_SCALE, rtol=1e-5)


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("mode", POOLINGS)
def test_gradient_reaches_the_movies_seen_only_in_the_history(model_class, mode):
    model = small(model_class, history_length=HISTORY, history_pooling=mode)
    x = codes()
    x[:, 1] = 1  # every row's own movie is movie 1; the history holds only movies 2 to 4
    rows = {"codes": x, "history": np.random.default_rng(0).integers(2, VOCAB[1], (BATCH, HISTORY)).astype("int32")}
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(np.ones((BATCH, 1), "float32"), model(rows, training=True))
    gradient = np.asarray(tf.convert_to_tensor(tape.gradient(loss, model.embedding.embeddings)))
    movie_rows = VOCAB[0] + np.arange(2, VOCAB[1])  # the movie field's block starts after field 0's
    assert (np.abs(gradient[movie_rows]).sum(-1) > 0).all()


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("mode", POOLINGS)
def test_a_few_steps_of_training_learn_a_rule_that_needs_the_history(model_class, mode):
    rng = np.random.default_rng(0)
    x = np.stack([rng.integers(0, v, 2048) for v in VOCAB], axis=1).astype("int32")
    x[:, 1] = rng.integers(1, VOCAB[1], 2048)  # a known candidate movie
    past = rng.integers(0, VOCAB[1], (2048, 3)).astype("int32")
    y = (past == x[:, 1:2]).any(-1).astype("float32")  # liked when the candidate is among the rated movies
    assert 0.4 < y.mean() < 0.6
    keras.utils.set_random_seed(0)  # fit shuffles the rows: seeded, so the test does not depend on the order run
    model = small(model_class, history_length=3, history_pooling=mode)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit({"codes": x, "history": past}, y, epochs=15, batch_size=256, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
