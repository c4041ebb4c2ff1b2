"""A/B test results of recipes: recording them (platform staff) and comparing variants.

A variant's results on one metric are pooled over the periods recorded (or those inside a
window): for a rate, successes and sample sizes are summed; for a mean, the pooled mean and the
pooled sample variance of all the runs are rebuilt from each period's (n, mean, variance):

    N = Σ nᵢ,   m = Σ nᵢ·mᵢ / N,   s² = (Σ (nᵢ - 1)·vᵢ + Σ nᵢ·(mᵢ - m)²) / (N - 1)

Each variant is then compared with the baseline (b) — variant (v) minus baseline:

Rates (two-proportion z-test):
    p = x / n,  diff = p_v - p_b,  lift = diff / p_b
    95 % CI of diff (Wald, unpooled): diff ± 1.959964 · √(p_v(1-p_v)/n_v + p_b(1-p_b)/n_b)
    z = diff / √(p̂(1-p̂)(1/n_v + 1/n_b)) with the pooled p̂ = (x_v + x_b) / (n_v + n_b)
    p-value (two-sided) = erfc(|z| / √2)

Means (Welch's t-test, unequal variances):
    se = √(s²_v/n_v + s²_b/n_b),  t = diff / se,
    df = se⁴ / ((s²_v/n_v)²/(n_v-1) + (s²_b/n_b)²/(n_b-1))   (Welch-Satterthwaite)
    p-value (two-sided) = I_{df/(df+t²)}(df/2, 1/2)   (Student's t, regularised incomplete beta)
    95 % CI of diff: diff ± t*(0.975, df) · se

`significant` is p < 0.05. Where a statistic is undefined (a zero baseline rate for the lift, no
variance at all, a sample of one for a mean) it is None and the variant is not significant.
scipy is not a dependency: the t distribution is computed here (Numerical Recipes' continued
fraction for the incomplete beta; the quantile by bisection) and tested against table values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import User
from agents.errors import invalid
from agents.models import AbTestResult, Recipe
from audit.services import audit_record
from core.errors import Conflict, InvalidInput

Z_975 = 1.959963984540054  # the standard normal's 97.5th percentile
ALPHA = 0.05
METRIC_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"  # what a metric's and a variant's name may be
DEFAULT_BASELINE = "control"


def default_baseline(variants: Iterable[str]) -> str:
    """The baseline of a comparison that names none: the variant "control" if there is one,
    else the first variant by name ("" for none)."""
    names = sorted(set(variants))
    return DEFAULT_BASELINE if DEFAULT_BASELINE in names else names[0] if names else ""


@transaction.atomic
def ab_result_record(
    *,
    recipe: Recipe,
    variant: str,
    metric: str,
    sample_size: int,
    period_start: datetime,
    period_end: datetime,
    actor: User | None,
    successes: int | None = None,
    mean: float | None = None,
    variance: float | None = None,
) -> AbTestResult:
    """Record one variant's result on a metric over a period: successes of sample_size (a rate)
    or mean and variance (a continuous metric). A period recorded twice is a 409."""
    if (successes is None) == (mean is None) or (mean is None) != (variance is None):
        raise InvalidInput(
            "Give successes (a rate) or mean and variance (a continuous metric), not both.",
            code="ab_result_kind",
        )
    if successes is not None and successes > sample_size:
        raise invalid("successes", "More successes than the sample size.")
    if variance is not None and (variance < 0 or not math.isfinite(variance)):
        raise invalid("variance", "A variance is a finite number, 0 or more.")
    if mean is not None and not math.isfinite(mean):
        raise invalid("mean", "A finite number.")
    if period_end <= period_start:
        raise invalid("period_end", "The period ends before it starts.")
    kind = "rate" if successes is not None else "mean"
    existing = AbTestResult.objects.filter(recipe=recipe, metric=metric).values_list("successes", flat=True)[
        :1
    ]
    if existing and (existing[0] is not None) != (kind == "rate"):
        raise Conflict(
            f"The metric {metric!r} of this recipe is recorded as a {'rate' if kind == 'mean' else 'mean'}.",
            code="ab_metric_kind_mismatch",
        )
    try:
        with transaction.atomic():
            result = AbTestResult.objects.create(
                recipe=recipe,
                variant=variant,
                metric=metric,
                sample_size=sample_size,
                successes=successes,
                mean=mean,
                variance=variance,
                period_start=period_start,
                period_end=period_end,
                recorded_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError as exc:
        raise Conflict(
            "This variant's result for that metric and period is already recorded.",
            code="ab_result_exists",
        ) from exc
    audit_record(
        action="ab_result.recorded",
        tenant=None,
        target=result,
        details={
            "recipe": str(recipe.pk),
            "variant": variant,
            "metric": metric,
            "sample_size": sample_size,
            "successes": successes,
            "mean": mean,
            "variance": variance,
        },
        actor=actor,
    )
    return result


# --- The statistics ----------------------------------------------------------------------------


def normal_two_sided_p(z: float) -> float:
    """P(|Z| ≥ |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (Numerical Recipes, 6.4)."""
    tiny, eps = 1e-300, 3e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| ≥ |t|) for Student's t with `df` degrees of freedom."""
    return regularized_beta(df / 2, 0.5, df / (df + t * t))


def t_quantile_975(df: float) -> float:
    """The 97.5th percentile of Student's t with `df` degrees of freedom (bisection on the CDF)."""
    lo, hi = Z_975, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_two_sided_p(mid, df) > ALPHA:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class Pool:
    """A variant's results on one metric, pooled over periods."""

    variant: str
    kind: str  # rate | mean
    sample_size: int
    successes: int | None = None
    mean: float | None = None
    variance: float | None = None
    periods: int = 1

    @property
    def value(self) -> float:
        """The rate or the mean."""
        if self.kind == "rate":
            return (self.successes or 0) / self.sample_size
        return float(self.mean or 0.0)


def pool(variant: str, rows: Iterable[AbTestResult]) -> Pool:
    """Pool one variant's results (all of one kind) into one sample (formulas above)."""
    rows = list(rows)
    n = sum(r.sample_size for r in rows)
    if rows[0].successes is not None:
        return Pool(variant, "rate", n, successes=sum(r.successes or 0 for r in rows), periods=len(rows))
    mean = sum(r.sample_size * (r.mean or 0.0) for r in rows) / n
    if n < 2:
        variance = 0.0
    else:
        within = sum((r.sample_size - 1) * (r.variance or 0.0) for r in rows)
        between = sum(r.sample_size * ((r.mean or 0.0) - mean) ** 2 for r in rows)
        variance = (within + between) / (n - 1)
    return Pool(variant, "mean", n, mean=mean, variance=variance, periods=len(rows))


@dataclass(frozen=True)
class Comparison:
    """One variant against the baseline (None where a statistic is undefined)."""

    variant: str
    is_baseline: bool
    sample_size: int
    value: float
    difference: float | None
    lift: float | None
    ci_low: float | None
    ci_high: float | None
    statistic: float | None  # z for rates, t for means
    df: float | None
    p_value: float | None
    significant: bool


def _compare_rates(v: Pool, b: Pool) -> tuple[float, float | None, float | None, float | None, float | None]:
    pv, pb = v.value, b.value
    diff = pv - pb
    se = math.sqrt(pv * (1 - pv) / v.sample_size + pb * (1 - pb) / b.sample_size)
    pooled = ((v.successes or 0) + (b.successes or 0)) / (v.sample_size + b.sample_size)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / v.sample_size + 1 / b.sample_size))
    z = diff / se0 if se0 > 0 else None
    p = normal_two_sided_p(z) if z is not None else None
    return diff, diff - Z_975 * se, diff + Z_975 * se, z, p


def _compare_means(
    v: Pool, b: Pool
) -> tuple[float, float | None, float | None, float | None, float | None, float | None]:
    diff = v.value - b.value
    if v.sample_size < 2 or b.sample_size < 2:
        return diff, None, None, None, None, None
    sv, sb = (v.variance or 0.0) / v.sample_size, (b.variance or 0.0) / b.sample_size
    se = math.sqrt(sv + sb)
    if se == 0:
        return diff, None, None, None, None, None
    t = diff / se
    df = (sv + sb) ** 2 / (sv**2 / (v.sample_size - 1) + sb**2 / (b.sample_size - 1))
    half = t_quantile_975(df) * se
    return diff, diff - half, diff + half, t, df, t_two_sided_p(t, df)


def compare(pools: list[Pool], *, baseline: str) -> list[Comparison]:
    """Each variant against `baseline` (the baseline first, then by name)."""
    by_name = {p.variant: p for p in pools}
    if baseline not in by_name:
        raise invalid("baseline", "No results of that variant for this metric.")
    base = by_name[baseline]
    out = [
        Comparison(
            variant=baseline,
            is_baseline=True,
            sample_size=base.sample_size,
            value=base.value,
            difference=None,
            lift=None,
            ci_low=None,
            ci_high=None,
            statistic=None,
            df=None,
            p_value=None,
            significant=False,
        )
    ]
    for p in sorted(pools, key=lambda p: p.variant):
        if p.variant == baseline:
            continue
        df: float | None = None
        if p.kind == "rate":
            diff, low, high, stat, p_value = _compare_rates(p, base)
        else:
            diff, low, high, stat, df, p_value = _compare_means(p, base)
        lift = diff / base.value if base.value != 0 else None
        out.append(
            Comparison(
                variant=p.variant,
                is_baseline=False,
                sample_size=p.sample_size,
                value=p.value,
                difference=diff,
                lift=lift,
                ci_low=low,
                ci_high=high,
                statistic=stat,
                df=df,
                p_value=p_value,
                significant=p_value is not None and p_value < ALPHA,
            )
        )
    return out


def ab_compare(*, results: Iterable[AbTestResult], baseline: str) -> dict[str, Any]:
    """Pool a metric's results per variant and compare each with the baseline."""
    by_variant: dict[str, list[AbTestResult]] = {}
    for row in results:
        by_variant.setdefault(row.variant, []).append(row)
    if not by_variant:
        raise invalid("metric", "No results for this recipe and metric.")
    kinds = {rows[0].successes is not None for rows in by_variant.values()}
    if len(kinds) > 1:  # the service refuses mixed kinds; rows written around it would land here
        raise Conflict("This metric mixes rates and means.", code="ab_metric_kind_mismatch")
    pools = [pool(name, rows) for name, rows in by_variant.items()]
    return {"kind": pools[0].kind, "comparisons": compare(pools, baseline=baseline)}
