"""Both ranking protocols against hand-computed cases."""

import numpy as np
import pytest

from movierec import metrics

LOG2 = np.log2


def test_seed_protocol_hand_computed():
    # user 1: scores rank items a > b > c; liked: b, c
    #   DCG = 1/log2(3) + 1/log2(4); IDCG over both liked = 1 + 1/log2(3); HR = 2/2
    # user 2: one liked item ranked second of two: DCG = 1/log2(3), IDCG = 1, HR = 1
    # user 3: nothing liked -> not averaged
    users = np.array([1, 1, 1, 2, 2, 3])
    items = np.array([10, 11, 12, 10, 13, 10])
    scores = np.array([0.9, 0.5, 0.1, 0.8, 0.2, 0.7])
    labels = np.array([0, 1, 1, 0, 1, 0])
    result = metrics.seed_protocol(users, items, scores, labels)
    ndcg_1 = (1 / LOG2(3) + 1 / LOG2(4)) / (1 + 1 / LOG2(3))
    ndcg_2 = 1 / LOG2(3)
    assert result["ndcg@10"] == pytest.approx((ndcg_1 + ndcg_2) / 2)
    assert result["hr@10"] == pytest.approx(1.0)
    assert result["users"] == 2


def test_seed_protocol_idcg_is_not_capped_at_k():
    # 12 liked items, the top 2 by score are liked, k = 2:
    # HR = 2/12 and IDCG sums all 12 discounts (not just 2)
    n = 12
    users = np.ones(n, dtype=int)
    items = np.arange(n)
    scores = -np.arange(n, dtype=float)
    labels = np.ones(n, dtype=int)
    result = metrics.seed_protocol(users, items, scores, labels, k=2)
    idcg = sum(1 / LOG2(i + 2) for i in range(n))
    assert result["hr@2"] == pytest.approx(2 / 12)
    assert result["ndcg@2"] == pytest.approx((1 + 1 / LOG2(3)) / idcg)


def test_seed_protocol_breaks_ties_by_item_id():
    users = np.array([1, 1, 1])
    items = np.array([7, 3, 5])
    scores = np.array([0.5, 0.5, 0.5])
    labels = np.array([0, 1, 0])  # item 3 wins the tie: it is ranked first
    assert metrics.seed_protocol(users, items, scores, labels, k=1)["hr@1"] == 1.0


def test_full_ranking_hand_computed():
    # 2 users x 5 items; user 0 has seen item 0, liked items 2 and 4 in test.
    scores = np.array([[9.0, 1.0, 5.0, 3.0, 2.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    seen = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]], dtype=bool)
    relevant = np.array([[0, 0, 1, 0, 1], [1, 0, 0, 0, 0]], dtype=bool)
    acc = metrics.RankingAccumulator(k=2)
    acc.add(scores, seen, relevant)
    # user 0: item 0 is excluded, top-2 = [2, 3]: hit at rank 1; IDCG@2 = 1 + 1/log2(3)
    # user 1: item 4 excluded, top-2 = [3, 2]: no hit
    result = acc.result()
    assert result["ndcg@2"] == pytest.approx((1 / (1 + 1 / LOG2(3)) + 0) / 2)
    assert result["hit@2"] == pytest.approx(0.5)
    assert result["users"] == 2
    # Over a subset of the users added: user 0 alone, user 1 alone.
    assert acc.result(np.array([True, False]))["ndcg@2"] == pytest.approx(1 / (1 + 1 / LOG2(3)))
    assert acc.result(np.array([False, True])) == {"ndcg@2": 0.0, "hit@2": 0.0, "users": 1}
    with pytest.raises(ValueError, match="1 flags for 2 users"):
        acc.result(np.array([True]))


def test_full_ranking_skips_users_with_nothing_relevant_and_caps_idcg():
    scores = np.arange(30, dtype=float)[None, ::-1].repeat(2, axis=0)  # item 0 is best
    seen = np.zeros_like(scores, dtype=bool)
    relevant = np.zeros_like(seen)
    relevant[0, :15] = True  # 15 relevant, all ranked first: perfect NDCG@10 with IDCG capped at 10
    acc = metrics.RankingAccumulator(k=10)
    acc.add(scores, seen, relevant)
    assert acc.result() == {"ndcg@10": pytest.approx(1.0), "hit@10": 1.0, "users": 1}


def test_auc_and_logloss():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    assert metrics.auc(y, p) == pytest.approx(0.75)
    assert metrics.logloss(y, p) == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.4, 0.9])))


def test_empty_input_gives_no_users_instead_of_a_crash():
    empty = np.array([])
    assert metrics.seed_protocol(empty, empty, empty, empty) == {"ndcg@10": pytest.approx(np.nan, nan_ok=True),
                                                                 "hr@10": pytest.approx(np.nan, nan_ok=True),
                                                                 "users": 0}  # fmt: skip
    result = metrics.RankingAccumulator().result()
    assert result["users"] == 0 and np.isnan(result["ndcg@10"])
    with pytest.raises(ValueError, match="same length"):
        metrics.seed_protocol(np.array([1, 2]), np.array([1]), np.array([0.5]), np.array([1]))


def test_a_bootstrap_interval_holds_its_mean_is_seeded_and_narrows_with_more_people():
    rng = np.random.default_rng(1)
    few, many = rng.random(50), rng.random(5000)
    mean, low, high = metrics.bootstrap_interval(few)
    assert low < mean < high and mean == pytest.approx(few.mean())
    assert metrics.bootstrap_interval(few) == (mean, low, high)  # seeded: the same draw twice
    assert metrics.bootstrap_interval(few, seed=1)[1:] != (low, high)  # and another seed, another draw
    _, low_many, high_many = metrics.bootstrap_interval(many)
    assert high_many - low_many < (high - low) / 5  # about sqrt(100) narrower
    # A mean's standard error is sd / sqrt(n): a 95% interval spans about 2 x 1.96 of it.
    assert high_many - low_many == pytest.approx(2 * 1.96 * many.std() / np.sqrt(len(many)), rel=0.15)


def test_a_paired_interval_keeps_each_persons_two_values_together():
    rng = np.random.default_rng(2)
    base = rng.random(2000)
    lead = base + 0.01  # every person exactly 0.01 better: paired, no doubt about the lead
    mean, low, high = metrics.bootstrap_interval(lead, base)
    assert mean == pytest.approx(0.01) and low == pytest.approx(0.01) and high == pytest.approx(0.01)
    # Unpaired, the people's spread would swamp it: each mean alone moves by far more than 0.01.
    _, alone_low, alone_high = metrics.bootstrap_interval(lead)
    assert alone_high - alone_low > 0.02
    assert metrics.bootstrap_interval(base, base)[1:] == (0.0, 0.0)


def test_a_relative_interval_is_the_lead_as_a_share_of_the_baselines_mean():
    rng = np.random.default_rng(3)
    base = rng.random(3000) + 0.5
    mean, low, high = metrics.bootstrap_interval(base * 1.05, base, relative=True)
    assert mean == pytest.approx(0.05) and low == pytest.approx(0.05) and high == pytest.approx(0.05)
    noisy = base + rng.normal(0.05, 0.3, len(base))  # 0.05 better on average, with spread of its own
    mean, low, high = metrics.bootstrap_interval(noisy, base, relative=True)
    assert mean == pytest.approx(noisy.mean() / base.mean() - 1) and low < mean < high
    difference = metrics.bootstrap_interval(noisy, base)
    assert low == pytest.approx(difference[1] / base.mean(), rel=0.1)  # about the difference over the mean


@pytest.mark.parametrize(("values", "baseline", "kwargs", "message"), [
    (np.ones(3), np.ones(4), {}, "paired values differ in shape"),
    (np.array([]), None, {}, "one value per person"),
    (np.ones((2, 2)), None, {}, "one value per person"),
    (np.ones(3), None, {"level": 1.0}, "level must lie in"),
    (np.ones(3), None, {"resamples": 0}, "resamples be positive"),
    (np.ones(3), None, {"relative": True}, "relative lead needs the baseline"),
    (np.ones(3), np.zeros(3), {"relative": True}, "mean is 0 is undefined"),
])
def test_a_bootstrap_of_nothing_or_of_unpaired_people_is_refused(values, baseline, kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.bootstrap_interval(values, baseline, **kwargs)
