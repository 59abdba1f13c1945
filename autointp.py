"""AutoInt+: AutoInt with a parallel deep network.

The paper's AutoInt+ runs a plain feed-forward tower over the concatenated
field embeddings beside the attention stack and adds the two logits. The
attention captures explicit, inspectable field-pair interactions; the DNN
picks up implicit ones that the attention misses. Everything but the tower is
AutoInt's, imported, not repeated.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from autoint import PACKAGE, AutoInt, _seeded, config_with


@keras.saving.register_keras_serializable(package=PACKAGE)
class DNNTower(keras.layers.Layer):
    """Dense ReLU layers (optionally batch-normalised, with dropout) ending in ``num_outputs`` logits."""

    def __init__(
        self,
        units: Sequence[int] = (32, 32),
        dropout: float = 0.0,
        batch_norm: bool = False,
        kernel_l2: float = 0.0,
        num_outputs: int = 1,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = [int(u) for u in units]
        self.num_outputs = int(num_outputs)
        self.dropout = float(dropout)
        self.batch_norm = bool(batch_norm)
        self.kernel_l2 = float(kernel_l2)
        self.seed = seed
        regularizer = keras.regularizers.L2(self.kernel_l2) if self.kernel_l2 else None
        # One flat list: (Dense, [BatchNorm], ReLU, [Dropout]) per hidden layer.
        self.hidden = []
        for i, width in enumerate(self.units):
            self.hidden.append(
                keras.layers.Dense(
                    width,
                    use_bias=not self.batch_norm,
                    kernel_initializer=_seeded("HeNormal", seed, 100 + i),
                    kernel_regularizer=regularizer,
                    name=f"dense_{i}",
                )
            )
            if self.batch_norm:
                self.hidden.append(keras.layers.BatchNormalization(name=f"batch_norm_{i}"))
            self.hidden.append(keras.layers.Activation("relu", name=f"relu_{i}"))
            if self.dropout:
                seed_i = None if seed is None else seed + 200 + i
                self.hidden.append(keras.layers.Dropout(self.dropout, seed=seed_i, name=f"dropout_{i}"))
        self.logit = keras.layers.Dense(
            self.num_outputs, kernel_initializer=_seeded("GlorotUniform", seed, 300), name="logit"
        )

    def call(self, inputs, training: bool = False):
        hidden = inputs
        for layer in self.hidden:
            hidden = layer(hidden, training=training)
        return self.logit(hidden)

    @property
    def first_dense(self) -> keras.layers.Dense:
        return self.hidden[0] if self.hidden else self.logit

    def from_first_product(self, product, training: bool = False):
        """The tower's output given ``inputs @ first_dense.kernel``, computed by the caller.

        The first layer is linear in its input, so a caller that knows the
        input in parts (a person's share and a movie's) can sum their products.
        """
        first = self.first_dense
        hidden = product + first.bias if first.use_bias else product
        if first is self.logit:
            return hidden
        for layer in self.hidden[1:]:
            hidden = layer(hidden, training=training)
        return self.logit(hidden)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_outputs)

    def get_config(self):
        return config_with(
            self, super().get_config(), ("units", "dropout", "batch_norm", "kernel_l2", "num_outputs", "seed")
        )


@keras.saving.register_keras_serializable(package=PACKAGE)
class AutoIntPlus(AutoInt):
    """AutoInt whose logit also gets a DNN tower over the flattened field embeddings."""

    def __init__(
        self, vocab_sizes: Sequence[int], dnn_units: Sequence[int] = (32, 32), batch_norm: bool = False, **kwargs
    ):
        super().__init__(vocab_sizes, **kwargs)
        self.dnn_units = [int(u) for u in dnn_units]
        self.batch_norm = bool(batch_norm)
        self.tower = DNNTower(
            self.dnn_units,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            kernel_l2=self.kernel_l2,
            num_outputs=self.num_outputs,
            seed=None if self.seed is None else self.seed + 1000,
            name="dnn",
        )

    def extra_logit(self, embeddings, training: bool = False):
        flat = ops.reshape(embeddings, (ops.shape(embeddings)[0], -1))
        return self.tower(flat, training=training)

    def get_config(self):
        return config_with(self, super().get_config(), ("dnn_units", "batch_norm"))
