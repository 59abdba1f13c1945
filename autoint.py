"""AutoInt: automatic feature interaction learning via self-attention.

Song et al., "AutoInt: Automatic Feature Interaction Learning via
Self-Attentive Neural Networks", CIKM 2019.

Every input field (user, movie, genre, age, ...) becomes one embedding vector.
An *interacting layer* lets each field attend to every other field with
multi-head self-attention, so a field's new representation is a learned mix
of the fields it interacts with; stacking layers builds higher-order
interactions. A residual projection keeps the field's own signal. The final
field vectors are flattened into a logistic output. A model can also read the
person's own rated movies, pooled (``HistoryPooling``) into one more field.

The layers are written on ``keras.ops`` only and registered as serializable,
with complete configs, so models rebuild from the JSON manifests that sit
next to their ``.weights.h5`` files. What the model learns from lives in
``movierec.objectives``; scoring a whole catalogue for one person with the
per-movie work done once lives in ``movierec.scoring``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
from keras import ops

from movierec.features import FIELD_POSITION
from movierec.history import HISTORY_PER_PERSON
from movierec.objectives import INITIAL_CUT_STEPS, RatingObjective, per_replica

PACKAGE = "autoint"
# EASE scores are mostly within [-1, 1]; scaled up so that Adam's steps, whose size does not depend on the
# input's scale, move the prior's weight far enough within a few epochs.
PRIOR_SCALE = 10.0


def config_with(layer, config: dict, names: Sequence[str]) -> dict:
    """``config`` plus each named constructor argument, read back from the layer's attribute of that name."""
    return {**config, **{name: getattr(layer, name) for name in names}}


def _non_negative(value, name: str) -> float:
    """``value`` as a float, or a ValueError naming ``name`` unless it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    number = float(value)
    if not (np.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return number


def _seeded(initializer: str, seed: int | None, offset: int):
    """An initializer object with a derived seed, so each weight draws differently but reproducibly."""
    if initializer == "Zeros":
        return keras.initializers.Zeros()
    config = {} if seed is None else {"seed": seed + offset}
    return keras.initializers.get({"class_name": initializer, "config": config})


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

    def lookup(self, field: int, codes):
        """Embeddings (*codes.shape, embedding_dim) of codes of the one field ``field``, any input shape.

        A multi-valued input drawn from a field's vocabulary (the movies of a
        history) reads that field's block of the table, so it shares the
        field's embeddings and needs no table of its own. Unlike ``call`` the
        rows are not penalised by ``embeddings_l2``: a history looks up many
        rows a row, and their penalty would swamp the single-valued fields'.
        """
        if not self.built:
            self.build((None, len(self.vocab_sizes)))
        return ops.take(self.embeddings, ops.cast(codes, "int32") + int(self.offsets[field]), axis=0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)  # rebuilt from embeddings_l2
        return config_with(
            self, config, ("vocab_sizes", "embedding_dim", "embeddings_initializer", "embeddings_l2", "seed")
        )


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
        return config_with(
            self, super().get_config(), ("attention_dim", "num_heads", "use_residual", "scaled", "kernel_l2", "seed")
        )


def _mean_weights(items, valid):
    """Equal weights over the present slots (batch, L); an empty history gets all zeros."""
    present = ops.cast(valid, items.dtype)
    return present / ops.maximum(ops.sum(present, axis=-1, keepdims=True), 1.0)


def _inverse_sqrt_width(items):
    return 1.0 / ops.sqrt(ops.cast(ops.shape(items)[-1], items.dtype))


def _masked_softmax(scores, valid):
    """A softmax over the last axis restricted to ``valid`` slots (broadcast against ``scores``), finite throughout.

    Shifted by the largest present score (any score if none is present), with 0
    exponentiated in empty slots, so an outlying masked score cannot overflow
    and an all-empty row gets zeros, in values and gradients.
    """
    valid = ops.broadcast_to(valid, ops.shape(scores))
    present = ops.cast(valid, scores.dtype)
    shift = ops.max(ops.where(valid, scores, ops.min(scores, axis=-1, keepdims=True)), axis=-1, keepdims=True)
    exps = ops.exp(ops.where(valid, scores - ops.stop_gradient(shift), 0.0)) * present
    return exps / ops.maximum(ops.sum(exps, axis=-1, keepdims=True), keras.backend.epsilon())


def _people_of(embeddings, history):
    """How many people a batch with one history per person holds (an int, or a tensor while tracing).

    Where both sizes are known, a batch that is not a whole number of rows
    per person is refused by name (traced with unknown sizes, the reshape
    that follows refuses it).
    """
    rows, people = embeddings.shape[0], history.shape[0]
    if rows is not None and people is not None and (rows % people if people else rows):
        raise ValueError(f"{HISTORY_PER_PERSON!r} holds {people} histories, which cannot serve {rows} code rows: "
                         "the rows must be each person's first row, in order, then k more rows per person in "
                         "the same order")  # fmt: skip
    return ops.shape(history)[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class HistoryPooling(keras.layers.Layer):
    """Pools a variable-size set of item vectors (a person's rated movies) into one field vector.

    ``call(items, mask, query=None)`` takes items (batch, L, d), a mask
    (batch, L) that is true (or 1) where a slot holds an item, and for
    attention a query (batch, d). ``mode`` picks the weights the pooled vector
    ``weights @ items`` uses:

    * ``"mean"``: every item counts alike, ``mask / count``.
    * ``"attention"``: target-aware, as in DIN (Zhou et al., KDD 2018): the
      items most like the query (the candidate movie) count most, through a
      softmax over the items of ``items . query / sqrt(d)``. The weights say
      which rated movies a score leans on ("because you liked X and Y").

    Empty slots get weight 0 and an all-empty history pools to the zero
    vector in both modes, with no NaN (in values or gradients). The layer has
    no weights, and neither mode depends on the order or the number of slots.
    """

    MODES = ("mean", "attention")

    def __init__(self, mode: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"history pooling must be one of {self.MODES}, got {mode!r}")
        self.mode = mode

    def weights_for(self, items, valid, query=None):
        """The pooling weights (batch, L): zero on empty slots, summing to 1 over a non-empty history."""
        if self.mode == "mean":
            return _mean_weights(items, valid)
        if query is None:
            raise ValueError("attention pooling needs a query (the candidate's vector)")
        return _masked_softmax(ops.einsum("bld,bd->bl", items, query) * _inverse_sqrt_width(items), valid)

    def pairwise_weights(self, items, valid, queries):
        """Weights (people, candidates or 1, L) of every person's history for every candidate query.

        ``items`` (people, L, d) and ``valid`` (people, L) are each person's
        history once, ``queries`` (candidates, d) the candidates': the same
        weights as ``weights_for`` on every (person, candidate) row, without
        copying a history per candidate. Mean pooling ignores the candidate,
        so its middle axis has size 1.
        """
        if self.mode == "mean":
            return _mean_weights(items, valid)[:, None]
        scores = ops.einsum("pld,cd->pcl", items, queries) * _inverse_sqrt_width(items)
        return _masked_softmax(scores, valid[:, None])

    def grouped_weights(self, items, valid, queries):
        """Weights (people, m, L) of each person's history for each of their own ``m`` candidate queries.

        ``items`` (people, L, d) and ``valid`` (people, L) are each person's
        history once, ``queries`` (people, m, d) their candidates': in
        training, a rated row's sampled negatives, which carry its history.
        Each (person, candidate) gets the weights ``weights_for`` gives that
        row, without a copy of the history per candidate.
        """
        if self.mode == "mean":
            weights = _mean_weights(items, valid)[:, None]
            return ops.broadcast_to(weights, (ops.shape(queries)[0], ops.shape(queries)[1], ops.shape(items)[1]))
        scores = ops.einsum("pld,pmd->pml", items, queries) * _inverse_sqrt_width(items)
        return _masked_softmax(scores, valid[:, None])

    def call(self, items, mask, query=None, return_weights: bool = False):
        weights = self.weights_for(items, ops.cast(mask, "bool"), query)
        pooled = ops.einsum("bl,bld->bd", weights, items)
        return (pooled, weights) if return_weights else pooled

    def compute_mask(self, inputs, previous_mask=None):
        return None  # the pooled vector has no slots left to mask (and this tells Keras the mask is consumed)

    def compute_output_shape(self, items_shape, *args, **kwargs):
        return (items_shape[0], items_shape[-1])

    def get_config(self):
        return config_with(self, super().get_config(), ("mode",))


@keras.saving.register_keras_serializable(package=PACKAGE)
class AutoInt(keras.Model):
    """Field embeddings, a stack of interacting layers and a logistic output.

    The output is the probability that the user likes the movie. A first-order
    term (one learned bias per feature value, as in DeepCTR's AutoInt) is added
    to the logit by default: it carries the strong per-user and per-movie
    biases so the attention layers can spend their capacity on interactions.

    ``ordinal`` and ``rated_head`` pick the objective (``movierec.objectives``):
    with ``ordinal`` the model learns from the whole 1-5 rating through learned
    cut-points while still serving the like probability; with ``rated_head`` it
    has a second output, the probability that the user rates the movie at all.
    Fit either with ratings as targets.

    ``attention_maps`` returns each layer's attention weights for a batch,
    which is what the app uses to explain a recommendation.

    With ``history_length`` > 0 the model also reads the person's own rated
    movies (``movierec.history``): its input is a dict ``{"codes": (batch,
    fields), "history": (batch, history_length)}`` of movie codes, 0 for an
    empty slot (in training, ``HISTORY_PER_PERSON`` in its place holds one
    history for a rated row and its sampled negatives: ``pool_history``).
    The history's movies share the embedding block of field
    ``history_field`` (``movie_id``), so there is no new vocabulary;
    ``HistoryPooling`` (``history_pooling``: "mean" or "attention", whose
    query is the row's own movie) turns them into one more field vector,
    which the interacting layers, the output and AutoInt+'s tower read like
    any other field. ``history_weights`` says how much each rated movie
    counted for a row. With ``history_length`` 0 (the default) the model is
    exactly the plain AutoInt, weights and all.

    With ``ease_l2`` > 0 the input also holds ``"prior"`` (batch,): EASE's
    score of the row's movie for the person (``movierec.prior``, fitted with
    that l2; a movie rated but not liked counts ``ease_disliked_weight`` in the
    person's row, a liked one 1), which a learned weight per output adds to
    the logits. The network then learns what EASE misses (whether the person will *like* the
    movie, their fields, the date) on top of a strong co-rating signal.
    ``prior_profile_power`` and ``prior_profile_reference`` change no weight:
    they tell whoever computes a newcomer's prior how to rescale it for their
    few ratings (``movierec.prior.EasePrior.profile_scale``), a serving choice
    made on the new-user protocol's validation people after training.
    ``ranking_like_exponent`` and ``ranking_prior_gain`` change no weight
    either: they are the ranking rule of a whole catalogue, chosen on
    validation after training (``movierec.evaluation.ranking_rule_on_validation``):
    a catalogue is ranked by log P(rated) + exponent x log P(like | rated)
    (log P(like) for a one-output model), with the prior's share of the
    logits, if there is a prior, multiplied by the gain first. The probabilities
    the model outputs (AUC, log loss, the seed protocol) never depend on them.
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
        history_length: int = 0,
        history_pooling: str = "mean",
        history_field: int = FIELD_POSITION["movie_id"],
        ease_l2: float = 0.0,
        ease_disliked_weight: float = 1.0,
        prior_profile_power: float = 0.0,
        prior_profile_reference: float = 0.0,
        ranking_like_exponent: float = 1.0,
        ranking_prior_gain: float = 1.0,
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
        self.objective = RatingObjective(self.ordinal, self.rated_head)
        # A teacher to match while training (``movierec.distillation``); never saved, set for one fit only.
        self.distillation = None
        self.dropout = float(dropout)
        self.embeddings_l2 = float(embeddings_l2)
        self.kernel_l2 = float(kernel_l2)
        self.seed = seed
        self.history_length = int(history_length)
        self.history_pooling = history_pooling
        self.history_field = int(history_field)
        self.ease_l2 = float(ease_l2)
        if self.ease_l2 < 0:
            raise ValueError(f"ease_l2 must be 0 (no prior) or positive, got {self.ease_l2}")
        self.ease_disliked_weight = float(ease_disliked_weight)
        if not 0 < self.ease_disliked_weight <= 1:  # NaN fails too
            raise ValueError(f"ease_disliked_weight must be in (0, 1], got {ease_disliked_weight}")
        self.prior_profile_power = float(prior_profile_power)
        if not np.isfinite(self.prior_profile_power):
            raise ValueError(f"prior_profile_power must be a finite number, got {prior_profile_power}")
        self.prior_profile_reference = float(prior_profile_reference)
        if not (np.isfinite(self.prior_profile_reference) and self.prior_profile_reference >= 0):
            raise ValueError(
                f"prior_profile_reference must be 0 (the fitted people's median) or a positive number of ratings, "
                f"got {prior_profile_reference}"
            )
        self.ranking_like_exponent = _non_negative(ranking_like_exponent, "ranking_like_exponent")
        self.ranking_prior_gain = _non_negative(ranking_prior_gain, "ranking_prior_gain")
        if self.history_length < 0:
            raise ValueError(f"history_length must be 0 (no history) or more, got {self.history_length}")
        if self.history_length and not 0 <= self.history_field < len(self.vocab_sizes):
            raise ValueError(f"history_field {self.history_field} is not one of the {len(self.vocab_sizes)} fields")

        # The attribute names below are the paths of the weights in saved files: renaming one breaks loading.
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
            self.num_outputs, kernel_initializer=_seeded("GlorotUniform", seed, 3), name="attention_logit"
        )
        self.linear = (
            FieldEmbedding(self.vocab_sizes, self.num_outputs, embeddings_initializer="Zeros", name="linear")
            if self.use_linear
            else None
        )
        # No weights, so a model without history has exactly the weights (and paths) it always had.
        self.pooling = HistoryPooling(self.history_pooling, name="history_pooling") if self.history_length else None
        # From zero: the network starts as it would without a prior and learns how much to trust it.
        self.prior_logit = (
            keras.layers.Dense(self.num_outputs, use_bias=False, kernel_initializer="Zeros", name="prior_logit")
            if self.ease_l2
            else None
        )
        if self.ordinal:  # the ordinal objective's cut-points, as ordered steps (objectives.cut_offsets)
            self.cut_steps = self.add_weight(
                shape=(len(INITIAL_CUT_STEPS),),
                initializer=keras.initializers.Constant(list(INITIAL_CUT_STEPS)),
                name="cut_steps",
            )

    @property
    def num_outputs(self) -> int:
        """1 (like) or 2 (like, rated)."""
        return self.objective.num_outputs

    @property
    def field_count(self) -> int:
        """How many field vectors the interacting layers read: the input fields, plus one for a history."""
        return len(self.vocab_sizes) + (1 if self.history_length else 0)

    # The pieces are separate methods so AutoInt+ and the candidate scorer can reuse them.
    def interact(self, embeddings, return_attention: bool = False):
        """Run the interacting stack; optionally collect each layer's attention."""
        maps = []
        hidden = embeddings
        for layer in self.interacting:
            hidden, attention = layer(hidden, return_attention=True)
            maps.append(attention)
        return (hidden, maps) if return_attention else hidden

    @property
    def input_keys(self) -> tuple[str, ...]:
        """The keys of the model's input dict; a model with neither history nor prior takes the codes alone."""
        return ("codes",) + (("history",) if self.history_length else ()) + (("prior",) if self.ease_l2 else ())

    def pack_inputs(self, codes, history=None, prior=None):
        """The model's input for code rows and, as it reads them, their histories (rows, length) and priors (rows,)."""
        given = {"codes": codes, "history": history, "prior": prior}
        missing = [key for key in self.input_keys if given[key] is None]
        if missing:
            raise ValueError(f"this model reads {list(self.input_keys)} for each row: pass {missing}")
        return codes if self.input_keys == ("codes",) else {key: given[key] for key in self.input_keys}

    def split_inputs(self, inputs) -> tuple:
        """The codes (batch, fields), the history or None, and whether the history is one per person.

        A history comes as ``"history"`` (batch, history_length), a row per
        code row, or in training as ``HISTORY_PER_PERSON`` (``pool_history``).
        """
        keys = self.input_keys
        if keys == ("codes",):
            return inputs, None, False
        shared = isinstance(inputs, Mapping) and HISTORY_PER_PERSON in inputs
        expected = [HISTORY_PER_PERSON if shared and key == "history" else key for key in keys]
        if not isinstance(inputs, Mapping) or set(inputs) != set(expected):
            got = sorted(inputs) if isinstance(inputs, Mapping) else type(inputs).__name__
            raise ValueError(
                f"a model with history_length={self.history_length} and ease_l2={self.ease_l2} takes a dict with "
                f"keys {list(keys)}, got {got}"
            )
        return inputs["codes"], inputs.get(HISTORY_PER_PERSON if shared else "history"), shared

    def prior_term(self, prior):
        """The prior's share of the logits (batch, outputs) for EASE scores (batch,)."""
        return self.prior_logit(PRIOR_SCALE * ops.expand_dims(ops.cast(prior, self.compute_dtype), -1))

    def pool_history(self, embeddings, history, return_weights: bool = False, shared: bool = False):
        """The pooled history vector (batch, d) given the rows' field embeddings, and optionally its weights.

        ``history`` has a row per code row, or, with ``shared`` (the input
        key ``HISTORY_PER_PERSON``, which the training pipeline uses), a row
        per person: the batch then holds the people's rated rows first, in
        order, and after them ``k`` rows per person, the sampled negatives
        that share the person's history, in the same order
        (``movierec.pipeline``). A history is then looked up once for its
        ``k + 1`` rows instead of copied to each.
        """
        items = self.embedding.lookup(self.history_field, history)
        valid = ops.not_equal(history, 0)
        query = embeddings[:, self.history_field]  # the candidate movie, for attention pooling
        if not shared:
            return self.pooling(items, valid, query=query, return_weights=return_weights)
        people = _people_of(embeddings, history)
        pooled, weights = self.pooling(items, valid, query=query[:people], return_weights=True)
        others = ops.reshape(query[people:], (people, -1, ops.shape(query)[-1]))  # (people, k, d)
        other_weights = self.pooling.grouped_weights(items, valid, others)
        other_pooled = ops.einsum("pkl,pld->pkd", other_weights, items)
        pooled = ops.concatenate([pooled, ops.reshape(other_pooled, (-1, ops.shape(pooled)[-1]))], axis=0)
        if not return_weights:
            return pooled
        return pooled, ops.concatenate([weights, ops.reshape(other_weights, (-1, ops.shape(weights)[-1]))], axis=0)

    def field_vectors(self, codes, history=None, shared: bool = False):
        """The vectors (batch, fields [+ 1], d) the interacting layers read: each field's, then the history's."""
        embeddings = self.embedding(codes)
        if history is None:
            return embeddings
        return ops.concatenate([embeddings, self.pool_history(embeddings, history, shared=shared)[:, None]], axis=1)

    def logits(self, inputs, training: bool = False):
        """Summed logits (batch, outputs) of every part of the model for integer codes (batch, fields).

        With a history or a prior, ``inputs`` is the dict of ``input_keys`` (see the class).
        """
        codes, history, shared = self.split_inputs(inputs)
        embeddings = self.field_vectors(codes, history, shared)
        hidden = ops.reshape(self.interact(embeddings), (ops.shape(codes)[0], -1))
        logit = self.attention_logit(self.attention_dropout(hidden, training=training))
        if self.linear is not None:
            logit = logit + ops.sum(self.linear(codes), axis=1)
        if self.prior_logit is not None:
            logit = logit + self.prior_term(inputs["prior"])
        return logit + self.extra_logit(embeddings, training=training)

    def extra_logit(self, embeddings, training: bool = False):
        """Hook for subclasses that add parallel towers; AutoInt has none."""
        return 0.0

    def call(self, inputs, training: bool = False):
        return ops.sigmoid(self.logits(inputs, training=training))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The objective's loss for ordinal or rated-head models, the compiled loss otherwise; plus, in training
        while a teacher is set (``distillation``, see ``movierec.distillation``), how far the outputs are from its."""
        if not self.objective.learns_from_ratings:
            loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        else:
            loss = self.objective.loss(y_pred, y, getattr(self, "cut_steps", None), sample_weight)
            loss = per_replica(loss + ops.sum(self.losses) if self.losses else loss)
        if self.distillation is None or not training:  # validation's loss stays the labels' alone
            return loss
        return loss + self.distillation.loss(self, x, y, y_pred, sample_weight)

    def attention_maps(self, inputs) -> list:
        """Attention weights (batch, heads, fields, fields) of every interacting layer (a history is the last field)."""
        _, maps = self.interact(self.field_vectors(*self.split_inputs(inputs)), return_attention=True)
        return maps

    def history_weights(self, inputs):
        """How much each history slot counted for each row (batch, history_length): 0 on empty slots.

        For attention pooling, the weights of the candidate's own query, which
        explain a score by the rated movies it leans on.
        """
        if not self.history_length:
            raise ValueError("this model reads no history (history_length is 0)")
        codes, history, shared = self.split_inputs(inputs)
        _, weights = self.pool_history(self.embedding(codes), history, return_weights=True, shared=shared)
        return weights

    def get_config(self):
        names = ("vocab_sizes", "embedding_dim", "attention_layers", "num_heads", "attention_dim", "use_residual",
                 "scaled", "use_linear", "ordinal", "rated_head", "dropout", "embeddings_l2", "kernel_l2", "seed",
                 "history_length", "history_pooling", "history_field", "ease_l2", "ease_disliked_weight",
                 "prior_profile_power", "prior_profile_reference", "ranking_like_exponent", "ranking_prior_gain")
        return config_with(self, super().get_config(), names)  # fmt: skip

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def built(cls, vocab_sizes: Sequence[int], **hyperparameters) -> AutoInt:
        """A model whose weights exist, ready for ``load_weights`` or training."""
        model = cls(vocab_sizes, **hyperparameters)
        model(model.pack_inputs(np.zeros((1, len(vocab_sizes)), "int32"), np.zeros((1, model.history_length), "int32"),
                                np.zeros((1,), "float32")))  # fmt: skip
        return model
