"""AutoInt+'s own pieces: the DNN tower and what it adds to AutoInt."""

import keras
import numpy as np
import pytest
from model_fixtures import BATCH, small

from autoint import AutoInt
from autointp import AutoIntPlus, DNNTower


def test_dnn_tower_shapes_and_batch_norm():
    tower = DNNTower([8, 4], dropout=0.5, batch_norm=True, seed=1)
    out = tower(np.ones((BATCH, 12), dtype="float32"), training=True)
    assert tuple(out.shape) == (BATCH, 1)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in tower.hidden)

def test_dnn_tower_config_round_trip_is_complete():
    layer = DNNTower([8, 4], dropout=0.1, batch_norm=True, kernel_l2=1e-4, num_outputs=2, seed=2)
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "autoint>DNNTower"
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


@pytest.mark.parametrize("units", [[], [8], [8, 4]])
def test_the_first_product_path_equals_the_plain_call(units):
    tower = DNNTower(units, batch_norm=True, seed=4)
    x = np.random.default_rng(0).normal(size=(BATCH, 12)).astype("float32")
    expected = keras.ops.convert_to_numpy(tower(x))
    product = x @ keras.ops.convert_to_numpy(tower.first_dense.kernel)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tower.from_first_product(product)), expected, rtol=1e-5)


def test_autoint_plus_adds_a_tower_and_nothing_else():
    base, plus = small(AutoInt), small(AutoIntPlus)
    base_names = {w.path.split("/", 1)[1] for w in base.weights}
    plus_names = {w.path.split("/", 1)[1] for w in plus.weights}
    assert base_names < plus_names
    assert all(name.startswith("dnn/") for name in plus_names - base_names)

