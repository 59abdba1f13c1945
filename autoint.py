"""AutoInt: automatic feature interaction learning via self-attention.

Song et al., "AutoInt: Automatic Feature Interaction Learning via
Self-Attentive Neural Networks", CIKM 2019.

Every input field (user, movie, genre, age, ...) becomes one embedding vector.
An *interacting layer* lets each field attend to every other field with
multi-head self-attention, so a field's new representation is a learned mix
of the fields it interacts with; stacking layers builds higher-order
interactions. A residual projection keeps the field's own signal. The final
field vectors are flattened into a logistic output.

The layers are written on ``keras.ops`` only and registered as serializable,
with complete configs, so models rebuild from the JSON manifests that sit
next to their ``.weights.h5`` files.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

PACKAGE = "autoint"
RATING_CUTS = (2.0, 3.0, 4.0, 5.0)  # cut-points of the ordinal head
LIKE_CUT = 4.0  # the served probability: P(rating >= 4)


def _seeded(initializer: str, seed: int | None, offset: int):
    """An initializer object with a derived seed, so each weight draws differently but reproducibly."""
    if initializer == "Zeros":
        return keras.initializers.Zeros()
    config = {} if seed is None else {"seed": seed + offset}
    return keras.initializers.get({"class_name": initializer, "config": config})


def _per_replica(loss):
    """A replica's share of the loss under ``tf.distribute``.

    Gradients are summed over replicas, so each replica's mean loss is divided
    by their number, as Keras does for the losses it compiles itself.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss / replicas
    return loss


def _field_rows(kernel, fields: int, order: Sequence[int]):
    """A kernel over flattened per-field vectors, its row blocks reordered to ``order`` of the fields."""
    blocks = ops.reshape(kernel, (fields, -1, ops.shape(kernel)[-1]))
    return ops.reshape(ops.take(blocks, list(order), axis=0), (-1, ops.shape(kernel)[-1]))


@keras.saving.register_keras_serializable(package=PACKAGE)
class FieldEmbedding(keras.layers.Layer):
    """Embeds several categorical fields from one shared table.

    Input: integer codes of shape ``(batch, fields)`` where field ``j`` takes
    values in ``[0, vocab_sizes[j])`` (0 is the out-of-vocabulary row).
    Each field owns a contiguous block of the table; adding the block offsets
    turns all fields into a single gather, which is much cheaper than one
    embedding layer per field.

    ``embeddings_l2`` penalises only the rows a batch looks up (divided by the
    batch size), so frequent ids are regularised in proportion to their use.
    """

    def __init__(
        self,
        vocab_sizes: Sequence[int],
        embedding_dim: int,
        embeddings_initializer: str = "TruncatedNormal",
        embeddings_l2: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        if embeddings_l2:
            kwargs.setdefault("activity_regularizer", keras.regularizers.L2(embeddings_l2))
        super().__init__(**kwargs)
        self.vocab_sizes = [int(v) for v in vocab_sizes]
        if any(v < 1 for v in self.vocab_sizes):
            raise ValueError(f"every vocabulary needs at least one row, got {self.vocab_sizes}")
        self.embedding_dim = int(embedding_dim)
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_l2 = float(embeddings_l2)
        self.seed = seed
        self.offsets = np.concatenate([[0], np.cumsum(self.vocab_sizes)[:-1]]).astype("int32")

    def build(self, input_shape):
        if input_shape[-1] != len(self.vocab_sizes):
            raise ValueError(f"expected {len(self.vocab_sizes)} fields, got input shape {input_shape}")
        if self.embeddings_initializer == "TruncatedNormal":  # small values keep early attention near-uniform
            initializer = keras.initializers.TruncatedNormal(stddev=0.05, seed=self.seed)
        else:
            initializer = _seeded(self.embeddings_initializer, self.seed, 0)
        self.embeddings = self.add_weight(
            shape=(sum(self.vocab_sizes), self.embedding_dim), initializer=initializer, name="embeddings"
        )

    def call(self, codes):
        codes = ops.cast(codes, "int32") + ops.convert_to_tensor(self.offsets)
        return ops.take(self.embeddings, codes, axis=0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)  # rebuilt from embeddings_l2
        config.update(
            vocab_sizes=self.vocab_sizes,
            embedding_dim=self.embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            embeddings_l2=self.embeddings_l2,
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class InteractingLayer(keras.layers.Layer):
    """One AutoInt interacting layer: multi-head self-attention across fields.

    For field vectors ``e_1..e_F`` each head projects queries, keys and values,
    weighs every pair of fields by ``softmax(q_m . k_k)`` and sums the values;
    heads are concatenated. With ``use_residual`` the input is projected to
    the same width and added before the ReLU, as in the paper. ``scaled``
    divides scores by ``sqrt(attention_dim)`` (Transformer-style; the paper's
    AutoInt does not scale).

    The three projections are fused into one kernel so a layer costs a single
    matrix product for Q, K and V.
    """

    def __init__(
        self,
        attention_dim: int = 16,
        num_heads: int = 2,
        use_residual: bool = True,
        scaled: bool = False,
        kernel_l2: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.attention_dim = int(attention_dim)
        self.num_heads = int(num_heads)
        self.use_residual = bool(use_residual)
        self.scaled = bool(scaled)
        self.kernel_l2 = float(kernel_l2)
        self.seed = seed

    @property
    def output_dim(self) -> int:
        return self.attention_dim * self.num_heads

    def build(self, input_shape):
        input_dim = input_shape[-1]
        regularizer = keras.regularizers.L2(self.kernel_l2) if self.kernel_l2 else None
        self.qkv_kernel = self.add_weight(
            shape=(input_dim, 3 * self.output_dim),
            initializer=_seeded("GlorotUniform", self.seed, 1),
            regularizer=regularizer,
            name="qkv_kernel",
        )
        if self.use_residual:
            self.residual_kernel = self.add_weight(
                shape=(input_dim, self.output_dim),
                initializer=_seeded("GlorotUniform", self.seed, 2),
                regularizer=regularizer,
                name="residual_kernel",
            )

    def project(self, inputs):
        """Each field's fused query/key/value projection and its residual projection (or None).

        Shapes ``(batch, fields, 3 * output_dim)`` and ``(batch, fields, output_dim)``.
        Split from ``attend`` because a projection depends on its own field
        only: a ranking that varies a few fields can project the fixed ones once.
        """
        batch, fields = ops.shape(inputs)[0], ops.shape(inputs)[1]
        # One 2-D GEMM over all (example, field) rows: a 3-D x 2-D matmul
        # would run as a batch of tiny products and is about twice as slow here.
        rows = ops.reshape(inputs, (-1, ops.shape(inputs)[-1]))
        qkv = ops.reshape(ops.matmul(rows, self.qkv_kernel), (batch, fields, 3 * self.output_dim))
        if not self.use_residual:
            return qkv, None
        return qkv, ops.reshape(ops.matmul(rows, self.residual_kernel), (batch, fields, self.output_dim))

    def split_heads(self, qkv):
        """Queries, keys and values (batch, heads, fields, width) from fused projections."""
        batch, fields = ops.shape(qkv)[0], ops.shape(qkv)[1]

        def heads(x):
            return ops.transpose(ops.reshape(x, (batch, fields, self.num_heads, self.attention_dim)), (0, 2, 1, 3))

        return tuple(heads(x) for x in ops.split(qkv, 3, axis=-1))

    def attend(self, qkv, residual=None, return_attention: bool = False):
        """Self-attention across the fields of projected inputs, plus the residual, then ReLU."""
        return self.mix(*self.split_heads(qkv), residual, return_attention=return_attention)

    def mix(self, query, key, value, residual=None, return_attention: bool = False):
        """Each field's attention-weighted sum of values, heads concatenated, plus the residual, then ReLU."""
        batch, fields = ops.shape(query)[0], ops.shape(query)[2]
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))
        if self.scaled:
            scores = scores / ops.sqrt(ops.cast(self.attention_dim, scores.dtype))
        attention = ops.softmax(scores, axis=-1)  # (batch, heads, fields, fields)
        mixed = ops.matmul(attention, value)
        mixed = ops.reshape(ops.transpose(mixed, (0, 2, 1, 3)), (batch, fields, self.output_dim))
        if residual is not None:
            mixed = mixed + residual
        outputs = ops.relu(mixed)
        return (outputs, attention) if return_attention else outputs

    def call(self, inputs, return_attention: bool = False):
        return self.attend(*self.project(inputs), return_attention=return_attention)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            attention_dim=self.attention_dim,
            num_heads=self.num_heads,
            use_residual=self.use_residual,
            scaled=self.scaled,
            kernel_l2=self.kernel_l2,
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class AutoInt(keras.Model):
    """Field embeddings, a stack of interacting layers and a logistic output.

    The output is the probability that the user likes the movie. A first-order
    term (one learned bias per feature value, as in DeepCTR's AutoInt) is added
    to the logit by default: it carries the strong per-user and per-movie
    biases so the attention layers can spend their capacity on interactions.

    With ``ordinal`` the model learns from the whole 1-5 rating through
    cumulative cut-points (see ``compute_loss``) while still serving the like
    probability; fit it with ratings as targets.

    With ``rated_head`` it has a second output, the probability that the user
    rates the movie at all, learned from rated rows against sampled unrated
    movies (target rating 0). The first output then stays "likes it, given a
    rating", and a recommendation ranks by the product of the two:
    P(rates it and likes it). See ``ranking_scores``.

    ``attention_maps`` returns each layer's attention weights for a batch,
    which is what the app uses to explain a recommendation.
    """

    def __init__(
        self,
        vocab_sizes: Sequence[int],
        embedding_dim: int = 16,
        attention_layers: int = 3,
        num_heads: int = 2,
        attention_dim: int = 8,
        use_residual: bool = True,
        scaled: bool = False,
        use_linear: bool = True,
        ordinal: bool = False,
        rated_head: bool = False,
        dropout: float = 0.0,
        embeddings_l2: float = 0.0,
        kernel_l2: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_sizes = [int(v) for v in vocab_sizes]
        self.embedding_dim = int(embedding_dim)
        self.attention_layers = int(attention_layers)
        self.num_heads = int(num_heads)
        self.attention_dim = int(attention_dim)
        self.use_residual = bool(use_residual)
        self.scaled = bool(scaled)
        self.use_linear = bool(use_linear)
        self.ordinal = bool(ordinal)
        self.rated_head = bool(rated_head)
        self.outputs = 2 if self.rated_head else 1
        self.dropout = float(dropout)
        self.embeddings_l2 = float(embeddings_l2)
        self.kernel_l2 = float(kernel_l2)
        self.seed = seed

        self.embedding = FieldEmbedding(
            self.vocab_sizes, self.embedding_dim, embeddings_l2=self.embeddings_l2, seed=seed, name="embedding"
        )
        self.interacting = [
            InteractingLayer(
                self.attention_dim,
                self.num_heads,
                use_residual=self.use_residual,
                scaled=self.scaled,
                kernel_l2=self.kernel_l2,
                seed=None if seed is None else seed + 10 * (i + 1),
                name=f"interacting_{i}",
            )
            for i in range(self.attention_layers)
        ]
        self.attention_dropout = keras.layers.Dropout(self.dropout, seed=seed, name="attention_dropout")
        self.attention_logit = keras.layers.Dense(
            self.outputs, kernel_initializer=_seeded("GlorotUniform", seed, 3), name="attention_logit"
        )
        self.linear = (
            FieldEmbedding(self.vocab_sizes, self.outputs, embeddings_initializer="Zeros", name="linear")
            if self.use_linear
            else None
        )
        if self.ordinal:
            # Offsets of the cut-points rating>=2, >=3 and >=5 from the like cut (rating>=4).
            self.cut_offsets = self.add_weight(
                shape=(len(RATING_CUTS) - 1,),
                initializer=keras.initializers.Constant([2.0, 1.0, -1.5]),
                name="cut_offsets",
            )

    # The pieces are separate methods so AutoInt+ can add its tower without
    # repeating any of them.
    def interact(self, embeddings, return_attention: bool = False):
        """Run the interacting stack; optionally collect each layer's attention."""
        maps = []
        hidden = embeddings
        for layer in self.interacting:
            hidden, attention = layer(hidden, return_attention=True)
            maps.append(attention)
        return (hidden, maps) if return_attention else hidden

    def logits(self, codes, training: bool = False):
        """Summed logits (batch, outputs) of every part of the model for integer codes (batch, fields)."""
        embeddings = self.embedding(codes)
        hidden = ops.reshape(self.interact(embeddings), (ops.shape(codes)[0], -1))
        logit = self.attention_logit(self.attention_dropout(hidden, training=training))
        if self.linear is not None:
            logit = logit + ops.sum(self.linear(codes), axis=1)
        return logit + self.extra_logit(embeddings, training=training)

    def extra_logit(self, embeddings, training: bool = False):
        """Hook for subclasses that add parallel towers; AutoInt has none."""
        return 0.0

    def call(self, codes, training: bool = False):
        return ops.sigmoid(self.logits(codes, training=training))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """With ``ordinal``, learn from the whole 1-5 rating, not just like / not like.

        The like logit and learned offsets give a cumulative-link model,
        ``P(rating >= k) = sigmoid(like_logit + offset_k)`` for k = 2..5, and the
        loss is the cross-entropy of all four cut-points. A 3 is then "less
        disliked" than a 1, which the binary label throws away. The served
        output stays ``P(rating >= 4)``. ``y`` holds ratings in this mode.

        With ``rated_head``, ``y`` holds ratings with 0 for sampled unrated
        movies: the like loss covers the rated rows only and the rated head
        learns rated (y > 0) against unrated.
        """
        if not (self.ordinal or self.rated_head):
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
        logits = ops.log(p) - ops.log1p(-p)
        y = ops.reshape(ops.cast(y, "float32"), (-1,))
        like_loss = self._like_loss(logits[:, 0], y)
        if self.rated_head:
            rated = ops.cast(y > 0, "float32")
            like_loss = ops.sum(like_loss * rated) / ops.maximum(ops.sum(rated), 1.0)
            loss = like_loss + ops.mean(
                keras.losses.binary_crossentropy(rated[:, None], logits[:, 1:], from_logits=True)
            )
        else:
            loss = ops.mean(like_loss)
        return _per_replica(loss + ops.sum(self.losses) if self.losses else loss)

    def _like_loss(self, like_logit, y):
        """Per-row loss of the like output against ratings ``y`` (ordinal cut-points, or like / not like)."""
        if not self.ordinal:
            liked = ops.cast(y >= LIKE_CUT, "float32")[:, None]
            return keras.losses.binary_crossentropy(liked, like_logit[:, None], from_logits=True)
        like_index = RATING_CUTS.index(LIKE_CUT)
        offsets = ops.concatenate(
            [self.cut_offsets[:like_index], ops.zeros((1,)), self.cut_offsets[like_index:]], axis=0
        )
        targets = ops.cast(y[:, None] >= ops.convert_to_tensor(RATING_CUTS, "float32"), "float32")
        return keras.losses.binary_crossentropy(targets, like_logit[:, None] + offsets, from_logits=True)

    @staticmethod
    def ranking_scores(outputs):
        """What a recommendation ranks by, from the model's outputs (batch, outputs).

        One output: the like probability. Two: P(rated) x P(like | rated).
        Plain slicing, so it works on NumPy arrays and on tensors inside a graph.
        """
        return outputs[:, 0] * outputs[:, 1] if outputs.shape[-1] == 2 else outputs[:, 0]

    # ---------------------------------------------------- one person, many candidates
    # Ranking scores every catalogue movie for one person at one date: only the
    # movie fields change from row to row. Everything that depends on the movie
    # fields alone (their embeddings, the first interacting layer's projections,
    # their first-order terms, a tower's share of its first layer) is computed
    # once per catalogue by ``candidate_parts``; ``score_candidates`` adds the
    # person's share and runs the rest. Self-attention does not care about the
    # order of fields, so rows are laid out as [shared fields, candidate fields]
    # and only the output kernels are permuted to match. Valid while the
    # weights stay as they were when the parts were computed.
    def candidate_parts(self, codes, candidate_fields: Sequence[int]) -> dict:
        """Per-candidate work for candidate code rows (candidates, fields); other positions are ignored."""
        own = list(candidate_fields)
        embeddings = ops.take(self.embedding(codes), own, axis=1)
        parts = {"embeddings": embeddings}
        if self.interacting:
            first = self.interacting[0]
            qkv, residual = first.project(embeddings)
            parts["query"], parts["key"], parts["value"] = first.split_heads(qkv)
            if residual is not None:
                parts["residual"] = residual
        if self.linear is not None:
            parts["linear"] = ops.sum(ops.take(self.linear(codes), own, axis=1), axis=1)
        return parts

    def score_candidates(self, shared_codes, parts: dict, candidate_fields: Sequence[int]):
        """Ranking scores (people, candidates) of every candidate in ``parts`` for each shared-code row.

        ``shared_codes`` (people, fields) hold each person's (and date's) codes;
        the candidate positions are ignored. Equals ``ranking_scores(self(codes))``
        on the assembled rows, up to float rounding, at a fraction of the cost.
        """
        own = list(candidate_fields)
        shared = [i for i in range(len(self.vocab_sizes)) if i not in own]
        people, candidates = ops.shape(shared_codes)[0], ops.shape(parts["embeddings"])[0]

        def rows(per_person, per_candidate, axis: int):
            """(people, ...) and (candidates, ...) joined along ``axis`` of a row: (people * candidates, ...)."""
            joined = ops.concatenate(
                [
                    ops.broadcast_to(per_person[:, None], (people, candidates, *per_person.shape[1:])),
                    ops.broadcast_to(per_candidate[None], (people, candidates, *per_candidate.shape[1:])),
                ],
                axis=axis + 1,
            )
            return ops.reshape(joined, (people * candidates, *joined.shape[2:]))

        def pairs(per_person, per_candidate):  # (people, k), (candidates, k) -> (people * candidates, k)
            total = per_person[:, None] + per_candidate[None]
            return ops.reshape(total, (people * candidates, ops.shape(total)[-1]))

        embeddings = ops.take(self.embedding(shared_codes), shared, axis=1)
        if self.interacting:
            first, *rest = self.interacting
            qkv, residual = first.project(embeddings)
            names = ("query", "key", "value")
            heads = [rows(mine, parts[name], 2) for mine, name in zip(first.split_heads(qkv), names, strict=True)]
            hidden = first.mix(*heads, None if residual is None else rows(residual, parts["residual"], 1))
            for layer in rest:
                hidden = layer(hidden)
        else:
            hidden = rows(embeddings, parts["embeddings"], 1)
        order = shared + own
        kernel = _field_rows(self.attention_logit.kernel, len(order), order)
        logit = ops.matmul(ops.reshape(hidden, (people * candidates, -1)), kernel) + self.attention_logit.bias
        if self.linear is not None:
            logit = logit + pairs(ops.sum(ops.take(self.linear(shared_codes), shared, axis=1), axis=1), parts["linear"])
        logit = logit + self.candidate_extra_logit(embeddings, parts, shared, pairs)
        return ops.reshape(self.ranking_scores(ops.sigmoid(logit)), (people, candidates))

    def candidate_extra_logit(self, shared_embeddings, parts: dict, shared_fields: Sequence[int], pairs):
        """``extra_logit`` for ``score_candidates``; subclasses with towers override both."""
        return 0.0

    def attention_maps(self, codes) -> list:
        """Attention weights (batch, heads, fields, fields) of every interacting layer."""
        _, maps = self.interact(self.embedding(codes), return_attention=True)
        return maps

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_sizes=self.vocab_sizes,
            embedding_dim=self.embedding_dim,
            attention_layers=self.attention_layers,
            num_heads=self.num_heads,
            attention_dim=self.attention_dim,
            use_residual=self.use_residual,
            scaled=self.scaled,
            use_linear=self.use_linear,
            ordinal=self.ordinal,
            rated_head=self.rated_head,
            dropout=self.dropout,
            embeddings_l2=self.embeddings_l2,
            kernel_l2=self.kernel_l2,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def built(cls, vocab_sizes: Sequence[int], **hyperparameters) -> AutoInt:
        """A model whose weights exist, ready for ``load_weights`` or training."""
        model = cls(vocab_sizes, **hyperparameters)
        model(np.zeros((1, len(vocab_sizes)), dtype="int32"))
        return model
