"""EASE's score of a (person, movie) pair as one more model input: stacking, without leaking the answer.

EASE (``baselines.EASE``) ranks the catalogue better than a network that has
to learn every co-rating pattern from sampled negatives, and it is cheap: one
item x item matrix ``B`` in closed form. A model with ``ease_l2`` > 0 takes
``prior = x_u . B[:, movie]`` for each row, where ``x_u`` is the person's row
of rated movies, 1 for each (plain EASE) or, with ``ease_disliked_weight``
< 1, *graded*: a movie rated but not liked counts that much and ``B`` is
fitted on such rows (``features.rating_values``). The model learns how much
to trust the prior next to everything else it reads (``autoint.AutoInt``).
A person's whole rated set counts, not the capped history the network
pools: EASE loses much of its accuracy when it sees only the latest 100
movies.

Everything here lives in the encoder's ``movie_id`` code space, the space of
the model's rows and histories: ``B`` is (codes, codes), code 0 (a movie the
encoder does not know, or an empty slot) has a zero row and column.

Leakage. A training row must not get a prior computed from its own rating,
or the model learns that the prior is always high on rated rows. ``diag(B) =
0`` keeps the movie's own cell out of ``x_u . B[:, movie]``, but ``B`` itself
would still have been fitted on the row. So training rows are scored
*out-of-fold*: users are split into ``FOLDS`` seeded groups, and a user's
rows (rated or sampled negatives) read the ``B`` fitted on every other
group's ratings (``OutOfFoldPrior``). Rows that are only ever scored
(validation, test, the app) read one ``B`` fitted on the whole fitted part,
which never holds the rating being scored.

A newcomer's rated set. Training rows sum ``B`` over the whole rated set
of a known person, typically a hundred movies or more, while a visitor who
has rated five sums over five. A newcomer's prior (a person ``B`` was not
fitted on: a visitor, or a new-user protocol's held-out person) can be
rescaled by ``profile_scale``: ``(reference / n) ** power`` for ``n`` <
``reference`` rated movies (1 from ``reference`` on). ``power`` and
``reference`` are the model's ``prior_profile_power`` (0, no rescaling, by
default; chosen on the new-user protocol's validation people,
``movierec.newuser``) and ``prior_profile_reference`` (0: the median
rated-set size of the people ``B`` was fitted on; the protocol records the
median of its training part, which the power was chosen with). Known people's priors, and
training, are never rescaled: the choice was measured on newcomers only.

Serving fits ``B`` on every rating at start-up (seconds, mostly a dense
inverse). ``stored_weights`` keeps it on disk, named by a digest of exactly
what it is fitted from (the rated sets, their cells and l2), as a plain ``.npy`` with a
JSON note holding its SHA-256: a later start maps it read-only (only the
rows a person's movies touch take memory), and a file that is missing,
truncated or altered is simply fitted and written again.

Memory: ``B`` is codes x codes float32 (55 MB for ML-1M's 3,706 movies);
the rated sets are a sparse matrix, 8 bytes a rating. The out-of-fold
weights hold ``FOLDS`` such matrices (275 MB for ML-1M), during training
only, and the ``tf.data`` graph keeps its own, transposed copy of them (as
much again, and once more for a moment while it is made).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from movierec.baselines import ease_weights
from movierec.features import FeatureEncoder, rating_values
from movierec.files import atomic_write_bytes, sha256_file, write_json
from movierec.history import EMPTY
from movierec.interactions import last_cells
from movierec.prepared import Prepared

FOLDS = 5
FOLD_SEED = 42
STORE_VERSION = 1  # bump when fitted_weights changes what it computes, so stored B's are not reused
STORED_KEPT = 3  # stored B's kept (data or l2 changed: the older ones go)

log = logging.getLogger(__name__)


def rated_codes(
    rated: pd.DataFrame, user_index: pd.Index, encoder: FeatureEncoder, disliked_weight: float = 1.0
) -> sparse.csr_matrix:
    """The rated sets (users of ``user_index``, movie codes) of ``rated``; unknown movies are left out.

    A cell is ``rating_values`` of the rating (1 everywhere by default); a
    pair rated twice is one rated movie, with its later rating.
    """
    users = user_index.get_indexer(rated["user_id"].to_numpy())
    if (users < 0).any():
        raise KeyError(f"user_id {rated['user_id'].to_numpy()[users < 0][0]} of the ratings is not in user_index")
    codes = encoder.encode_movie_ids(rated["movie_id"].to_numpy())
    values = rating_values(rated["rating"].to_numpy(), disliked_weight)
    known = codes != EMPTY
    shape = (len(user_index), len(encoder.vocabularies["movie_id"]) + 1)
    return last_cells(users[known], codes[known], values[known], shape)


def fitted_weights(rated: sparse.csr_matrix, l2: float) -> np.ndarray:
    """EASE's ``B`` (codes, codes) float32 for rated sets (people, codes); the empty code's row and column are 0."""
    weights = ease_weights(rated[:, 1:], l2)
    out = np.zeros((rated.shape[1], rated.shape[1]), dtype=np.float32)
    out[1:, 1:] = weights
    return out


def weights_key(rated: sparse.csr_matrix, l2: float) -> str:
    """A digest of everything ``fitted_weights(rated, l2)`` depends on: l2, the rated sets and their cells."""
    digest = hashlib.sha256(f"ease-b v{STORE_VERSION} l2={float(l2)!r} shape={rated.shape}".encode())
    for part in (rated.indptr, rated.indices):
        digest.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(rated.data, dtype=np.float32).tobytes())
    return digest.hexdigest()


def stored_weights(rated: sparse.csr_matrix, l2: float, folder: str | Path) -> np.ndarray:
    """``fitted_weights(rated, l2)``, read from ``folder`` if fitted before, else fitted and written there."""
    key = weights_key(rated, l2)
    folder = Path(folder)
    array_file, note_file = folder / f"ease-{key[:32]}.npy", folder / f"ease-{key[:32]}.json"
    try:
        note = json.loads(note_file.read_text())
        if not isinstance(note, dict):
            raise ValueError("its note is not a JSON object")
        if note.get("key") != key or sha256_file(array_file) != note.get("sha256"):
            raise ValueError("the file does not match its note")
        # Mapped, not read: only the rows a person's rated movies touch take memory.
        weights = np.load(array_file, mmap_mode="r", allow_pickle=False)
        if weights.dtype != np.float32 or weights.shape != (rated.shape[1],) * 2:
            raise ValueError(f"a {weights.dtype} {weights.shape} array")
        with contextlib.suppress(OSError):  # used now: the newest, so forget_old_weights keeps it
            os.utime(array_file)
        return weights
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as err:  # truncated, altered or unreadable: fit again and replace it
        log.warning("the stored EASE weights %s cannot be used (%s); fitting them again", array_file, err)
    weights = fitted_weights(rated, l2)
    buffer = io.BytesIO()
    np.save(buffer, weights, allow_pickle=False)
    payload = buffer.getbuffer()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(array_file, payload)
        # The note last: a note always names an array that was completely written.
        write_json(note_file, {"key": key, "sha256": hashlib.sha256(payload).hexdigest(), "l2": float(l2),
                               "shape": list(weights.shape), "version": STORE_VERSION})  # fmt: skip
    except OSError as err:  # a read-only cache costs the next start the fit, nothing else
        log.warning("could not store the EASE weights in %s (%s)", folder, err)
    else:
        forget_old_weights(folder)
    return weights


def forget_old_weights(folder: Path, keep: int = STORED_KEPT) -> None:
    """Remove all but the ``keep`` most recently used stored B's (55 MB each for ML-1M); what cannot go stays."""
    arrays = sorted(folder.glob("ease-*.npy"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in arrays[keep:]:
        for path in (old, old.with_suffix(".json")):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


@dataclass(frozen=True)
class EasePrior:
    """One ``B`` over movie codes, fitted on the rated sets (users, codes) it keeps to score those users.

    Scores of the fitted users are the sums over their rated sets, each
    movie weighted by its cell (``rating_values`` with ``disliked_weight``);
    a newcomer's (``newcomer_scores``) are rescaled by ``profile_scale`` of
    their rated-set size, with ``profile_power`` (0, no rescaling, by
    default) and ``profile_reference`` (0: the median rated-set size of the
    fitted people).
    """

    weights: np.ndarray
    l2: float
    rated: sparse.csr_matrix
    profile_power: float = 0.0
    profile_reference: float = 0.0
    disliked_weight: float = 1.0

    def __post_init__(self) -> None:
        rating_values([], self.disliked_weight)  # refuses a weight outside (0, 1]
        # One pass, no sort: this runs at every start of the app and for every rescaled copy.
        cells = self.rated.data
        wrong = (cells != 1) & (cells != np.float32(self.disliked_weight))
        if wrong.any():
            stray = np.unique(cells[wrong])
            raise ValueError(f"the rated sets hold cells {stray[:3].tolist()}, not 1 and the disliked weight "
                             f"{self.disliked_weight}: fit it with the weight its rows were made with")  # fmt: skip

    @classmethod
    def fit(cls, rated: sparse.csr_matrix, l2: float, store: str | Path | None = None, **options) -> EasePrior:
        """``B`` fitted on ``rated``; kept in (and read from) the folder ``store`` if given (``stored_weights``).

        ``options`` are the profile's and the ``disliked_weight`` ``rated``'s cells were made with.
        """
        weights = fitted_weights(rated, l2) if store is None else stored_weights(rated, l2, store)
        return cls(weights, float(l2), rated, **options)

    @classmethod
    def of_parts(
        cls, prepared: Prepared, parts: Sequence[str], l2: float, disliked_weight: float = 1.0, **profile
    ) -> EasePrior:
        """``B`` fitted on the ratings of ``parts`` of the split."""
        rated = rated_codes(prepared.frame(*parts), prepared.user_index, prepared.encoder, disliked_weight)
        return cls.fit(rated, l2, disliked_weight=float(disliked_weight), **profile)

    @classmethod
    def for_model(cls, model, prepared: Prepared, parts: Sequence[str]) -> EasePrior | None:
        """The prior a model reads (fitted on ``parts`` with the model's ``ease_l2`` and ``ease_disliked_weight``),
        or None if it reads none."""
        l2 = float(getattr(model, "ease_l2", 0.0))
        return cls.of_parts(prepared, parts, l2, disliked_weight(model), **model_profile(model)) if l2 else None

    def with_profile(self, profile_power: float, profile_reference: float = 0.0) -> EasePrior:
        """The same ``B`` (arrays shared) rescaling newcomers by another power and reference."""
        return replace(self, profile_power=float(profile_power), profile_reference=float(profile_reference))

    @property
    def n_codes(self) -> int:
        return self.weights.shape[0]

    @cached_property
    def fitted_median(self) -> float:
        """The median rated-set size of the people ``B`` was fitted on (those who rated anything)."""
        sizes = np.diff(self.rated.indptr)
        return float(np.median(sizes[sizes > 0])) if (sizes > 0).any() else 1.0

    @property
    def reference_size(self) -> float:
        """The profile size a newcomer's prior is scaled towards: ``profile_reference``, else ``fitted_median``."""
        return float(self.profile_reference) if self.profile_reference > 0 else self.fitted_median

    def profile_scale(self, sizes) -> np.ndarray:
        """The factor (people,) a newcomer's prior summed over ``sizes`` rated movies is multiplied by.

        ``(reference_size / n) ** profile_power`` below the reference size, 1
        from it on and for an empty set (whose prior is 0 anyway).
        """
        sizes = np.asarray(sizes, dtype=np.float64)
        if not self.profile_power:
            return np.ones(sizes.shape, np.float32)
        reference = self.reference_size
        clipped = np.clip(sizes, 1.0, reference)
        return np.where(sizes > 0, (reference / clipped) ** self.profile_power, 1.0).astype(np.float32)

    def user_scores(self, user_rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Priors (users, candidates) float32 of every candidate movie code for the fitted users at ``user_rows``."""
        # Rows of B summed first, then the candidates taken: gathering B's columns would copy all of B.
        return np.asarray(self.rated[np.asarray(user_rows)] @ self.weights, np.float32)[:, np.asarray(candidates)]

    def movies_of(self, user_row: int) -> np.ndarray:
        """The movie codes a fitted user rated."""
        return self.rated.indices[self.rated.indptr[user_row] : self.rated.indptr[user_row + 1]]

    def cells_of(self, user_row: int) -> np.ndarray:
        """The cells (``rating_values``) of the movies ``movies_of`` gives, in its order."""
        return self.rated.data[self.rated.indptr[user_row] : self.rated.indptr[user_row + 1]]

    def cells(self, ratings) -> np.ndarray:
        """The cells of a person's ratings (1-5 stars) under this prior's ``disliked_weight``."""
        return rating_values(ratings, self.disliked_weight)

    def scores_of_codes(self, codes: Sequence[int], candidates: np.ndarray, cells=None) -> np.ndarray:
        """Priors (candidates,) for one person who rated the movies with these codes (0 ignored).

        ``cells`` (one per code, from ``cells``; 1 each if not given) weight
        the movies; a code given twice counts once, with its last cell.
        """
        codes = np.asarray(codes, dtype=np.int64).reshape(-1)
        cells = np.ones(len(codes), np.float32) if cells is None else np.asarray(cells, np.float32).reshape(-1)
        if len(cells) != len(codes):
            raise ValueError(f"{len(codes)} movie codes but {len(cells)} cells")
        if not ((cells > 0) & (cells <= 1)).all():  # NaN fails too; stars are not cells (``cells`` makes them)
            raise ValueError(f"cells are in (0, 1], got {cells[~((cells > 0) & (cells <= 1))][:3].tolist()}")
        distinct, last = np.unique(codes[::-1], return_index=True)
        cells, known = cells[::-1][last], distinct != EMPTY
        return weighted_rows(self.weights, distinct[known], cells[known])[np.asarray(candidates)]

    def newcomer_scores(self, codes: Sequence[int], candidates: np.ndarray, cells=None) -> np.ndarray:
        """``scores_of_codes`` for a person ``B`` was not fitted on, rescaled for how many movies they rated."""
        count = int((np.unique(np.asarray(codes, dtype=np.int64)) != EMPTY).sum())
        return self.scores_of_codes(codes, candidates, cells) * self.profile_scale(count)

    def pair_scores(self, user_rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Priors (rows,) of (fitted user row, candidate code) pairs."""
        return pair_scores(self.weights, self.rated, user_rows, candidates)


def disliked_weight(model) -> float:
    """The cell of a movie rated but not liked in the rated sets a model's prior sums over (1: plain EASE)."""
    return float(getattr(model, "ease_disliked_weight", 1.0))


def model_profile(model) -> dict[str, float]:
    """How a model rescales a newcomer's prior: its ``prior_profile_power`` and ``prior_profile_reference``."""
    return {
        "profile_power": float(getattr(model, "prior_profile_power", 0.0)),
        "profile_reference": float(getattr(model, "prior_profile_reference", 0.0)),
    }


def pair_scores(weights: np.ndarray, rated: sparse.csr_matrix, user_rows, candidates) -> np.ndarray:
    """``rated[u] . weights[:, c]`` for (user row, candidate code) pairs, user by user (no users x movies array)."""
    user_rows, candidates = np.asarray(user_rows), np.asarray(candidates)
    out = np.zeros(len(user_rows), dtype=np.float32)
    order = np.argsort(user_rows, kind="stable")
    bounds = np.flatnonzero(np.diff(user_rows[order])) + 1
    for rows in np.split(order, bounds) if len(order) else []:
        user = user_rows[rows[0]]
        span = slice(rated.indptr[user], rated.indptr[user + 1])
        out[rows] = weighted_rows(weights, rated.indices[span], rated.data[span], candidates[rows])
    return out


def weighted_rows(weights: np.ndarray, rows: np.ndarray, cells: np.ndarray, columns=None) -> np.ndarray:
    """``cells . weights[rows, columns]`` (float32; every column if None): a plain sum when every cell is 1, so a
    model whose prior is not graded gets the very floats it always did."""
    block = weights[rows] if columns is None else weights[np.ix_(rows, columns)]
    if (cells == 1).all():
        return block.sum(axis=0, dtype=np.float32)
    return (cells @ block).astype(np.float32)


def user_folds(n_users: int, folds: int = FOLDS, seed: int = FOLD_SEED) -> np.ndarray:
    """Each user row's fold (n_users,) int32: a seeded permutation dealt round-robin, so folds differ by <= 1."""
    if folds < 2:
        raise ValueError(f"out-of-fold scoring needs at least 2 folds, got {folds}")
    fold = np.empty(n_users, dtype=np.int32)
    fold[np.random.default_rng(seed).permutation(n_users)] = np.arange(n_users) % folds
    return fold


@dataclass(frozen=True)
class OutOfFoldPrior:
    """Per-fold ``B`` (folds, codes, codes), each fitted without its fold's users, and each user's fold.

    The rows a model is trained on read their user's fold's ``B`` with their
    user's whole rated set, so no training row's prior was fitted on it.
    """

    weights: np.ndarray
    fold_of_user: np.ndarray
    rated: sparse.csr_matrix

    @classmethod
    def fit(cls, rated: sparse.csr_matrix, l2: float, folds: int = FOLDS, seed: int = FOLD_SEED) -> OutOfFoldPrior:
        fold = user_folds(rated.shape[0], folds, seed)
        weights = np.stack([fitted_weights(rated[fold != f], l2) for f in range(folds)])
        return cls(weights, fold, rated)

    @classmethod
    def of_parts(
        cls, prepared: Prepared, parts: Sequence[str], l2: float, disliked_weight: float = 1.0
    ) -> OutOfFoldPrior:
        return cls.fit(rated_codes(prepared.frame(*parts), prepared.user_index, prepared.encoder, disliked_weight), l2)

    @classmethod
    def scoring_only(cls, prior: EasePrior) -> OutOfFoldPrior:
        """One fold holding every user: the rows read ``prior``'s ``B`` (for rows that are only scored)."""
        return cls(prior.weights[None], np.zeros(prior.rated.shape[0], dtype=np.int32), prior.rated)

    def pair_scores(self, user_rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Out-of-fold priors (rows,) of (user row, candidate code) pairs, in NumPy."""
        user_rows = np.asarray(user_rows)
        out = np.zeros(len(user_rows), dtype=np.float32)
        folds = self.fold_of_user[user_rows]
        for f in np.unique(folds):
            pick = folds == f
            out[pick] = pair_scores(self.weights[f], self.rated, user_rows[pick], np.asarray(candidates)[pick])
        return out

    def top_unrated(self, size: int, chunk: int = 1024) -> np.ndarray:
        """Each user's ``size`` best-scored movie codes they have not rated (users, size) int32, in no order.

        The scores are the out-of-fold priors the user's training rows read,
        so these are the unrated movies the prior alone ranks highest for
        them: hard negatives (``movierec.negatives``). A user with fewer than
        ``size`` unrated known movies has the rest filled with ``EMPTY``.
        Users are scored ``chunk`` at a time: no users x movies array.
        """
        n_users, n_codes = self.rated.shape[0], self.weights.shape[1]
        size = min(int(size), n_codes)
        out = np.full((n_users, size), EMPTY, dtype=np.int32)
        if size < 1:
            return out
        for f in range(self.weights.shape[0]):
            users = np.flatnonzero(self.fold_of_user == f)
            for start in range(0, len(users), chunk):
                rows = users[start : start + chunk]
                block = self.rated[rows]
                scores = np.asarray(block @ self.weights[f], np.float32)
                scores[np.repeat(np.arange(len(rows)), np.diff(block.indptr)), block.indices] = -np.inf
                scores[:, EMPTY] = -np.inf
                best = np.argpartition(-scores, size - 1, axis=1)[:, :size]
                out[rows] = np.where(np.isfinite(np.take_along_axis(scores, best, axis=1)), best, EMPTY)
        return out

    def graph_scorer(self):
        """A ``tf.function``-compatible ``(user rows (people,), candidate codes (people, m)) -> priors (people, m)``.

        For use in ``tf.data``: a rated row and its sampled negatives share
        their user, so they come as one person with m candidates, and the
        person's rated set is looked up once for all m. Each (person, movie
        rated) pair then gathers its fold's ``B`` at (that movie, each
        candidate), and the gathers, each times the movie's cell, are summed
        per person and candidate.
        ``B`` is held transposed, candidate-major, so one person's gathers for
        a candidate fall in one row of it rather than one per movie rated
        (``bench/prior_speed.py`` times it against a look-up per row). Each
        cell is ``pair_scores``' per-pair sum, up to float rounding.
        """
        import tensorflow as tf

        n_codes = self.weights.shape[1]
        # (folds, candidate, rated movie), flattened; the transposed copy is freed once it is a constant
        flat = tf.constant(np.ascontiguousarray(self.weights.transpose(0, 2, 1)).reshape(-1))
        indptr = tf.constant(self.rated.indptr.astype(np.int64))
        indices = tf.constant(self.rated.indices.astype(np.int64))
        cells = tf.constant(self.rated.data.astype(np.float32))
        fold_of_user = tf.constant(self.fold_of_user.astype(np.int64))

        def score(users, candidates):
            users, candidates = tf.cast(users, tf.int64), tf.cast(candidates, tf.int64)
            starts, stops = tf.gather(indptr, users), tf.gather(indptr, users + 1)
            positions = tf.ragged.range(starts, stops)
            person = positions.value_rowids()  # the person of each (person, movie rated) pair
            items = tf.gather(indices, positions.flat_values)
            weighted = tf.gather(cells, positions.flat_values)[:, None]  # each movie rated counts by its cell
            folds = tf.gather(tf.gather(fold_of_user, users), person)
            keys = ((folds * n_codes)[:, None] + tf.gather(candidates, person)) * n_codes + items[:, None]
            # keys (pairs, m) address B[fold, item, candidate] in the transposed layout
            return tf.math.unsorted_segment_sum(tf.gather(flat, keys) * weighted, person, tf.shape(users)[0])

        return score
