"""The feeds an operator deploys: each model output with its guardrails and description.

Proofcast's oracle model publishes per feed the log of tomorrow's daily volatility in percent
and the 1-day 99 % VaR in percent (`models.oracle_model.OUTPUT_NAMES`); those get the
guardrails the demo runs with. Other outputs (a custom circuit) start without guardrails (the
widest the oracle stores) until `proofcast admin configure-feed` sets them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from oracle.chain.contracts import FeedSpec, MarginParams, OutputSpec

FEED_DECIMALS = 8
# Daily bars: a report stays usable for 26 h after its close (the heartbeat's scale: a day's
# value cannot be held back and published days later).
DAILY_MAX_AGE = 26 * 3_600
_UNBOUNDED = 10**15  # clamped to the oracle's int32 fixed point: no guardrail


def output_spec(feed: str, output: str, decimals: int = FEED_DECIMALS) -> OutputSpec:
    """Default guardrails and adapter description of output `output` of feed `feed`."""
    unit = 10**decimals
    if output == "log_vol_pct":
        return OutputSpec(output, min_answer=-5 * unit, max_answer=5 * unit,  # log of a % vol
                          max_delta=2 * unit,
                          description=f"{feed} next-day log volatility (log %)")  # fmt: skip
    if output == "var99_pct":
        return OutputSpec(output, min_answer=0, max_answer=50 * unit,  # a VaR above 50 %: refused
                          max_delta=25 * unit,
                          description=f"{feed} 1-day 99% VaR (percent), Proofcast federated "
                          "model")  # fmt: skip
    return OutputSpec(output, -_UNBOUNDED, _UNBOUNDED, _UNBOUNDED,
                      description=f"{feed} {output}, Proofcast")  # fmt: skip


def feed_spec(
    name: str,
    outputs: Sequence[str],
    decimals: int = FEED_DECIMALS,
    max_age: int = DAILY_MAX_AGE,
    overrides: Sequence[OutputSpec] = (),
    min_delay: int = 0,
    window: int = 0,
    enabled: bool = True,
) -> FeedSpec:
    """Feed `name` with one OutputSpec per circuit output (`overrides` by output name replace
    the defaults, keeping the default description when they have none)."""
    given = {o.name: o for o in overrides}
    unknown = sorted(set(given) - set(outputs))
    if unknown:
        raise ValueError(
            f"feed {name}: no output {', '.join(unknown)}; the circuit proves {', '.join(outputs)}"
        )
    specs = []
    for output in outputs:
        default = output_spec(name, output, decimals)
        chosen = given.get(output, default)
        if not chosen.description:
            chosen = replace(chosen, description=default.description)
        specs.append(chosen)
    return FeedSpec(
        name=name,
        outputs=tuple(specs),
        decimals=decimals,
        max_age=max_age,
        min_delay=min_delay,
        window=window,
        enabled=enabled,
        description=f"{name}: Proofcast federated volatility and VaR",
    )


def margin_params(spec: FeedSpec) -> MarginParams:
    """The example MarginEngine on `spec`'s VaR adapter (its first output when it has none):
    margin (bps) = 150 bps per 1 % of 1-day VaR, i.e. 1.5 x VaR, floored at 2 %, capped at
    50 %; a feed staler than its maxAge falls back to a 20 % VaR."""
    names = [o.name for o in spec.outputs]
    output = names.index("var99_pct") if "var99_pct" in names else 0
    return MarginParams(
        max_staleness=spec.max_age,
        fallback_volatility=20 * 10**spec.decimals,
        base_margin_bps=200,
        vol_multiplier_bps=150,
        max_margin_bps=5000,
        adapter=spec.adapter_key(output),
    )
