"""Scoring: many code rows in batches, or a whole catalogue for people with the per-movie work done once.

Ranking scores every catalogue movie for one person at one date, and only the
six movie fields change from row to row. Everything that depends on the movie
fields alone is computed once per catalogue (``candidate_parts``): their
embeddings, the first interacting layer's projections, their first-order
terms and, for AutoInt+, the movie share of the tower's first layer (it is
linear in the embeddings). ``score_candidates`` then adds each person's share
and runs the rest of the network. Self-attention does not depend on the order
of the fields, so rows are laid out as [shared fields, candidate fields] (a
history-aware model's pooled history joins the shared ones when it is a mean,
and comes last, per pair, when the candidate is its attention's query) and
only the kernels that read flattened fields are permuted to match.
``CandidateScorer`` wraps both in one compiled call per request.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
from keras import ops

from movierec.features import CONTEXT_FIELDS, FIELD_POSITION, MOVIE_FIELDS, USER_FIELDS, FeatureEncoder
from movierec.objectives import log_ranking_scores

CANDIDATE_FIELDS = tuple(FIELD_POSITION[f] for f in MOVIE_FIELDS)
# The catalogue is scored as independent halves in one graph, so TensorFlow can run the single-threaded
# kernels of each half on its own core (README, "The app", has the measurements).
CANDIDATE_CHUNKS = 2
# The config keys of a ranking rule, in the order ``ranking_rule`` returns them.
RANKING_OPTIONS = ("ranking_like_exponent", "ranking_prior_gain")
# The rule of a model saved before rules existed, and every model's until one is chosen: its own P(rated and liked).
PRODUCT_RULE = (1.0, 1.0)


def predict_rows(
    model,
    codes: np.ndarray,
    batch_size: int = 32768,
    history: np.ndarray | None = None,
    prior: np.ndarray | None = None,
) -> np.ndarray:
    """Like probabilities (the first output) for many code rows, one compiled call per batch.

    A history-aware model also takes each row's ``history`` (rows,
    history_length); a model with an EASE prior each row's ``prior`` (rows,).
    """
    model.pack_inputs(codes, history, prior)  # says what is missing before any work
    out = np.empty(len(codes), dtype=np.float32)
    for start in range(0, len(codes), batch_size):
        rows = slice(start, start + batch_size)
        chunk = [None if a is None else a[rows] for a in (codes, history, prior)]
        out[rows] = np.asarray(model.predict_on_batch(model.pack_inputs(*chunk))).reshape(len(chunk[0]), -1)[:, 0]
    return out


@dataclass(frozen=True)
class CandidateParts:
    """The per-candidate share of the network, one row per candidate movie.

    ``query``/``key``/``value`` are split into heads (candidates, heads,
    fields, width); the optional parts are None when the model has no such
    piece (no interacting layer, no residual, no first-order term, no tower).
    """

    embeddings: object
    query: object = None
    key: object = None
    value: object = None
    residual: object = None
    linear: object = None
    tower: object = None

    def rows(self, start: int, stop: int) -> CandidateParts:
        """The parts of candidates ``start:stop``."""
        sliced = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        return replace(self, **{name: value[start:stop] for name, value in sliced.items()})


def field_rows(kernel, n_fields: int, order: Sequence[int]):
    """A kernel over flattened per-field vectors, its row blocks reordered to ``order`` of the fields."""
    blocks = ops.reshape(kernel, (n_fields, -1, ops.shape(kernel)[-1]))
    return ops.reshape(ops.take(blocks, list(order), axis=0), (-1, ops.shape(kernel)[-1]))


def _tower(model):
    """The model's parallel DNN tower over the flattened embeddings (AutoInt+), or None."""
    return getattr(model, "tower", None)


def _history_position(model) -> int | None:
    """Where a history-aware model's pooled history sits among its field vectors (the last), or None."""
    return len(model.vocab_sizes) if getattr(model, "history_length", 0) else None


def candidate_parts(model, codes, candidate_fields: Sequence[int]) -> CandidateParts:
    """Per-candidate work for candidate code rows (candidates, fields); other positions are ignored."""
    own = list(candidate_fields)
    embeddings = ops.take(model.embedding(codes), own, axis=1)
    parts = {"embeddings": embeddings}
    if model.interacting:
        first = model.interacting[0]
        qkv, residual = first.project(embeddings)
        parts["query"], parts["key"], parts["value"] = first.split_heads(qkv)
        parts["residual"] = residual
    if model.linear is not None:
        parts["linear"] = ops.sum(ops.take(model.linear(codes), own, axis=1), axis=1)
    tower = _tower(model)
    if tower is not None:
        kernel = field_rows(tower.first_dense.kernel, model.field_count, own)
        parts["tower"] = ops.matmul(ops.reshape(embeddings, (ops.shape(codes)[0], -1)), kernel)
    return CandidateParts(**parts)


def pooled_histories(model, history, parts: CandidateParts, candidate_fields: Sequence[int]):
    """Each person's pooled history for every candidate (people, candidates, d), or (people, 1, d) for mean pooling.

    Attention pooling asks the candidate movie (the query), so the pooled
    vector differs per candidate; the weights are formed per (person,
    candidate) without copying a history per candidate.
    """
    items = model.embedding.lookup(model.history_field, history)
    queries = parts.embeddings[:, list(candidate_fields).index(model.history_field)]
    weights = model.pooling.pairwise_weights(items, ops.not_equal(history, 0), queries)
    return ops.einsum("pcl,pld->pcd", weights, items)


def score_candidates(
    model,
    shared_codes,
    parts: CandidateParts,
    candidate_fields: Sequence[int],
    history=None,
    prior=None,
    terms: bool = False,
):
    """Ranking scores (people, candidates) of every candidate in ``parts`` for each shared-code row.

    ``shared_codes`` (people, fields) hold each person's (and date's) codes;
    the candidate positions are ignored. A history-aware model also takes
    each person's ``history`` (people, history_length), a model with an EASE
    prior the ``prior`` (people, candidates) of every pair. Under the plain
    rule (exponent 1, gain 1) equals ``log(ranking_scores(model(inputs)))``
    on the assembled rows, up to float rounding, at a fraction of the cost.

    Rows are laid out as [person's fields, candidate's fields, pair field]:
    a mean-pooled history is one more field of the person's, an
    attention-pooled one depends on the pair and is projected per pair.

    The scores follow the model's ranking rule (``ranking_rule``). With
    ``terms`` the logits come back instead, as (people, candidates, outputs)
    for the network without its prior and for the prior's share (zeros for
    a model without one), which is what a choice of that rule is made from.
    """
    own = list(candidate_fields)
    shared = [i for i in range(len(model.vocab_sizes)) if i not in own]
    people, candidates = ops.shape(shared_codes)[0], ops.shape(parts.embeddings)[0]
    pairwise = None  # the pair fields' vectors (people * candidates, 1, d), if any
    embeddings = ops.take(model.embedding(shared_codes), shared, axis=1)
    person_fields, pair_fields = list(shared), []
    if _history_position(model) is not None:
        if history is None:
            raise ValueError("this model reads each person's history: pass history (people, history_length)")
        pooled = pooled_histories(model, history, parts, own)
        if model.history_pooling == "mean":
            embeddings = ops.concatenate([embeddings, pooled], axis=1)
            person_fields.append(_history_position(model))
        else:
            pairwise = ops.reshape(pooled, (people * candidates, 1, ops.shape(pooled)[-1]))
            pair_fields.append(_history_position(model))

    def rows(per_person, per_candidate, axis: int, per_pair=None):
        """(people, ...), (candidates, ...) [and (people * candidates, ...)] joined along ``axis`` of a row."""
        pieces = [
            ops.broadcast_to(per_person[:, None], (people, candidates, *per_person.shape[1:])),
            ops.broadcast_to(per_candidate[None], (people, candidates, *per_candidate.shape[1:])),
        ]
        if per_pair is not None:  # joined in the same copy: a second concatenation would copy every row again
            pieces.append(ops.reshape(per_pair, (people, candidates, *per_pair.shape[1:])))
        joined = ops.concatenate(pieces, axis=axis + 1)
        return ops.reshape(joined, (people * candidates, *joined.shape[2:]))

    def pairs(per_person, per_candidate):  # (people, k), (candidates, k) -> (people * candidates, k)
        total = per_person[:, None] + per_candidate[None]
        return ops.reshape(total, (people * candidates, ops.shape(total)[-1]))

    if model.interacting:
        first, *rest = model.interacting
        qkv, residual = first.project(embeddings)
        mine = first.split_heads(qkv)
        theirs = (parts.query, parts.key, parts.value)
        pair_qkv, pair_residual = first.project(pairwise) if pairwise is not None else (None, None)
        pair_heads = first.split_heads(pair_qkv) if pair_qkv is not None else (None,) * 3
        heads = [rows(m, t, 2, p) for m, t, p in zip(mine, theirs, pair_heads, strict=True)]
        hidden = first.mix(*heads, None if residual is None else rows(residual, parts.residual, 1, pair_residual))
        for layer in rest:
            hidden = layer(hidden)
    else:
        hidden = rows(embeddings, parts.embeddings, 1, pairwise)
    order = person_fields + own + pair_fields
    kernel = field_rows(model.attention_logit.kernel, len(order), order)
    logit = ops.matmul(ops.reshape(hidden, (people * candidates, -1)), kernel) + model.attention_logit.bias
    if model.linear is not None:
        logit = logit + pairs(ops.sum(ops.take(model.linear(shared_codes), shared, axis=1), axis=1), parts.linear)
    prior_logit = None  # a model without a prior adds nothing to a ranking
    if getattr(model, "prior_logit", None) is not None:
        if prior is None:
            raise ValueError("this model reads an EASE prior: pass prior (people, candidates)")
        prior_logit = model.prior_term(ops.reshape(prior, (-1,)))
    tower = _tower(model)
    if tower is not None:
        first_kernel = tower.first_dense.kernel
        kernel = field_rows(first_kernel, model.field_count, person_fields)
        product = pairs(ops.matmul(ops.reshape(embeddings, (people, -1)), kernel), parts.tower)
        if pairwise is not None:
            kernel = field_rows(first_kernel, model.field_count, pair_fields)
            product = product + ops.matmul(ops.reshape(pairwise, (people * candidates, -1)), kernel)
        logit = logit + tower.from_first_product(product)
    if terms:
        shape = (people, candidates, ops.shape(logit)[-1])
        prior_logit = ops.zeros_like(logit) if prior_logit is None else prior_logit
        return ops.reshape(logit, shape), ops.reshape(prior_logit, shape)
    return ops.reshape(ranked_by(logit, prior_logit, *ranking_rule(model)), (people, candidates))


def ranking_rule(model) -> tuple[float, float]:
    """A model's ranking rule: (like exponent, prior gain); (1, 1) ranks by the model's own P(rated and liked)."""
    rule = zip(RANKING_OPTIONS, PRODUCT_RULE, strict=True)
    exponent, gain = (float(getattr(model, option, plain)) for option, plain in rule)
    return exponent, gain


def set_ranking_rule(model, rule: Sequence[float]) -> None:
    """Give ``model`` the ranking rule ``(like exponent, prior gain)``; scorers built afterwards compile it in."""
    for option, value in zip(RANKING_OPTIONS, rule, strict=True):
        setattr(model, option, float(value))


def ranked_by(logit, prior_logit, like_exponent: float = 1.0, prior_gain: float = 1.0):
    """Ranking scores (rows,) from the network's logits and the prior's share (rows, outputs) under a rule.

    The prior's share (None: no prior) is multiplied by ``prior_gain``, then
    ``objectives.log_ranking_scores`` gives log P(rated) + ``like_exponent``
    x log P(like | rated) (log P(like) for a one-output model): the log of the
    product, which does not saturate. Works on tensors and NumPy arrays alike.
    """
    if prior_logit is None:
        total = logit
    else:
        total = logit + prior_logit if prior_gain == 1.0 else logit + prior_gain * prior_logit
    return log_ranking_scores(total, like_exponent)


def _checked(values, shape, dtype, what: str, people: int) -> np.ndarray:
    """``values`` as ``dtype`` if the model reads them (``shape`` given), else a (people, 1) placeholder of zeros."""
    if not shape:  # the compiled call's signature still takes one column, which it ignores
        return np.zeros((people, 1), dtype)
    if values is None or np.shape(values) != shape:
        got = None if values is None else np.shape(values)
        raise ValueError(f"this model reads {what}: expected shape {shape}, got {got}")
    return np.asarray(values, dtype=dtype)


class CandidateScorer:
    """Scores all movies of a catalogue for any number of (user, date) rows.

    The cached per-movie parts belong to the model's weights and the ranking
    rule belongs to its ``ranking_*`` options at construction (both are
    compiled in); build a new scorer after changing either.
    """

    def __init__(self, model, encoder: FeatureEncoder, movies: pd.DataFrame, people_per_call: int = 16):
        import tensorflow as tf

        self.encoder = encoder
        self.movie_ids = movies["movie_id"].to_numpy()
        self.movie_codes = encoder.encode_movies(movies)
        self.people_per_call = people_per_call
        no_person = self.encoder.assemble(
            np.zeros((1, len(USER_FIELDS)), np.int32), self.movie_codes, np.zeros((1, len(CONTEXT_FIELDS)), np.int32)
        )
        parts = candidate_parts(model, no_person, CANDIDATE_FIELDS)
        bounds = np.linspace(0, self.n_movies, CANDIDATE_CHUNKS + 1).astype(int)
        spans = [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]
        self.parts = [parts.rows(a, b) for a, b in spans]
        # The candidates' movie_id codes, what an EASE prior is looked up by (``movierec.prior``).
        self.candidate_codes = self.movie_codes[:, MOVIE_FIELDS.index("movie_id")]
        self.reads_prior = getattr(model, "prior_logit", None) is not None

        self.history_length = int(getattr(model, "history_length", 0))
        # At least one slot, so a history-free model's graph has the same signature (and ignores it).
        history_spec = tf.TensorSpec((None, max(self.history_length, 1)), tf.int32)

        signature = [
            tf.TensorSpec((None, len(encoder.fields)), tf.int32),
            history_spec,
            tf.TensorSpec((None, None), tf.float32),  # (people, movies) for a prior model, else (people, 1)
        ]

        def compiled(terms: bool):
            # Plain Python control flow over a fixed list of parts: nothing for AutoGraph to convert.
            @tf.autograph.experimental.do_not_convert
            def score_catalogue(shared, history, prior):
                history = history if self.history_length else None
                chunks = []
                for part, (a, b) in zip(self.parts, spans, strict=True):
                    part_prior = prior[:, a:b] if self.reads_prior else None
                    chunks.append(score_candidates(model, shared, part, CANDIDATE_FIELDS, history, part_prior, terms))
                if terms:
                    return tuple(tf.concat([chunk[i] for chunk in chunks], axis=1) for i in range(2))
                return tf.concat(chunks, axis=1)

            # The concrete function itself: calling it skips tf.function's argument binding (about 1 ms a call).
            return tf.function(score_catalogue, input_signature=signature).get_concrete_function()

        self._tensor = tf.convert_to_tensor
        self._score = compiled(terms=False)
        self._compile_terms = lambda: compiled(terms=True)  # only a choice of ranking rule needs it
        self._terms = None

    @property
    def n_movies(self) -> int:
        return len(self.movie_ids)

    def score(
        self,
        user_codes: np.ndarray,
        context_codes: np.ndarray,
        history: np.ndarray | None = None,
        prior: np.ndarray | None = None,
    ) -> np.ndarray:
        """Ranking scores (users, movies): what the model ranks recommendations by (``ranked_by``, log scale).

        A history-aware model needs each user's ``history`` (users,
        history_length) of movie codes (``movierec.history``), a model with an
        EASE prior each user's ``prior`` (users, movies) for the catalogue's
        ``candidate_codes`` (``movierec.prior``); others ignore them.
        """
        return self._run(self._score, False, user_codes, context_codes, history, prior)

    def score_terms(
        self,
        user_codes: np.ndarray,
        context_codes: np.ndarray,
        history: np.ndarray | None = None,
        prior: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The logits behind ``score``: the network's and the prior's share, each (users, movies, outputs).

        ``ranked_by`` turns them into the scores of any ranking rule, which is
        how a rule is chosen without scoring the catalogue once per rule.
        """
        if self._terms is None:
            self._terms = self._compile_terms()
        return self._run(self._terms, True, user_codes, context_codes, history, prior)

    def _run(self, compiled, terms: bool, user_codes, context_codes, history, prior):
        """``compiled`` over the people in batches of ``people_per_call``; its output (or two, ``terms``) joined."""
        no_movie = np.zeros((1, len(MOVIE_FIELDS)), np.int32)
        shared = self.encoder.assemble(user_codes, no_movie, context_codes)  # one row per user
        history = _checked(history, self.history_length and (len(shared), self.history_length), np.int32,
                           f"a history of {self.history_length} movie codes per user", len(shared))  # fmt: skip
        prior = _checked(prior, self.reads_prior and (len(shared), self.n_movies), np.float32,
                         "an EASE prior per movie", len(shared))  # fmt: skip
        batches = [slice(start, start + self.people_per_call) for start in range(0, len(shared), self.people_per_call)]
        tensor = self._tensor
        pieces = [compiled(tensor(shared[rows]), tensor(history[rows]), tensor(prior[rows])) for rows in batches]
        if not terms:
            return np.concatenate([p.numpy() for p in pieces])
        return tuple(np.concatenate([p[i].numpy() for p in pieces]) for i in range(2))
