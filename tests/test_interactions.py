"""The sparse rated matrix: one True per rated pair, repeats counted once, unknown ids refused."""

import numpy as np
import pandas as pd
import pytest

from movierec.interactions import rated_matrix


def test_rated_pairs_are_true_and_repeats_count_once():
    rated = pd.DataFrame({"user_id": [1, 1, 2, 1], "movie_id": [5, 6, 5, 5]})
    matrix = rated_matrix(rated, pd.Index([1, 2, 3]), pd.Index([5, 6, 7]))
    assert matrix.dtype == bool and matrix.nnz == 3
    np.testing.assert_array_equal(matrix.toarray(), [[True, True, False], [True, False, False], [False] * 3])


@pytest.mark.parametrize(("column", "value"), [("user_id", 9), ("movie_id", 99)])
def test_an_id_outside_the_index_is_named(column, value):
    rated = pd.DataFrame({"user_id": [1], "movie_id": [5]})
    rated.loc[0, column] = value
    with pytest.raises(KeyError, match=f"{column} {value} is not in the index"):
        rated_matrix(rated, pd.Index([1, 2]), pd.Index([5, 6]))
