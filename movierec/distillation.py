"""Distillation: a narrower network taught by a wider one's outputs as well as by the labels.

Half of AutoInt+'s ranking time is its tower's two 400 x 400 layers, running
near what two cores' arithmetic allows (README, "The app"), and a tower
trained from the labels alone at 128 or 200 wide keeps the catalogue ranking
but loses 0.0016 validation AUC. Knowledge distillation (Hinton, Vinyals and
Dean, 2015; Ba and Caruana, 2014, for matching a wide network with a smaller
one) adds a second target to every training row: the trained wide network's
probabilities. A rated row then says not only "liked" but how likely the
teacher thought that was, and a sampled unrated movie how likely the teacher
thought a rating was, which carries more than a 0 or 1 does.

The student's loss is the objective's loss on the labels plus ``weight``
times ``RatingObjective.matching_loss`` against the teacher's logits for the
same inputs (history and EASE prior included). The teacher must have seen no
more data than the student: one fitted on the training part for a student
fitted there, so validation judges both alike.
"""

from __future__ import annotations

import math

from keras import ops

from movierec.objectives import per_replica

# What a teacher and its student must agree on: the same inputs (vocabularies, history, the EASE prior the
# pipeline computes from the student's settings) and the same outputs, meaning the same thing.
MATCHED = ("vocab_sizes", "history_length", "history_field", "ease_l2", "ease_disliked_weight", "ordinal",
           "rated_head")  # fmt: skip


class Distillation:
    """A frozen teacher model and the weight of matching it; a model trains against it while it is set as the
    model's ``distillation`` (``movierec.training.fit`` does that for one fit)."""

    def __init__(self, student, teacher, weight: float):
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(f"the distillation weight must be a positive number, got {weight!r}")
        mine, theirs = student.get_config(), teacher.get_config()
        differ = [key for key in MATCHED if mine.get(key) != theirs.get(key)]
        if differ:
            shown = ", ".join(f"{key} {theirs.get(key)!r} (the student's {mine.get(key)!r})" for key in differ)
            raise ValueError(f"the teacher reads other inputs or gives other outputs than its student: {shown}")
        teacher.trainable = False
        self.teacher = teacher
        self.weight = float(weight)

    def loss(self, student, x, y, outputs, sample_weight=None):
        """``weight`` x how far the student's ``outputs`` for inputs ``x`` are from the teacher's, per replica."""
        teacher_logits = ops.stop_gradient(self.teacher.logits(x, training=False))
        matching = student.objective.matching_loss(outputs, teacher_logits, y, sample_weight)
        return per_replica(self.weight * matching)
