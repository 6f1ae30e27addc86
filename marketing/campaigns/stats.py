"""The statistics behind a campaign's A/B test: is variant B really better than A, or is it noise?

A campaign's A/B test sends variants A and B to a random test share of the segment (`assign_variant`),
waits, then compares them on one metric and sends the winner to the rest:

- click rate, unique clickers / delivered: `compare_rates` (two-proportion z-test);
- revenue per recipient, attributed order revenue / delivered: `compare_means` or, when the revenue is
  summed in SQL, `compare_means_summary` (Welch's t-test).

Both answer with a `Comparison`: a winner only when the difference is significant at `alpha`, otherwise
None and the reason ("not significant", "sample too small", "no data"), so the campaign can say
"inconclusive" honestly instead of sending whichever variant happens to be ahead.

Before the test, `sample_size_per_arm` says how many recipients each variant needs to detect a given
lift, and `detectable_effect` the other way round: the lift a given test share can detect.

Pure Python on purpose (math, statistics.NormalDist, decimal): web processes import this module, and
numpy or scipy would cost them tens of megabytes each. Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from statistics import NormalDist
from typing import Literal

from django.utils.translation import gettext as _

Variant = Literal["a", "b"]
Reason = Literal["significant", "not significant", "sample too small", "no data"]

SIGNIFICANT: Reason = "significant"
NOT_SIGNIFICANT: Reason = "not significant"
TOO_SMALL: Reason = "sample too small"
NO_DATA: Reason = "no data"

# Below this many delivered recipients in either variant the test is inconclusive whatever the figures
# say: a floor so that a handful of recipients never decides what the whole segment receives.
MIN_PER_ARM = 100
# Cochran's rule for the normal approximation of a binomial: at least 5 expected successes and 5
# expected failures per arm under the null hypothesis (the pooled rate). Below it the z-test's
# p-value is not trustworthy. Revenue uses the same floor for the expected number of buyers.
MIN_EXPECTED = 5
# From this many Welch degrees of freedom on, the t distribution is replaced by the normal one: the
# two-sided p-values then differ by less than 0.32 / df, i.e. under 3.2e-5 (checked against scipy),
# and the incomplete beta function's continued fraction, which needs about sqrt(df) terms, is skipped.
NORMAL_DF = 10_000

_NORMAL = NormalDist()
_MONEY_PRECISION = 60  # digits for exact sums of squares of money: no cancellation in the variance


@dataclass(frozen=True)
class Comparison:
    """The outcome of an A/B comparison.

    `a_value` and `b_value` are the rates (float) or the means (Decimal, money) of each variant, None
    for a variant with no recipients. `lift` is B's relative difference over A, (b - a) / a, None when
    A is 0. `confidence_interval` is the interval for the difference b - a at `confidence` (1 - alpha),
    None when the sample is too small or empty. `winner` is set only when `reason` is "significant".
    """

    winner: Variant | None
    p_value: float | None
    a_value: float | Decimal | None
    b_value: float | Decimal | None
    lift: float | None
    confidence_interval: tuple[float, float] | tuple[Decimal, Decimal] | None
    reason: Reason
    confidence: float = 0.95

    @property
    def significant(self) -> bool:
        return self.reason == SIGNIFICANT

    def verdict(self) -> str:
        """A short sentence for the campaign's page, in the active language."""
        if self.reason == NO_DATA:
            return _("Inconclusive: a variant has no recipients yet.")
        if self.reason == TOO_SMALL:
            return _("Inconclusive: the sample is too small to tell the variants apart.")
        p = _p_text(self.p_value)
        if self.reason == NOT_SIGNIFICANT:
            return _("Inconclusive: the difference is not significant (%(p)s), so neither variant wins.") % {"p": p}
        winner = self.winner.upper() if self.winner else ""
        if self.lift is None:
            return _("Variant %(winner)s wins (%(p)s).") % {"winner": winner, "p": p}
        return _("Variant %(winner)s wins (B against A: %(lift)s, %(p)s).") % {
            "winner": winner,
            "lift": f"{self.lift:+.1%}",
            "p": p,
        }


def _p_text(p_value: float | None) -> str:
    if p_value is None:
        return ""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")


def _lift(a: float | Decimal, b: float | Decimal) -> float | None:
    return None if a == 0 else float((b - a) / a)


def _decide(difference: float, p_value: float, alpha: float) -> tuple[Variant | None, Reason]:
    if p_value < alpha and difference != 0:
        return ("b" if difference > 0 else "a"), SIGNIFICANT
    return None, NOT_SIGNIFICANT


def _too_few_expected(successes: int, trials: int, smaller_arm: int, *, failures_too: bool) -> bool:
    """Cochran's rule: fewer than MIN_EXPECTED expected successes (or failures) in the smaller arm."""
    pooled = successes / trials
    if pooled * smaller_arm < MIN_EXPECTED:
        return True
    return failures_too and (1 - pooled) * smaller_arm < MIN_EXPECTED


# Rates ------------------------------------------------------------------------------------------


def compare_rates(
    *,
    a_successes: int,
    a_trials: int,
    b_successes: int,
    b_trials: int,
    alpha: float = 0.05,
    min_trials: int = MIN_PER_ARM,
) -> Comparison:
    """Compare two rates, e.g. unique clickers / delivered, with a two-sided two-proportion z-test.

    The test: under the null hypothesis both variants share one rate, estimated by pooling them,
    p = (a_successes + b_successes) / (a_trials + b_trials); then
    z = (p_b - p_a) / sqrt(p (1 - p) (1/a_trials + 1/b_trials)) is standard normal and the p-value is
    2 P(Z > |z|). Why this test: clicks are independent yes/no outcomes per recipient (binomial), the
    samples of an email test are large, and the pooled variance is the variance under the hypothesis
    being tested. It gives the same p-value as the chi-squared test of the 2x2 table without continuity
    correction (z squared is the chi-squared statistic).

    Inconclusive without a p-value:
    - "no data" when either variant has no trials;
    - "sample too small" when either variant has fewer than `min_trials` (MIN_PER_ARM, 100 by default)
      or fewer than 5 expected successes or failures per variant under the pooled rate (Cochran's rule
      for the normal approximation). This also covers 0% against 0% and 100% against 100%, where there
      is no variance to test with.

    The confidence interval, at 1 - alpha, is the Wald interval of p_b - p_a with each variant's own
    variance (the pooled one only holds under the null hypothesis), so at the margin it may include 0
    while the test rejects, or the other way round; the decision is the test's.
    """
    _check_alpha(alpha)
    for name, value in (("a_successes", a_successes), ("a_trials", a_trials)) + (
        ("b_successes", b_successes),
        ("b_trials", b_trials),
    ):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    if a_successes > a_trials or b_successes > b_trials:
        raise ValueError("successes cannot exceed trials")
    if min_trials < 1:
        raise ValueError("min_trials must be at least 1")

    a_rate = a_successes / a_trials if a_trials else None
    b_rate = b_successes / b_trials if b_trials else None
    confidence = 1 - alpha
    if a_rate is None or b_rate is None:
        return Comparison(None, None, a_rate, b_rate, None, None, NO_DATA, confidence)
    lift = _lift(a_rate, b_rate)
    smaller = min(a_trials, b_trials)
    if smaller < min_trials or _too_few_expected(
        a_successes + b_successes, a_trials + b_trials, smaller, failures_too=True
    ):
        return Comparison(None, None, a_rate, b_rate, lift, None, TOO_SMALL, confidence)

    pooled = (a_successes + b_successes) / (a_trials + b_trials)
    difference = b_rate - a_rate
    z = difference / math.sqrt(pooled * (1 - pooled) * (1 / a_trials + 1 / b_trials))
    p_value = min(1.0, 2 * _NORMAL.cdf(-abs(z)))
    margin = _NORMAL.inv_cdf(1 - alpha / 2) * math.sqrt(
        a_rate * (1 - a_rate) / a_trials + b_rate * (1 - b_rate) / b_trials
    )
    winner, reason = _decide(difference, p_value, alpha)
    return Comparison(
        winner, p_value, a_rate, b_rate, lift, (difference - margin, difference + margin), reason, confidence
    )


# Means ------------------------------------------------------------------------------------------


def _money(value: Decimal | int | float) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def compare_means(
    *,
    a_values: Sequence[Decimal],
    b_values: Sequence[Decimal],
    alpha: float = 0.05,
    min_per_arm: int = MIN_PER_ARM,
) -> Comparison:
    """Compare revenue per recipient: one value per delivered recipient, 0 for most of them.

    Welch's t-test, as `compare_means_summary` (which has the details), on the lists' counts, sums,
    sums of squares and numbers of buyers (non-zero values), all exact in Decimal.
    """
    summaries = []
    for values in (a_values, b_values):
        with localcontext() as context:
            context.prec = _MONEY_PRECISION
            money = [_money(value) for value in values]
            summaries.append(
                (
                    len(money),
                    sum(money, Decimal(0)),
                    sum((v * v for v in money), Decimal(0)),
                    sum(1 for v in money if v),
                )
            )
    (a_n, a_sum, a_squares, a_nonzero), (b_n, b_sum, b_squares, b_nonzero) = summaries
    return compare_means_summary(
        a_n=a_n,
        a_sum=a_sum,
        a_sum_squares=a_squares,
        b_n=b_n,
        b_sum=b_sum,
        b_sum_squares=b_squares,
        a_nonzero=a_nonzero,
        b_nonzero=b_nonzero,
        alpha=alpha,
        min_per_arm=min_per_arm,
    )


def compare_means_summary(
    *,
    a_n: int,
    a_sum: Decimal,
    a_sum_squares: Decimal,
    b_n: int,
    b_sum: Decimal,
    b_sum_squares: Decimal,
    a_nonzero: int | None = None,
    b_nonzero: int | None = None,
    alpha: float = 0.05,
    min_per_arm: int = MIN_PER_ARM,
) -> Comparison:
    """Compare two means from summary statistics: each variant's count, sum and sum of squares.

    Meant for revenue per recipient summed in SQL over many recipients, e.g. per variant
    Count("id"), Sum("revenue"), Sum(F("revenue") * F("revenue")) and, optionally, the number of
    buyers Count("id", filter=Q(revenue__gt=0)) as `a_nonzero` / `b_nonzero`. Sums are Decimal
    (money) and the variances are computed from them exactly, so the subtraction in
    (sum of squares - sum^2 / n) loses nothing.

    The test: Welch's unequal-variances t-test, t = (mean_b - mean_a) / sqrt(s_a^2/n_a + s_b^2/n_b)
    with the Welch-Satterthwaite degrees of freedom, two-sided. Why this test: revenue has very
    different spreads between variants (a few large orders among many zeros), so the pooled-variance
    Student test would be wrong; with the sample sizes of a campaign the central limit theorem makes
    the mean approximately normal even though revenue itself is far from normal.

    The p-value comes from the Student t distribution, computed here from the regularised incomplete
    beta function, below NORMAL_DF (10,000) degrees of freedom, and from the normal distribution
    above, where the two differ by under 3.2e-5.

    Inconclusive without a p-value:
    - "no data" when either variant has no recipients;
    - "sample too small" when either variant has fewer than `min_per_arm` recipients (MIN_PER_ARM,
      100 by default: revenue is so skewed that the central limit theorem needs many recipients, and
      an exact t p-value does not make up for it), when the buyers, if given, are fewer than 5
      expected per variant (the same rule as for rates: a mean carried by a couple of orders is not
      evidence), or when neither variant has any spread (e.g. no revenue at all).

    The confidence interval, at 1 - alpha, is Welch's for mean_b - mean_a, in Decimal.
    """
    _check_alpha(alpha)
    if min_per_arm < 2:
        raise ValueError("min_per_arm must be at least 2 (a variance needs two values)")
    for name, value in (("a_n", a_n), ("b_n", b_n), ("a_nonzero", a_nonzero), ("b_nonzero", b_nonzero)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    if (a_nonzero is None) != (b_nonzero is None):
        raise ValueError("give the number of buyers for both variants or for neither")
    if a_nonzero is not None and (a_nonzero > a_n or b_nonzero > b_n):
        raise ValueError("there cannot be more buyers than recipients")

    confidence = 1 - alpha
    with localcontext() as context:
        context.prec = _MONEY_PRECISION
        a_sum, a_sum_squares, b_sum, b_sum_squares = map(_money, (a_sum, a_sum_squares, b_sum, b_sum_squares))
        a_mean = a_sum / a_n if a_n else None
        b_mean = b_sum / b_n if b_n else None
        if a_mean is None or b_mean is None:
            return Comparison(None, None, _round(a_mean), _round(b_mean), None, None, NO_DATA, confidence)
        lift = _lift(a_mean, b_mean)
        too_small = Comparison(None, None, _round(a_mean), _round(b_mean), lift, None, TOO_SMALL, confidence)
        if min(a_n, b_n) < min_per_arm:
            return too_small
        if a_nonzero is not None and _too_few_expected(
            a_nonzero + b_nonzero, a_n + b_n, min(a_n, b_n), failures_too=False
        ):
            return too_small
        a_var = (a_sum_squares - a_sum * a_sum / a_n) / (a_n - 1)
        b_var = (b_sum_squares - b_sum * b_sum / b_n) / (b_n - 1)
        if a_var < 0 or b_var < 0:
            raise ValueError("a sum of squares is smaller than the sum allows: the summaries do not match")
        difference = b_mean - a_mean

    a_term, b_term = float(a_var) / a_n, float(b_var) / b_n
    if a_term + b_term == 0:
        return too_small
    se = math.sqrt(a_term + b_term)
    df = (a_term + b_term) ** 2 / (a_term**2 / (a_n - 1) + b_term**2 / (b_n - 1))
    t = float(difference) / se
    p_value = _t_two_sided_p(t, df)
    margin = Decimal(repr(_t_critical(alpha, df) * se))
    with localcontext() as context:
        context.prec = _MONEY_PRECISION
        interval = (_round(difference - margin), _round(difference + margin))
    winner, reason = _decide(float(difference), p_value, alpha)
    return Comparison(winner, p_value, _round(a_mean), _round(b_mean), lift, interval, reason, confidence)


def _round(value: Decimal | None) -> Decimal | None:
    """Means and bounds to 28 significant digits (the default Decimal precision), enough for money."""
    if value is None:
        return None
    with localcontext(prec=28):
        return +value


# The t distribution -----------------------------------------------------------------------------


def _t_two_sided_p(t: float, df: float) -> float:
    """P(|T| > |t|) for Student's t with `df` degrees of freedom (df need not be an integer).

    Below NORMAL_DF: I_x(df/2, 1/2) with x = df / (df + t^2), the regularised incomplete beta
    function. Above: the normal tail.
    """
    if df >= NORMAL_DF:
        return min(1.0, 2 * _NORMAL.cdf(-abs(t)))
    return _incomplete_beta(df / 2, 0.5, df / (df + t * t))


def _t_critical(alpha: float, df: float) -> float:
    """The t such that P(|T| > t) = alpha, by bisection on the two-sided p-value (which falls with t)."""
    if df >= NORMAL_DF:
        return _NORMAL.inv_cdf(1 - alpha / 2)
    low, high = 0.0, _NORMAL.inv_cdf(1 - alpha / 2)
    while _t_two_sided_p(high, df) > alpha:
        low, high = high, high * 2
    for _step in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if _t_two_sided_p(middle, df) > alpha:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1.

    I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) times a continued fraction, which converges fast for
    x < (a + 1) / (a + b + 2); otherwise the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) is used.
    """
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction 1 / (1 + d1 / (1 + d2 / (1 + ...))) of the incomplete beta function.

    Its terms: d(2m+1) = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)) and
    d(2m) = m (b - m) x / ((a + 2m - 1)(a + 2m)), evaluated forwards with the modified Lentz method.
    """
    tiny = 1e-300

    def guarded(value: float) -> float:
        return value if abs(value) > tiny else tiny

    c = 1.0
    d = 1 / guarded(1 - (a + b) * x / (a + 1))
    result = d
    for m in range(1, 100_000):
        even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1 / guarded(1 + even * d)
        c = guarded(1 + even / c)
        result *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1 / guarded(1 + odd * d)
        c = guarded(1 + odd / c)
        step = d * c
        result *= step
        if abs(step - 1) < 1e-15:
            return result
    raise ArithmeticError(f"the incomplete beta function did not converge for a={a}, b={b}, x={x}")


# Planning ---------------------------------------------------------------------------------------


def _check_planning(baseline_rate: float, alpha: float, power: float) -> None:
    if not 0 < baseline_rate < 1:
        raise ValueError(f"baseline_rate must be between 0 and 1, not {baseline_rate!r}")
    _check_alpha(alpha)
    if not 0 < power < 1:
        raise ValueError(f"power must be between 0 and 1, not {power!r}")


def _required_per_arm(p1: float, p2: float, alpha: float, power: float) -> float:
    """The unrounded sample size per arm of the two-proportion formula (see sample_size_per_arm)."""
    mean = (p1 + p2) / 2
    z_alpha = _NORMAL.inv_cdf(1 - alpha / 2)
    z_power = _NORMAL.inv_cdf(power)
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return (spread / (p2 - p1)) ** 2


def sample_size_per_arm(
    *, baseline_rate: float, minimum_detectable_effect: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Recipients needed in each variant to detect a relative change of the rate with `compare_rates`.

    With p1 = baseline_rate, p2 = p1 (1 + minimum_detectable_effect), p = (p1 + p2) / 2, the standard
    formula for a two-sided two-proportion z-test with equal arms (Fleiss, without continuity
    correction):

        n = (z(1 - alpha/2) sqrt(2 p (1 - p)) + z(power) sqrt(p1 (1 - p1) + p2 (1 - p2)))^2 / (p2 - p1)^2

    rounded up, z being the standard normal quantile. The first term is the test's threshold under the
    null hypothesis (pooled variance), the second the distance to it under the alternative. For
    example a 10% click rate, +20% (to 12%), alpha 0.05 and power 0.8 need 3,841 recipients per arm.
    The effect may be negative (detecting a drop); p2 must stay strictly between 0 and 1.
    """
    _check_planning(baseline_rate, alpha, power)
    target = baseline_rate * (1 + minimum_detectable_effect)
    if minimum_detectable_effect == 0 or not 0 < target < 1:
        raise ValueError("the effect must be non-zero and keep the rate strictly between 0 and 1")
    return math.ceil(_required_per_arm(baseline_rate, target, alpha, power))


def detectable_effect(*, baseline_rate: float, per_arm: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """The smallest relative lift `per_arm` recipients per variant can detect: the inverse of sample_size_per_arm.

    Solved by bisection on the lift for which the unrounded formula of `sample_size_per_arm` gives
    exactly `per_arm` (the required size falls as the lift grows), to 1e-9. "With this test share you
    can detect a lift of X%." None when no lift can be detected, i.e. even a rate of 100% for B would
    need more recipients than that.
    """
    _check_planning(baseline_rate, alpha, power)
    if not isinstance(per_arm, int) or per_arm < 1:
        raise ValueError(f"per_arm must be a positive integer, not {per_arm!r}")
    highest = 1 / baseline_rate - 1  # the lift that takes the rate to 100%
    if _required_per_arm(baseline_rate, 1.0, alpha, power) > per_arm:
        return None
    low, high = 0.0, highest
    while high - low > 1e-9:
        middle = (low + high) / 2
        if _required_per_arm(baseline_rate, baseline_rate * (1 + middle), alpha, power) > per_arm:
            low = middle
        else:
            high = middle
    return high


# Assignment -------------------------------------------------------------------------------------


def assign_variant(*, key: str, seed: str, test_share: int, split: int = 50) -> Variant | None:
    """The variant one recipient gets: 'a', 'b', or None for "not in the test, gets the winner later".

    Deterministic: SHA-256(seed, NUL, key), whose bytes are uniform whatever the keys look like, the
    same in every process and on every machine (unlike Python's hash(), which is salted per process).
    Its first 8 bytes, read as an integer h in [0, 2^64), decide who is in the test; the next 8, v, which
    variant, independently of h. With N = 2^64, the recipient is in the test when
    h < N * test_share / 100, and then gets 'a' when v < N * split / 100, otherwise 'b'. The comparisons
    are in integers, so the shares are exact up to 1 / 2^64.

    `key` identifies the recipient (e.g. the customer's id or email), `seed` the test (e.g. the
    campaign's id): another seed draws an independent sample. `test_share` is the percentage of the
    segment in the test, `split` the percentage of the test that gets A. Raising the share keeps
    everyone already in the test there, with the same variant.
    """
    for name, value in (("test_share", test_share), ("split", split)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise ValueError(f"{name} must be an integer percentage from 0 to 100, not {value!r}")
    digest = hashlib.sha256(seed.encode() + b"\x00" + key.encode()).digest()
    membership, variant = int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big")
    if membership * 100 >= test_share * 2**64:
        return None
    return "a" if variant * 100 < split * 2**64 else "b"
