"""`proofcast bench steering`: how far a transmitter (alone, or with one attester) can steer the
published VaR and volatility, under the old rule and under the canonical rule.

The model: a pooled central fit of the volatility and risk networks (`models.volatility.
fit_volatility`, `models.risk.fit_risk`, default settings, seed 0) on the first 70 % of each
demo feed, the data the demo's federated providers hold; evaluated in floating point (the
circuit's fixed point adds no freedom: the attesters recompute the same commitment). The inputs:
each demo feed's 24 bars ending at a few dates of its bundled history. n = 4 attesters, f = 1,
a report needs 2f + 1 = 3 observations.

Honest data, two scenarios:
- `demo`: attesters 1-3 hold the same bars, attester 4's copy is 3 bps higher (the demo);
- `noisy`: each attester's every OHLC value differs from the source by an independent
  uniform +-3 bps (seeded), as vendors that disagree slightly would.

Attacks, worst case per feed over the dates (VaR and vol, up and down, in % of the honest value;
honest: the canonical rule over all 4 observations):
- (a) old rule: the transmitter proposes bars; each OHLC value may move within the attesters'
  10 bps tolerance (9.99 bps), greedy coordinate search, plausibility check applied;
- (b) canonical, transmitter alone: it may only choose which >= 3 of the 4 observations to use;
- (c) canonical, transmitter + one attester: that attester's observation is anything (every
  attester tried as the colluder), the transmitter also picks the subset. For the feature
  median its features are taken anywhere in the box the medians can reach (an upper bound:
  real bars cannot reach every point of it); for the bar median its values are searched greedily
  within the values the per-value median can reach.

Two canonical rules are measured: `bars` (per-value lower median of the bars, features of those
bars: the suggested design) and `features` (per-feature lower median of each observation's
features: what `oracle.attest.report.canonical_slot` implements). The honest spread (each
attester's own data through the model) is the floor no rule can beat.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.data import PriceSeries, load_bundled
from models.features import build_features, latest_features
from models.oracle_model import OracleModel
from models.plausibility import implausible_move
from models.risk import fit_risk
from models.volatility import fit_volatility
from oracle.attest.report import BAR_FIELDS, canonical_slot

FEEDS = {"sp500": "S&P 500", "aapl": "AAPL", "msft": "MSFT", "ibm": "IBM"}
SCENARIOS = ("demo", "noisy")
TRAIN_FRACTION = 0.7
BARS = 24
ENDS_BACK = (0, 60, 120, 250)  # the 24 bars end this many bars before the series' last
TOLERANCE_BPS = 9.99  # just within the attesters' 10 bps
SKEW_BPS = 3.0  # the demo's 4th attester; and the noisy scenario's +- range
N, QUORUM = 4, 3  # n attesters, 2f + 1 observations (f = 1)
MAX_MOVE_SIGMAS = 12.0  # the attesters' plausibility limit
Outputs = Callable[[np.ndarray], np.ndarray]  # [m, F] features -> [m, 2] (vol %, VaR %)


def pooled_model(seed: int = 0) -> OracleModel:
    """The demo's two networks fitted centrally on the first 70 % of each demo feed."""
    parts = []
    for name in FEEDS:
        s = load_bundled(name)
        parts.append(build_features(s.slice(0, int(len(s) * TRAIN_FRACTION))))
    pooled = replace(
        parts[0],
        name="pooled",
        dates=np.concatenate([p.dates for p in parts]),
        X=np.concatenate([p.X for p in parts]),
        target_logvol=np.concatenate([p.target_logvol for p in parts]),
        next_return=np.concatenate([p.next_return for p in parts]),
    )
    return OracleModel(fit_volatility(pooled, seed), fit_risk(pooled, seed)).eval()


def outputs_of(model: OracleModel) -> Outputs:
    def run(features: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.as_tensor(np.atleast_2d(features), dtype=torch.float32)
            out = model(x).double().numpy()
        return np.column_stack([np.exp(out[:, 0]), out[:, 1]])  # vol %, VaR %

    return run


def with_values(series: PriceSeries, values: np.ndarray) -> PriceSeries:
    """`series` with OHLC from `values` [4, n] (raises on inconsistent OHLC)."""
    return replace(series, **dict(zip(BAR_FIELDS, values, strict=True)), volume=None)


def ohlc(series: PriceSeries) -> np.ndarray:
    return np.stack([getattr(series, f) for f in BAR_FIELDS]).astype(np.float64)


def consistent(values: np.ndarray) -> np.ndarray:
    """High the largest and low the smallest of each bar's values."""
    out = values.copy()
    out[1] = values.max(axis=0)
    out[2] = values.min(axis=0)
    return out


def honest_observations(series: PriceSeries, scenario: str, rng: np.random.Generator) -> list:
    base = ohlc(series)
    if scenario == "demo":
        return [series] * 3 + [with_values(series, base * (1 + SKEW_BPS / 1e4))]
    noise = [rng.uniform(-SKEW_BPS, SKEW_BPS, base.shape) / 1e4 for _ in range(N)]
    return [with_values(series, consistent(base * (1 + u))) for u in noise]


def greedy(
    start: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    score: Callable[[np.ndarray], float | None],
    passes: int = 2,
) -> float:
    """Coordinate search maximising `score` with each value in {lo, start, hi}; returns the best
    score (None from `score`: not allowed)."""
    x = start.copy()
    best = score(x)
    assert best is not None
    for _ in range(passes):
        improved = False
        for idx in np.ndindex(x.shape):
            keep = x[idx]
            for candidate in (lo[idx], hi[idx]):
                if candidate == keep:
                    continue
                x[idx] = candidate
                s = score(x)
                if s is not None and s > best + 1e-12:
                    best, keep, improved = s, candidate, True
            x[idx] = keep
        if not improved:
            break
    return best


@dataclass
class Worst:
    """Worst relative moves of (vol, VaR), in %."""

    up: np.ndarray
    down: np.ndarray

    @classmethod
    def none(cls) -> Worst:
        return cls(np.zeros(2), np.zeros(2))

    def add(self, moved: np.ndarray, honest: np.ndarray) -> None:
        rel = (np.atleast_2d(moved) / honest - 1.0) * 100
        self.up = np.maximum(self.up, rel.max(axis=0))
        self.down = np.minimum(self.down, rel.min(axis=0))

    def json(self, freedom_bps: float) -> dict[str, Any]:
        worst = np.maximum(self.up, -self.down)
        return {
            "vol_up_pct": float(self.up[0]),
            "vol_down_pct": float(self.down[0]),
            "var_up_pct": float(self.up[1]),
            "var_down_pct": float(self.down[1]),
            "input_freedom_bps": freedom_bps,
            "var_pct_per_bps": abs(float(worst[1] / freedom_bps)) if freedom_bps else 0.0,
        }


def old_rule(series: PriceSeries, run: Outputs, honest: np.ndarray, worst: Worst) -> None:
    """(a): every OHLC value within +-9.99 bps of the honest bars, greedy, per target and sign."""
    base = ohlc(series)
    lo, hi = base * (1 - TOLERANCE_BPS / 1e4), base * (1 + TOLERANCE_BPS / 1e4)
    for target, sign in itertools.product((0, 1), (1.0, -1.0)):

        def score(values: np.ndarray, target: int = target, sign: float = sign) -> float | None:
            try:
                moved = with_values(series, values)
            except ValueError:
                return None
            if implausible_move(moved, MAX_MOVE_SIGMAS) is not None:
                return None
            return sign * float(run(latest_features(moved))[0, target])

        best = sign * greedy(base, lo, hi, score)
        out = honest.copy()
        out[target] = best
        worst.add(out, honest)


def subsets(indices: Sequence[int]) -> list[tuple[int, ...]]:
    """Every choice of at least QUORUM of `indices`."""
    return [c for r in range(QUORUM, len(indices) + 1) for c in itertools.combinations(indices, r)]


def transmitter_alone(observed: list, run: Outputs, honest_by_rule: dict, worst: dict) -> None:
    """(b): the rule over every subset of >= 3 of the 4 honest observations."""
    for subset in subsets(range(N)):
        bars, features = canonical_slot("x", [observed[i] for i in subset])
        worst["features"].add(run(features), honest_by_rule["features"])
        worst["bars"].add(run(latest_features(bars)), honest_by_rule["bars"])


def with_colluder(
    observed: list, run: Outputs, honest_by_rule: dict, worst: dict, rng: np.random.Generator
) -> None:
    """(c): one attester's observation is the attacker's; the transmitter picks the subset."""
    for colluder in range(N):
        for subset in subsets(range(N)):
            if colluder not in subset:
                continue  # the honest-only subsets are (b)
            rows = [observed[i] for i in subset if i != colluder]
            m, rank = len(subset), (len(subset) - 1) // 2
            # feature median: the colluder's row moves the median between these order statistics
            feats = np.sort(np.stack([latest_features(s) for s in rows]), axis=0)
            flo, fhi = feats[max(rank - 1, 0)], feats[min(rank, m - 2)]
            corners = np.array(list(itertools.product(*zip(flo, fhi, strict=True))))
            inside = flo + rng.random((512, flo.size)) * (fhi - flo)
            worst["features"].add(run(np.vstack([corners, inside])), honest_by_rule["features"])
            # bar median: per value between the same order statistics of the honest values
            values = np.sort(np.stack([ohlc(s) for s in rows]), axis=0)
            vlo, vhi = values[max(rank - 1, 0)], values[min(rank, m - 2)]
            template = rows[0]
            for target, sign in itertools.product((0, 1), (1.0, -1.0)):

                def score(
                    v: np.ndarray, target: int = target, sign: float = sign, t=template
                ) -> float | None:
                    try:
                        bars = with_values(t, v)
                    except ValueError:
                        return None
                    return sign * float(run(latest_features(bars))[0, target])

                best = sign * greedy(vlo.copy(), vlo, vhi, score)
                out = honest_by_rule["bars"].copy()
                out[target] = best
                worst["bars"].add(out, honest_by_rule["bars"])


def run_steering_benchmark(
    out_dir: Path,
    scenarios: Sequence[str] = ("demo", "noisy"),
    progress: Callable[[str], None] = print,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure every feed under every scenario; write steering.{json,md} to `out_dir`."""
    started = time.time()
    progress("fitting the pooled model (central fit, demo feeds, first 70 %)")
    run = outputs_of(pooled_model(seed))
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {}
    for feed, label in FEEDS.items():
        full = load_bundled(feed)
        ends = [len(full) - back for back in ENDS_BACK]
        a = Worst.none()
        per_scenario = {
            sc: {"b": {r: Worst.none() for r in ("features", "bars")},
                 "c": {r: Worst.none() for r in ("features", "bars")},
                 "spread": Worst.none()}
            for sc in scenarios
        }  # fmt: skip
        for end in ends:
            series = replace(full.slice(end - BARS, end), volume=None)
            honest = run(latest_features(series))[0]
            old_rule(series, run, honest, a)
            for sc in scenarios:
                observed = honest_observations(series, sc, rng)
                reference = {}
                bars, features = canonical_slot(feed, observed)
                reference["features"] = run(features)[0]
                reference["bars"] = run(latest_features(bars))[0]
                own = run(np.stack([latest_features(s) for s in observed]))
                per_scenario[sc]["spread"].add(own, reference["features"])
                transmitter_alone(observed, run, reference, per_scenario[sc]["b"])
                with_colluder(observed, run, reference, per_scenario[sc]["c"], rng)
        results[feed] = {
            "label": label,
            "dates": [str(np.datetime64(full.dates[e - 1], "D")) for e in ends],
            "old_rule": a.json(TOLERANCE_BPS),
            **{
                sc: {
                    "honest_spread": v["spread"].json(SKEW_BPS),
                    **{f"alone_{r}": w.json(SKEW_BPS) for r, w in v["b"].items()},
                    **{f"colluder_{r}": w.json(SKEW_BPS) for r, w in v["c"].items()},
                }
                for sc, v in per_scenario.items()
            },
        }
        progress(f"{label}: done ({time.time() - started:.0f}s)")
    report = {
        "model": "pooled central fit (fit_volatility + fit_risk, seed 0) on the first 70% of "
        "each demo feed",
        "bars": BARS,
        "n": N,
        "quorum": QUORUM,
        "tolerance_bps": TOLERANCE_BPS,
        "skew_bps": SKEW_BPS,
        "ends_back": list(ENDS_BACK),
        "seconds": round(time.time() - started, 1),
        "feeds": results,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "steering.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "steering.md").write_text(render_markdown(report, scenarios))
    return report


def _cell(w: dict[str, Any], key: str) -> str:
    up, down = w[f"{key}_up_pct"], w[f"{key}_down_pct"]
    return f"{round(up, 1) + 0.0:+.1f} / {round(min(down, 0.0), 1) + 0.0:+.1f}"


def render_markdown(report: dict[str, Any], scenarios: Sequence[str]) -> str:
    lines = [
        "# Steering: how far can a transmitter move the published values?",
        "",
        f"Model: {report['model']}. Inputs: each feed's last {report['bars']} bars ending "
        f"{', '.join(str(b) for b in report['ends_back'])} bars before the end of its bundled "
        f"history; worst case over those dates. n = {report['n']}, quorum {report['quorum']} "
        "observations (2f+1, f = 1). Cells: worst move up / down in % of the honest value.",
        "",
        "Columns: (a) old rule, transmitter free within 10 bps per value; (b) canonical rule, "
        "transmitter alone (chooses which >= 3 of 4 observations); (c) canonical rule, "
        "transmitter + one attester (any observation). `features`: per-feature median "
        "(implemented); `bars`: per-value median of the bars. `spread`: the honest attesters' "
        "own values (the floor). %/bps: worst |VaR move| per bps of input the attacker reaches "
        f"({report['tolerance_bps']} bps in (a), the {report['skew_bps']:g} bps honest "
        "disagreement in (b), (c)).",
        "",
    ]
    for sc in scenarios:
        lines += [
            f"## Scenario `{sc}`",
            "",
            "| feed | metric | (a) old | (b) alone, features | (c) +1 attester, features "
            "| (b) alone, bars | (c) +1 attester, bars | honest spread |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in report["feeds"].values():
            s = r[sc]
            cols = [r["old_rule"], s["alone_features"], s["colluder_features"], s["alone_bars"],
                    s["colluder_bars"], s["honest_spread"]]  # fmt: skip
            for key, name in (("var", "VaR %"), ("vol", "vol %")):
                lines.append(
                    f"| {r['label']} | {name} | " + " | ".join(_cell(c, key) for c in cols) + " |"
                )
            lines.append(
                f"| {r['label']} | VaR %/bps | "
                + " | ".join(f"{c['var_pct_per_bps']:.2f}" for c in cols)
                + " |"
            )
        lines.append("")
    lines.append(f"Measured in {report['seconds']} s.")
    return "\n".join(lines) + "\n"
