"""The record-level clipping norms C of the published DP-SGD, chosen on a validation split.

DP-SGD's noise is z*C/n per coordinate: a small C clips more rows' gradients, a large C drowns
them in noise, so C is tuned. It is tuned here, once, on the public bench series and published as
a constant (`federated.config.PUBLISHED_RECORD_CLIP`): tuning it on the providers' private rows
at run time would itself leak. Each candidate C trains the published rounds (the in-process
replica, `federated.frontier.replicate_rounds`) on the first 80 % of every provider's training
rows and is scored on the last 20 % of them: never on a test row, which the benchmarks and the
demo evaluate on. Several noise seeds are averaged, because one draw of the noise moves QLIKE by
more than neighbouring candidates differ. Each network gets its own C: the volatility network's
by validation QLIKE, the VaR network's by validation pinball loss (the two train independently,
so one run per candidate scores both). The per-row gradients of the VaR network are far smaller,
so the volatility network's C would drown the VaR in noise. Epsilon does not depend on C.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from federated.task import ProviderData, RecordDP

CANDIDATES = (0.3, 1.0, 3.0, 10.0, 30.0, 60.0, 100.0)
VALIDATION_FRACTION = 0.2
SEEDS = (0, 1, 2)


def validation_split(data: ProviderData, fraction: float = VALIDATION_FRACTION) -> ProviderData:
    """The provider's training rows only: the first 1 - `fraction` to train, the rest as the
    'test' rows to score on (its real test rows are dropped)."""
    cut = round(data.num_train * (1.0 - fraction))
    if not 0 < cut < data.num_train:
        raise ValueError(f"{data.name}: {data.num_train} training rows cannot be split {fraction}")
    return replace(
        data,
        x_train=data.x_train[:cut],
        logvol_train=data.logvol_train[:cut],
        ret_train=data.ret_train[:cut],
        x_test=data.x_train[cut:],
        logvol_test=data.logvol_train[cut:],
        ret_test=data.ret_train[cut:],
    )


@dataclass(frozen=True)
class ClipChoice:
    """Mean validation QLIKE (volatility) and pinball loss (VaR) per candidate C, over providers
    and noise seeds, and the best of each."""

    noise_multiplier: float
    scores: dict[float, float]
    non_private: float  # the same rounds without DP, same validation rows
    risk_scores: dict[float, float] = field(default_factory=dict)
    risk_non_private: float = float("nan")

    @property
    def best(self) -> float:
        """The candidate with the lowest mean validation QLIKE (the volatility network's C)."""
        return min(self.scores, key=lambda c: (self.scores[c], c))

    @property
    def best_risk(self) -> float:
        """The candidate with the lowest mean validation pinball loss (the VaR network's C)."""
        return min(self.risk_scores, key=lambda c: (self.risk_scores[c], c))


def choose_clipping_norm(
    data: Sequence[ProviderData],
    *,
    noise_multiplier: float,
    rounds: int,
    learning_rate: float,
    server_lr: float,
    candidates: Sequence[float] = CANDIDATES,
    seeds: Sequence[int] = SEEDS,
    progress: Callable[[str], None] = lambda _msg: None,
) -> ClipChoice:
    """Score every candidate C on the providers' validation splits (see the module doc)."""
    from federated.frontier import replicate_rounds
    from federated.task import evaluate_models

    splits = [validation_split(p) for p in data]

    def score(record_dp: RecordDP | None, seed: int) -> tuple[float, float]:
        models = replicate_rounds(
            splits,
            rounds=rounds,
            learning_rate=learning_rate,
            server_lr=server_lr,
            seed=seed,
            record_dp=record_dp,
        )
        metrics = [evaluate_models(models, p) for p in splits]
        return (
            float(np.mean([m["qlike"] for m in metrics])),
            float(np.mean([m["pinball"] for m in metrics])),
        )

    scores, risk_scores = {}, {}
    for c in candidates:
        both = np.mean([score(RecordDP(noise_multiplier, float(c)), s) for s in seeds], axis=0)
        scores[float(c)], risk_scores[float(c)] = float(both[0]), float(both[1])
        progress(
            f"clipping norm {c:g}: mean validation QLIKE {scores[float(c)]:.4f}, "
            f"VaR pinball {risk_scores[float(c)]:.5f}"
        )
    plain = score(None, 0)
    return ClipChoice(noise_multiplier, scores, plain[0], risk_scores, plain[1])


def markdown(
    choice: ClipChoice, published: float, providers: Sequence[str], published_risk: float
) -> str:
    """The table `proofcast bench privacy` writes."""

    def verdict(published_c: float, chosen: float) -> str:
        return "✓ the validation choice" if published_c == chosen else "✗ not the validation choice"

    lines = [
        "## Record-level clipping norms, chosen on a validation split",
        "",
        f"DP-SGD noise multiplier z = {choice.noise_multiplier:g}; providers "
        f"{', '.join(providers)}; trained on the first {1 - VALIDATION_FRACTION:.0%} of each "
        f"one's training rows, scored on the last {VALIDATION_FRACTION:.0%} (no test row); "
        f"mean over noise seeds {', '.join(map(str, SEEDS))}. The volatility network's C by "
        "QLIKE, the VaR network's by pinball loss.",
        "",
        "| C | volatility: validation QLIKE | vs non-private | VaR: validation pinball "
        "| vs non-private |",
        "|---:|---:|---:|---:|---:|",
    ]
    for c, q in choice.scores.items():
        p = choice.risk_scores.get(c, float("nan"))
        mark = " (chosen)" if c == choice.best else ""
        risk_mark = " (chosen)" if choice.risk_scores and c == choice.best_risk else ""
        lines.append(
            f"| {c:g} | {q:.4f}{mark} | {q / choice.non_private - 1:+.1%} | {p:.5f}{risk_mark} "
            f"| {p / choice.risk_non_private - 1:+.1%} |"
        )
    lines += [
        f"| no DP | {choice.non_private:.4f} | | {choice.risk_non_private:.5f} | |",
        "",
        f"Published C = {published:g} for volatility: {verdict(published, choice.best)}; "
        f"{published_risk:g} for the VaR: "
        + (verdict(published_risk, choice.best_risk) if choice.risk_scores else "not scored"),
        "",
    ]
    return "\n".join(lines)
