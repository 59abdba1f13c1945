"""A deliberately straightforward AutoInt+, the yardstick for ``train_speed.py``.

It is written the way most public notebooks write it (and the way the course
project this app grew from did): one ``tensordot`` per projection (Q, K, V,
residual), heads split and stacked, and a plain ``fit`` on a pandas frame with
default compile settings. Same maths as ``autointp.AutoIntPlus``, none of its
speed work. Not used outside the benchmark.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


class ReferenceEmbedding(keras.layers.Layer):
    def __init__(self, vocab_sizes, dim, **kwargs):
        super().__init__(**kwargs)
        self.offsets = np.concatenate([[0], np.cumsum(vocab_sizes)[:-1]]).astype("int64")
        self.table = keras.layers.Embedding(int(sum(vocab_sizes)), dim)

    def call(self, x):
        return self.table(ops.cast(x, "int64") + self.offsets)


class ReferenceAttention(keras.layers.Layer):
    def __init__(self, width, heads, **kwargs):
        super().__init__(**kwargs)
        self.width, self.heads = width, heads

    def build(self, shape):
        d = shape[-1]
        out = self.width * self.heads
        self.wq = self.add_weight(shape=(d, out), initializer="glorot_uniform")
        self.wk = self.add_weight(shape=(d, out), initializer="glorot_uniform")
        self.wv = self.add_weight(shape=(d, out), initializer="glorot_uniform")
        self.wr = self.add_weight(shape=(d, out), initializer="glorot_uniform")

    def call(self, x):
        q = ops.tensordot(x, self.wq, axes=(-1, 0))
        k = ops.tensordot(x, self.wk, axes=(-1, 0))
        v = ops.tensordot(x, self.wv, axes=(-1, 0))
        q = ops.stack(ops.split(q, self.heads, axis=2))
        k = ops.stack(ops.split(k, self.heads, axis=2))
        v = ops.stack(ops.split(v, self.heads, axis=2))
        scores = ops.softmax(ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))), axis=-1)
        mixed = ops.matmul(scores, v)
        mixed = ops.concatenate(ops.split(mixed, self.heads, axis=0), axis=-1)[0]
        return ops.relu(mixed + ops.tensordot(x, self.wr, axes=(-1, 0)))


def reference_autointp(vocab_sizes, embedding_dim=16, layers=3, heads=2, width=8, dnn=(32, 32)) -> keras.Model:
    inputs = keras.Input((len(vocab_sizes),), dtype="int64")
    embedded = ReferenceEmbedding(vocab_sizes, embedding_dim)(inputs)
    hidden = embedded
    for _ in range(layers):
        hidden = ReferenceAttention(width, heads)(hidden)
    attention_logit = keras.layers.Dense(1)(keras.layers.Flatten()(hidden))
    deep = keras.layers.Flatten()(embedded)
    for units in dnn:
        deep = keras.layers.Dense(units, activation="relu")(deep)
    deep_logit = keras.layers.Dense(1)(deep)
    output = keras.layers.Activation("sigmoid")(keras.layers.Add()([attention_logit, deep_logit]))
    return keras.Model(inputs, output)
