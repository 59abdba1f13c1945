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
  P(rated) x P(like | rated).

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


def ranking_scores(outputs):
    """What a recommendation ranks by, from model outputs (batch, 1 or 2).

    One output: the like probability. Two: P(rated) x P(like | rated).
    Plain slicing, so it works on NumPy arrays and on tensors inside a graph.
    """
    return outputs[:, 0] * outputs[:, 1] if outputs.shape[-1] == 2 else outputs[:, 0]


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

    def loss(self, outputs, y, cut_offsets=None):
        """Mean loss of probabilities ``outputs`` (batch, outputs) against rating targets ``y``."""
        p = ops.clip(outputs, 1e-7, 1.0 - 1e-7)
        logits = ops.log(p) - ops.log1p(-p)
        y = ops.reshape(ops.cast(y, "float32"), (-1,))
        like_loss = self.like_loss(logits[:, 0], y, cut_offsets)
        if not self.rated_head:
            return ops.mean(like_loss)
        rated = ops.cast(y > 0, "float32")
        like_loss = ops.sum(like_loss * rated) / ops.maximum(ops.sum(rated), 1.0)
        return like_loss + ops.mean(keras.losses.binary_crossentropy(rated[:, None], logits[:, 1:], from_logits=True))

    def like_loss(self, like_logit, y, cut_offsets=None):
        """Per-row loss of the like logit against ratings ``y``: ordinal cut-points, or like / not like."""
        if not self.ordinal:
            liked = ops.cast(y >= LIKE_THRESHOLD, "float32")[:, None]
            return keras.losses.binary_crossentropy(liked, like_logit[:, None], from_logits=True)
        like_index = RATING_CUTS.index(LIKE_THRESHOLD)
        offsets = ops.concatenate([cut_offsets[:like_index], ops.zeros((1,)), cut_offsets[like_index:]], axis=0)
        targets = ops.cast(y[:, None] >= ops.convert_to_tensor(RATING_CUTS, "float32"), "float32")
        return keras.losses.binary_crossentropy(targets, like_logit[:, None] + offsets, from_logits=True)
