"""The A/B test statistics of campaigns, checked against scipy and against hand computations."""

import hashlib
import math
import os
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation
from scipy import special, stats

from marketing.campaigns import stats as ab
from marketing.campaigns.stats import (
    Comparison,
    assign_variant,
    compare_means,
    compare_means_summary,
    compare_rates,
    detectable_effect,
    sample_size_per_arm,
)

ROOT = Path(__file__).resolve().parents[3]


def pooled_z_test(a_successes, a_trials, b_successes, b_trials):
    """The textbook two-proportion z-test, computed with scipy's normal distribution."""
    pa, pb = a_successes / a_trials, b_successes / b_trials
    pooled = (a_successes + b_successes) / (a_trials + b_trials)
    z = (pb - pa) / math.sqrt(pooled * (1 - pooled) * (1 / a_trials + 1 / b_trials))
    return 2 * stats.norm.sf(abs(z))


def revenue(rng, n, buy_rate, mean_order):
    """Revenue per recipient as a campaign sees it: mostly zeros, a few skewed order amounts."""
    return [
        Decimal(f"{rng.lognormvariate(math.log(mean_order), 0.8):.2f}") if rng.random() < buy_rate else Decimal("0")
        for _ in range(n)
    ]


# Rates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a_successes", "a_trials", "b_successes", "b_trials"),
    [(200, 2000, 250, 2000), (120, 1500, 131, 1700), (45, 400, 30, 420), (5000, 50000, 5210, 49000)],
)
def test_it_gives_the_p_value_of_the_pooled_z_test_and_of_the_chi_squared_test(
    a_successes, a_trials, b_successes, b_trials
):
    result = compare_rates(a_successes=a_successes, a_trials=a_trials, b_successes=b_successes, b_trials=b_trials)

    assert result.p_value == pytest.approx(pooled_z_test(a_successes, a_trials, b_successes, b_trials), abs=1e-6)
    table = [[a_successes, a_trials - a_successes], [b_successes, b_trials - b_successes]]
    chi2_p = stats.chi2_contingency(table, correction=False).pvalue
    assert result.p_value == pytest.approx(chi2_p, abs=1e-6)
    assert result.a_value == a_successes / a_trials
    assert result.b_value == b_successes / b_trials


def test_it_gives_the_wald_interval_of_the_difference_at_one_minus_alpha():
    result = compare_rates(a_successes=200, a_trials=2000, b_successes=250, b_trials=2000, alpha=0.1)

    pa, pb = 0.1, 0.125
    margin = stats.norm.ppf(0.95) * math.sqrt(pa * (1 - pa) / 2000 + pb * (1 - pb) / 2000)
    assert result.confidence == pytest.approx(0.9)
    assert result.confidence_interval == pytest.approx((0.025 - margin, 0.025 + margin), abs=1e-9)
    assert result.lift == pytest.approx(0.25)


def test_it_names_a_clear_winner():
    result = compare_rates(a_successes=100, a_trials=2000, b_successes=200, b_trials=2000)

    assert (result.winner, result.reason) == ("b", "significant")
    assert result.significant
    assert result.p_value < 1e-6
    assert result.confidence_interval[0] > 0
    assert result.lift == pytest.approx(1.0)


def test_it_is_symmetric_in_the_variants():
    forward = compare_rates(a_successes=100, a_trials=2000, b_successes=200, b_trials=2100)
    backward = compare_rates(a_successes=200, a_trials=2100, b_successes=100, b_trials=2000)

    assert (forward.winner, backward.winner) == ("b", "a")
    assert forward.p_value == pytest.approx(backward.p_value, rel=1e-12)
    low, high = forward.confidence_interval
    assert backward.confidence_interval == pytest.approx((-high, -low), abs=1e-12)
    assert (forward.a_value, forward.b_value) == (backward.b_value, backward.a_value)


def test_it_calls_a_small_difference_not_significant():
    result = compare_rates(a_successes=200, a_trials=2000, b_successes=215, b_trials=2000)

    assert (result.winner, result.reason) == (None, "not significant")
    assert 0.05 < result.p_value < 1
    low, high = result.confidence_interval
    assert low < 0 < high
    assert result.lift == pytest.approx(0.075)


def test_it_gives_a_p_value_of_one_to_equal_rates():
    result = compare_rates(a_successes=150, a_trials=1000, b_successes=150, b_trials=1000)

    assert (result.winner, result.reason, result.p_value, result.lift) == (None, "not significant", 1.0, 0.0)


def test_it_decides_against_alpha():
    figures = {"a_successes": 200, "a_trials": 2000, "b_successes": 240, "b_trials": 2000}
    p_value = pooled_z_test(200, 2000, 240, 2000)
    assert 0.01 < p_value < 0.05

    assert compare_rates(**figures, alpha=0.05).winner == "b"
    assert compare_rates(**figures, alpha=0.01).reason == "not significant"


@pytest.mark.parametrize(
    ("a_successes", "a_trials", "b_successes", "b_trials", "min_trials"),
    [
        (2, 20, 15, 20, 100),  # a big difference, but 20 recipients per variant
        (20, 99, 60, 100, 100),  # one variant just below the floor
        (1, 400, 3, 400, 100),  # 2 expected clicks per variant
        (398, 400, 399, 400, 100),  # 1.5 expected non-clickers per variant
        (0, 5000, 0, 5000, 100),  # 0% against 0%: no variance to test with
        (5000, 5000, 5000, 5000, 100),  # 100% against 100%
        (1, 40, 7, 40, 10),  # the floor lowered, but 4 expected clicks per variant
    ],
)
def test_it_says_the_sample_is_too_small(a_successes, a_trials, b_successes, b_trials, min_trials):
    result = compare_rates(
        a_successes=a_successes, a_trials=a_trials, b_successes=b_successes, b_trials=b_trials, min_trials=min_trials
    )

    assert (result.winner, result.reason, result.p_value, result.confidence_interval) == (
        None,
        "sample too small",
        None,
        None,
    )
    assert result.a_value == a_successes / a_trials


def test_it_tests_once_the_floor_and_the_expected_counts_are_met():
    result = compare_rates(a_successes=5, a_trials=100, b_successes=20, b_trials=100)

    assert result.reason == "significant"
    assert result.p_value == pytest.approx(pooled_z_test(5, 100, 20, 100), abs=1e-6)


def test_it_says_no_data_when_a_variant_has_no_trials():
    result = compare_rates(a_successes=0, a_trials=0, b_successes=10, b_trials=100)

    assert (result.winner, result.reason, result.p_value, result.a_value, result.b_value, result.lift) == (
        None,
        "no data",
        None,
        None,
        0.1,
        None,
    )
    assert compare_rates(a_successes=0, a_trials=0, b_successes=0, b_trials=0).reason == "no data"


def test_it_tests_a_zero_rate_against_a_positive_one_without_a_lift():
    result = compare_rates(a_successes=0, a_trials=1000, b_successes=30, b_trials=1000)

    assert (result.winner, result.lift) == ("b", None)
    assert result.p_value == pytest.approx(pooled_z_test(0, 1000, 30, 1000), abs=1e-6)


@pytest.mark.parametrize(
    "figures",
    [
        {"a_successes": 11, "a_trials": 10, "b_successes": 1, "b_trials": 10},
        {"a_successes": -1, "a_trials": 10, "b_successes": 1, "b_trials": 10},
        {"a_successes": 1.5, "a_trials": 10, "b_successes": 1, "b_trials": 10},
        {"a_successes": 1, "a_trials": 10, "b_successes": 1, "b_trials": 10, "alpha": 0},
    ],
)
def test_it_refuses_impossible_rates(figures):
    with pytest.raises(ValueError):
        compare_rates(**figures)


# Means ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_a", "n_b", "seed"), [(150, 180, 1), (400, 260, 2), (3000, 2500, 3)])
def test_it_gives_welchs_p_value_and_interval_from_the_t_distribution(n_a, n_b, seed):
    rng = random.Random(seed)
    a, b = revenue(rng, n_a, 0.12, 40), revenue(rng, n_b, 0.16, 45)

    result = compare_means(a_values=a, b_values=b)

    expected = stats.ttest_ind([float(v) for v in b], [float(v) for v in a], equal_var=False)
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-6, rel=1e-6)
    interval = expected.confidence_interval(0.95)
    assert [float(bound) for bound in result.confidence_interval] == pytest.approx(
        [interval.low, interval.high], abs=1e-6
    )
    assert result.a_value == sum(a) / len(a)
    assert result.b_value == sum(b) / len(b)
    assert all(isinstance(value, Decimal) for value in (result.a_value, result.b_value, *result.confidence_interval))


def test_it_uses_the_normal_distribution_above_the_threshold_degrees_of_freedom():
    rng = random.Random(4)
    a, b = revenue(rng, 20_000, 0.03, 50), revenue(rng, 20_000, 0.034, 50)

    result = compare_means(a_values=a, b_values=b)

    welch = stats.ttest_ind([float(v) for v in b], [float(v) for v in a], equal_var=False)
    assert welch.df > ab.NORMAL_DF
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(welch.statistic)), abs=1e-6)
    assert result.p_value == pytest.approx(welch.pvalue, abs=0.32 / welch.df)


def test_it_computes_the_t_distribution_from_the_incomplete_beta_function():
    for a, b, x in [(0.5, 0.5, 0.3), (2.5, 0.5, 0.99), (50, 0.5, 0.9), (4999.5, 0.5, 0.999), (3, 7, 0.2)]:
        assert ab._incomplete_beta(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-10, abs=1e-14)
    for df in (1, 2.5, 29, 99.3, 1000, 9999):
        for t in (0.0, 0.3, 1.96, 2.5, 6.0, 12.0):
            expected = 2 * stats.t.sf(t, df)
            assert ab._t_two_sided_p(t, df) == pytest.approx(expected, rel=1e-9, abs=1e-15)
            assert ab._t_two_sided_p(-t, df) == ab._t_two_sided_p(t, df)
        assert ab._t_critical(0.05, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-9)


def test_it_gives_the_same_answer_from_sums_as_from_values():
    rng = random.Random(5)
    a, b = revenue(rng, 700, 0.1, 30), revenue(rng, 650, 0.14, 35)

    from_values = compare_means(a_values=a, b_values=b)
    from_sums = compare_means_summary(
        a_n=len(a),
        a_sum=sum(a),
        a_sum_squares=sum(v * v for v in a),
        b_n=len(b),
        b_sum=sum(b),
        b_sum_squares=sum(v * v for v in b),
        a_nonzero=sum(1 for v in a if v),
        b_nonzero=sum(1 for v in b if v),
    )

    assert from_sums == from_values


def test_it_compares_a_hundred_thousand_recipients_from_their_sums():
    """Summed as SQL would: 100k recipients, 2% buyers, no list in memory; the variance stays exact."""
    result = compare_means_summary(
        a_n=100_000,
        a_sum=Decimal("2000") * Decimal("49.99"),
        a_sum_squares=Decimal("2000") * Decimal("49.99") ** 2,
        b_n=100_000,
        b_sum=Decimal("2400") * Decimal("49.99"),
        b_sum_squares=Decimal("2400") * Decimal("49.99") ** 2,
        a_nonzero=2000,
        b_nonzero=2400,
    )

    a = [49.99] * 2000 + [0.0] * 98_000
    b = [49.99] * 2400 + [0.0] * 97_600
    welch = stats.ttest_ind(b, a, equal_var=False)
    assert result.winner == "b"
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(welch.statistic)), rel=1e-6)
    assert (result.a_value, result.b_value) == (Decimal("0.9998"), Decimal("1.19976"))
    assert result.lift == pytest.approx(0.2)


def test_it_calls_close_revenues_not_significant_and_is_symmetric():
    rng = random.Random(6)
    a, b = revenue(rng, 1500, 0.1, 40), revenue(rng, 1500, 0.1, 41)

    forward = compare_means(a_values=a, b_values=b)
    backward = compare_means(a_values=b, b_values=a)

    assert (forward.winner, forward.reason) == (None, "not significant")
    assert forward.p_value > 0.05
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-12)
    low, high = forward.confidence_interval
    assert low < 0 < high
    assert backward.confidence_interval == (-high, -low)


def test_it_names_the_variant_with_clearly_more_revenue():
    rng = random.Random(7)
    a, b = revenue(rng, 2000, 0.05, 40), revenue(rng, 2000, 0.1, 40)

    result = compare_means(a_values=b, b_values=a)

    assert (result.winner, result.reason) == ("a", "significant")
    assert result.confidence_interval[1] < 0
    assert result.lift < 0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([Decimal("10")] * 50 + [Decimal("0")] * 49, [Decimal("30")] * 60 + [Decimal("0")] * 60),  # 99 < 100
        ([Decimal("0")] * 998 + [Decimal("80")] * 2, [Decimal("0")] * 997 + [Decimal("95")] * 3),  # 5 buyers in all
        ([Decimal("0")] * 1000, [Decimal("0")] * 1000),  # no revenue at all
    ],
)
def test_it_says_the_revenue_sample_is_too_small(a, b):
    result = compare_means(a_values=a, b_values=b)

    assert (result.winner, result.reason, result.p_value, result.confidence_interval) == (
        None,
        "sample too small",
        None,
        None,
    )


def test_it_says_the_sample_is_too_small_when_neither_variant_varies_without_buyer_counts():
    result = compare_means_summary(
        a_n=500, a_sum=Decimal(0), a_sum_squares=Decimal(0), b_n=500, b_sum=Decimal(0), b_sum_squares=Decimal(0)
    )

    assert (result.reason, result.lift, result.a_value) == ("sample too small", None, Decimal(0))


def test_it_says_no_data_when_a_variant_has_no_recipients():
    result = compare_means(a_values=[], b_values=[Decimal("5")] * 200)

    assert (result.reason, result.a_value, result.b_value, result.p_value) == ("no data", None, Decimal("5"), None)


def test_it_refuses_sums_that_cannot_be():
    with pytest.raises(ValueError, match="sum of squares"):
        compare_means_summary(
            a_n=200,
            a_sum=Decimal("100"),
            a_sum_squares=Decimal("10"),
            b_n=200,
            b_sum=Decimal("100"),
            b_sum_squares=Decimal("1000"),
        )
    with pytest.raises(ValueError, match="buyers"):
        compare_means_summary(
            a_n=200,
            a_sum=Decimal(1),
            a_sum_squares=Decimal(1),
            b_n=200,
            b_sum=Decimal(1),
            b_sum_squares=Decimal(1),
            a_nonzero=3,
        )


# Verdicts ---------------------------------------------------------------------------------------


def test_it_states_a_verdict_for_each_outcome():
    winner = compare_rates(a_successes=100, a_trials=2000, b_successes=200, b_trials=2000)
    from_zero = compare_rates(a_successes=0, a_trials=1000, b_successes=30, b_trials=1000)
    close = compare_rates(a_successes=200, a_trials=2000, b_successes=215, b_trials=2000)
    small = compare_rates(a_successes=1, a_trials=10, b_successes=5, b_trials=10)
    empty = compare_rates(a_successes=0, a_trials=0, b_successes=5, b_trials=10)

    with translation.override("en"):
        assert winner.verdict() == "Variant B wins (B against A: +100.0%, p < 0.001)."
        assert from_zero.verdict() == "Variant B wins (p < 0.001)."
        assert close.verdict() == (
            f"Inconclusive: the difference is not significant (p = {close.p_value:.3f}), so neither variant wins."
        )
        assert small.verdict() == "Inconclusive: the sample is too small to tell the variants apart."
        assert empty.verdict() == "Inconclusive: a variant has no recipients yet."


def test_it_is_a_plain_value():
    result = Comparison(None, None, None, None, None, None, "no data")

    assert result.confidence == 0.95
    with pytest.raises(AttributeError):
        result.winner = "a"


# Planning ---------------------------------------------------------------------------------------


def test_it_gives_the_textbook_sample_size():
    """10% baseline, +20% relative (to 12%), alpha 0.05 two-sided, power 0.8: 3,841 per arm."""
    z_alpha, z_power = 1.959963984540054, 0.8416212335729143  # z(0.975), z(0.8)
    p1, p2 = 0.10, 0.12
    p = (p1 + p2) / 2  # 0.11
    by_hand = (z_alpha * math.sqrt(2 * p * (1 - p)) + z_power * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (
        p2 - p1
    ) ** 2
    assert by_hand == pytest.approx(3840.8, abs=0.1)  # (0.867271 + 0.372218)^2 / 0.0004

    assert sample_size_per_arm(baseline_rate=0.1, minimum_detectable_effect=0.2) == math.ceil(by_hand) == 3841


def test_it_gives_the_size_at_which_the_z_test_reaches_the_power():
    """The power of the pooled z-test (normal approximation) crosses 0.8 exactly between n - 1 and n."""

    def power(n, p1, p2, alpha=0.05):
        p = (p1 + p2) / 2
        threshold = stats.norm.ppf(1 - alpha / 2) * math.sqrt(2 * p * (1 - p) / n)
        return stats.norm.sf((threshold - abs(p2 - p1)) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n))

    for baseline, effect in [(0.1, 0.2), (0.02, 0.15), (0.3, -0.1), (0.5, 0.05)]:
        n = sample_size_per_arm(baseline_rate=baseline, minimum_detectable_effect=effect)
        p2 = baseline * (1 + effect)
        assert power(n, baseline, p2) >= 0.8 > power(n - 1, baseline, p2)


def test_it_needs_more_recipients_for_smaller_effects_and_more_power():
    base = sample_size_per_arm(baseline_rate=0.05, minimum_detectable_effect=0.2)

    assert sample_size_per_arm(baseline_rate=0.05, minimum_detectable_effect=0.1) > base
    assert sample_size_per_arm(baseline_rate=0.05, minimum_detectable_effect=0.2, power=0.9) > base
    assert sample_size_per_arm(baseline_rate=0.05, minimum_detectable_effect=0.2, alpha=0.01) > base


@pytest.mark.parametrize(
    "figures",
    [
        {"baseline_rate": 0, "minimum_detectable_effect": 0.2},
        {"baseline_rate": 0.6, "minimum_detectable_effect": 1.0},  # 120%
        {"baseline_rate": 0.1, "minimum_detectable_effect": 0},
        {"baseline_rate": 0.1, "minimum_detectable_effect": 0.2, "power": 1},
    ],
)
def test_it_refuses_impossible_plans(figures):
    with pytest.raises(ValueError):
        sample_size_per_arm(**figures)


@pytest.mark.parametrize(("baseline", "effect"), [(0.1, 0.2), (0.02, 0.15), (0.3, 0.05), (0.5, 0.5)])
def test_it_inverts_the_sample_size_with_the_detectable_effect(baseline, effect):
    n = sample_size_per_arm(baseline_rate=baseline, minimum_detectable_effect=effect)

    detectable = detectable_effect(baseline_rate=baseline, per_arm=n)

    assert detectable <= effect  # n was rounded up, so a hair more than `effect` is detectable
    assert detectable == pytest.approx(effect, rel=5e-3)
    assert sample_size_per_arm(baseline_rate=baseline, minimum_detectable_effect=detectable) <= n
    assert sample_size_per_arm(baseline_rate=baseline, minimum_detectable_effect=detectable * 0.999) > n


def test_it_tells_what_a_test_share_can_detect():
    assert detectable_effect(baseline_rate=0.1, per_arm=3841) == pytest.approx(0.2, abs=1e-4)
    assert detectable_effect(baseline_rate=0.1, per_arm=100_000) < detectable_effect(baseline_rate=0.1, per_arm=10_000)
    assert detectable_effect(baseline_rate=0.1, per_arm=3) is None  # not even 100% against 10%


# Assignment -------------------------------------------------------------------------------------


def keys(count):
    return [f"customer-{number}@example.com" for number in range(count)]


def test_it_assigns_as_documented_from_sha_256():
    for key in keys(2000):
        digest = hashlib.sha256(b"campaign-7\x00" + key.encode()).digest()
        membership, variant = int.from_bytes(digest[:8], "big") / 2**64, int.from_bytes(digest[8:16], "big") / 2**64
        expected = None if membership >= 0.3 else "a" if variant < 0.4 else "b"
        assert assign_variant(key=key, seed="campaign-7", test_share=30, split=40) == expected


def test_it_assigns_the_same_variant_every_time():
    first = [assign_variant(key=key, seed="spring", test_share=40) for key in keys(1000)]
    again = [assign_variant(key=key, seed="spring", test_share=40) for key in keys(1000)]

    assert first == again
    # Pinned: changing the method would move recipients of a test that is running.
    pinned = [None, None, None, None, "a", None, "b", "b", "b", None, None, "b"]
    assert [assign_variant(key=f"{n}", seed="s", test_share=60) for n in range(12)] == pinned


@pytest.mark.parametrize(("share", "split"), [(20, 50), (50, 30), (10, 50), (100, 50)])
def test_it_draws_the_shares_over_a_hundred_thousand_keys(share, split):
    count = 100_000
    drawn = [assign_variant(key=key, seed="summer", test_share=share, split=split) for key in keys(count)]

    for variant, expected in (("a", share * split / 10_000), ("b", share * (100 - split) / 10_000)):
        tolerance = 5 * math.sqrt(expected * (1 - expected) / count) + 1e-9  # five standard deviations
        assert drawn.count(variant) / count == pytest.approx(expected, abs=tolerance)
    assert drawn.count(None) == count - drawn.count("a") - drawn.count("b")


def test_it_puts_nobody_or_everybody_in_the_test_at_the_edges():
    assert {assign_variant(key=key, seed="x", test_share=0) for key in keys(1000)} == {None}
    assert {assign_variant(key=key, seed="x", test_share=100, split=100) for key in keys(1000)} == {"a"}
    assert {assign_variant(key=key, seed="x", test_share=100, split=0) for key in keys(1000)} == {"b"}


def test_it_keeps_the_test_group_when_the_share_grows():
    small = [assign_variant(key=key, seed="autumn", test_share=10) for key in keys(5000)]
    large = [assign_variant(key=key, seed="autumn", test_share=30) for key in keys(5000)]

    assert all(after == before for before, after in zip(small, large, strict=True) if before is not None)


def test_it_draws_another_sample_with_another_seed():
    one = [assign_variant(key=key, seed="campaign-1", test_share=50) for key in keys(10_000)]
    other = [assign_variant(key=key, seed="campaign-2", test_share=50) for key in keys(10_000)]

    agreeing = sum(x == y for x, y in zip(one, other, strict=True)) / 10_000
    assert agreeing == pytest.approx(0.25 * 0.25 * 2 + 0.5 * 0.5, abs=0.03)  # independent draws agree 37.5%


def test_it_assigns_the_same_in_another_process():
    script = (
        "from marketing.campaigns.stats import assign_variant\n"
        "print(''.join(str(assign_variant(key=f'customer-{n}@example.com', seed='winter', test_share=60))[0]"
        " for n in range(500)))\n"
    )
    here = "".join(str(assign_variant(key=key, seed="winter", test_share=60))[0] for key in keys(500))
    for hash_seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        output = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
        )
        assert output.stdout.strip() == here


@pytest.mark.parametrize(("share", "split"), [(-1, 50), (101, 50), (50, 101), (12.5, 50), (True, 50)])
def test_it_refuses_shares_that_are_not_percentages(share, split):
    with pytest.raises(ValueError):
        assign_variant(key="k", seed="s", test_share=share, split=split)


def test_it_loads_neither_numpy_nor_scipy():
    """Web processes import the module: the statistics must not bring numpy's or scipy's memory with them."""
    script = (
        "import sys\n"
        "import marketing.campaigns.stats\n"
        "print(sorted(name for name in ('numpy', 'scipy', 'django.db') if name in sys.modules))\n"
    )
    output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"
