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
