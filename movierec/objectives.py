"""What the models learn from, and what a recommendation ranks by.

A model's *outputs* are probabilities; this module turns them and the
training targets into a loss, the way tensorflow/recommenders keeps tasks
apart from the networks they train. Three objectives, chosen by two flags
that the models carry in their configs:

* **like** (neither flag): binary cross-entropy of the like output against
  like = rating >= 4. Keras' compiled ``BinaryCrossentropy`` does this one.
* **ordinal**: a cumulative-link model on the whole 1-5 rating,
  ``P(rating >= k) = sigmoid(like_logit + offset_k)`` for k = 2..5, with the
  offset of the like cut (k = 4) fixed at 0; the loss is the cross-entropy of
  all four cut-points. A 3 is then "less disliked" than a 1, which the binary
  label throws away, while the served output stays P(rating >= 4).
* **rated head**: a second output, P(rated), learned from rated rows
  (rating > 0) against sampled unrated movies (rating 0). The like loss then
  covers the rated rows only, and a recommendation ranks by
  P(rated) x P(like | rated) ** exponent, the exponent chosen on validation
  after training (1 during training, where early stopping watches the product).

Targets are ratings (0 for a sampled negative) whenever either flag is on,
like labels otherwise (``RatingObjective.targets``).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from movierec.features import LIKE_THRESHOLD

RATING_CUTS = (2.0, 3.0, 4.0, 5.0)  # the cumulative cut-points of the ordinal loss
# Starting offsets of the cuts rating >= 2, >= 3 and >= 5 from the like cut: roughly the logits
# of MovieLens' rating shares, so the first steps need not find them.
INITIAL_CUT_OFFSETS = (2.0, 1.0, -1.5)


def _softplus_inverse(x: float) -> float:
    return float(np.log(np.expm1(x)))


# The trainable steps behind the offsets (see ``cut_offsets``) that start at INITIAL_CUT_OFFSETS.
INITIAL_CUT_STEPS = (
    _softplus_inverse(INITIAL_CUT_OFFSETS[0] - INITIAL_CUT_OFFSETS[1]),
    _softplus_inverse(INITIAL_CUT_OFFSETS[1]),
    _softplus_inverse(-INITIAL_CUT_OFFSETS[2]),
)


def steps_from_offsets(offsets) -> np.ndarray:
    """The steps whose ``cut_offsets`` are ``offsets`` (offset_2 > offset_3 > 0 > offset_5), for older weights."""
    offset_2, offset_3, offset_5 = (float(v) for v in np.asarray(offsets).ravel())
    if not offset_2 > offset_3 > 0 > offset_5:
        raise ValueError(f"offsets must satisfy offset_2 > offset_3 > 0 > offset_5, got {offsets}")
    return np.array([_softplus_inverse(offset_2 - offset_3), _softplus_inverse(offset_3),
                     _softplus_inverse(-offset_5)], dtype=np.float32)  # fmt: skip


def cut_offsets(steps):
    """Offsets of the cuts rating >= 2, >= 3, >= 5 from the like cut, ordered by construction.

    With softplus steps ``s``: offset_3 = sp(s1) > 0, offset_2 = offset_3 + sp(s0)
    > offset_3 and offset_5 = -sp(s2) < 0, so P(rating >= 2) >= P(rating >= 3)
    >= P(rating >= 4) >= P(rating >= 5) for every row, whatever the weights.
    """
    positive = ops.softplus(steps)
    return ops.stack([positive[1] + positive[0], positive[1], -positive[2]])


def logits_of(outputs):
    """The logits behind the sigmoid outputs of a model.

    Keras' sigmoid on the TensorFlow backend keeps its input on the output
    tensor (``_keras_logits``), which is how Keras' own binary cross-entropy
    gets exact logits from probabilities; inside a training step the model's
    outputs come straight from that sigmoid. Elsewhere (NumPy input, another
    backend) the log-odds of the probabilities, clipped to stay finite.
    """
    logits = getattr(outputs, "_keras_logits", None)
    if logits is not None:
        return logits
    p = ops.clip(outputs, 1e-7, 1.0 - 1e-7)
    return ops.log(p) - ops.log1p(-p)


def ranking_scores(outputs, like_exponent: float = 1.0):
    """What a recommendation ranks by, from model outputs (batch, 1 or 2).

    One output: the like probability. Two: P(rated) x P(like | rated) ** ``like_exponent``.
    The exponent is a ranking choice made on validation (``movierec.evaluation.ranking_rule_on_validation``):
    1 is the probability of "rated and liked", 0 ranks by P(rated) alone, and between them the like
    model counts less than it would in that product. Plain slicing and ``**``, so it works on NumPy
    arrays and on tensors inside a graph.
    """
    if outputs.shape[-1] != 2:
        return outputs[:, 0]
    like = outputs[:, 0] if like_exponent == 1.0 else outputs[:, 0] ** like_exponent
    return like * outputs[:, 1]


def log_ranking_scores(logits, like_exponent: float = 1.0):
    """``log(ranking_scores(sigmoid(logits), like_exponent))``, computed from the logits (rows, 1 or 2).

    What a catalogue is ranked by. In float32 sigmoid is exactly 1 from a
    logit of about 17 on, so probabilities (and their product) tie among a
    person's most certain movies, while ``log_sigmoid`` (-softplus(-x), about
    -exp(-x) there) still tells them apart up to a logit of about 100. NumPy
    arrays and tensors alike.
    """
    numpy = isinstance(logits, np.ndarray)
    log_p = -np.logaddexp(np.float32(0.0), -logits) if numpy else ops.log_sigmoid(logits)
    if logits.shape[-1] != 2:
        return log_p[:, 0]
    return log_p[:, 1] + like_exponent * log_p[:, 0]


def per_replica(loss):
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


class RatingObjective:
    """The loss of a model with the given ``ordinal`` and ``rated_head`` flags (see the module doc)."""

    def __init__(self, ordinal: bool = False, rated_head: bool = False):
        self.ordinal = bool(ordinal)
        self.rated_head = bool(rated_head)

    @property
    def num_outputs(self) -> int:
        return 2 if self.rated_head else 1

    @property
    def learns_from_ratings(self) -> bool:
        """Whether targets are ratings (0 = unrated) rather than 0/1 like labels."""
        return self.ordinal or self.rated_head

    def targets(self, ratings: np.ndarray) -> np.ndarray:
        ratings = np.asarray(ratings)
        if self.learns_from_ratings:
            return ratings.astype(np.float32)
        return (ratings >= LIKE_THRESHOLD).astype(np.float32)

    def liked(self, y):
        """The like label (0/1) of targets ``y``, in or out of a graph."""
        return ops.cast(y >= LIKE_THRESHOLD, "float32") if self.learns_from_ratings else y

    def loss(self, outputs, y, cut_steps=None, sample_weight=None):
        """Loss of a batch: model outputs (batch, outputs) against rating targets ``y``.

        Computed from the logits (``logits_of``), so the gradient does not
        vanish for confident rows. ``sample_weight`` scales each row's terms;
        as in Keras' losses, the sum is divided by the batch size (the like
        term of a rated-head model by the number of rated rows).
        """
        logits = logits_of(outputs)
        y = ops.reshape(ops.cast(y, "float32"), (-1,))
        like_loss = self.like_loss(logits[:, 0], y, cut_steps)
        if not self.rated_head:
            return self._averaged(like_loss, None, y, sample_weight)
        rated = ops.cast(y > 0, "float32")
        rated_loss = keras.losses.binary_crossentropy(rated[:, None], logits[:, 1:], from_logits=True)
        return self._averaged(like_loss, rated_loss, y, sample_weight)

    def matching_loss(self, outputs, teacher_logits, y, sample_weight=None):
        """How far model outputs are from a teacher's logits (batch, outputs): its probabilities as soft targets.

        The cross-entropy of each output against the teacher's probability
        for it, averaged over the rows ``loss`` averages that output over (a
        rated-head model's like output over rated rows: the teacher's like
        logit says nothing a label could check on a movie nobody rated). Its
        gradient is zero where the outputs equal the teacher's.
        """
        logits = logits_of(outputs)
        soft = ops.sigmoid(ops.cast(teacher_logits, "float32"))
        y = ops.reshape(ops.cast(y, "float32"), (-1,))
        terms = [keras.losses.binary_crossentropy(soft[:, i : i + 1], logits[:, i : i + 1], from_logits=True)
                 for i in range(self.num_outputs)]  # fmt: skip
        return self._averaged(terms[0], terms[1] if self.rated_head else None, y, sample_weight)

    def _averaged(self, like_terms, rated_terms, y, sample_weight=None):
        """One loss from per-row like and rated terms: each row scaled by its weight, the sum divided by the batch
        size, but the like terms of a rated-head model (``rated_terms`` given) by the number of rated rows."""
        weight = ops.ones_like(y) if sample_weight is None else ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        batch = ops.cast(ops.shape(y)[0], "float32")
        like_loss = weight * like_terms
        if rated_terms is None:
            return ops.sum(like_loss) / batch
        rated = ops.cast(y > 0, "float32")
        like_loss = ops.sum(like_loss * rated) / ops.maximum(ops.sum(rated), 1.0)
        return like_loss + ops.sum(weight * rated_terms) / batch

    def like_loss(self, like_logit, y, cut_steps=None):
        """Per-row loss of the like logit against ratings ``y``: ordinal cut-points, or like / not like."""
        if not self.ordinal:
            liked = ops.cast(y >= LIKE_THRESHOLD, "float32")[:, None]
            return keras.losses.binary_crossentropy(liked, like_logit[:, None], from_logits=True)
        like_index = RATING_CUTS.index(LIKE_THRESHOLD)
        offsets = cut_offsets(cut_steps)
        offsets = ops.concatenate([offsets[:like_index], ops.zeros((1,)), offsets[like_index:]], axis=0)
        targets = ops.cast(y[:, None] >= ops.convert_to_tensor(RATING_CUTS, "float32"), "float32")
        return keras.losses.binary_crossentropy(targets, like_logit[:, None] + offsets, from_logits=True)
