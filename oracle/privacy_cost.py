"""`proofcast bench privacy`: what the published model's privacy costs, on the demo's feeds.

1. The record-level clipping norms (one per network), chosen on the bench providers' validation
   split (`federated.clipping`), checked against the published constants.
2. The demo's federation (its providers, the published rounds) trained as `make demo` trains it --
   record-level DP-SGD under SecAgg+, several independent noise draws -- and once without DP;
   each model scored like the demo scores it (`oracle.demo.evaluate_feed`: every demo feed's
   held-out tail, which no provider trained on, against EWMA, GARCH(1,1) and HAR-RV).

Writes results/privacy.{md,json}.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from federated.config import (
    PUBLISHED_LEARNING_RATE,
    PUBLISHED_RECORD_CLIP,
    PUBLISHED_RECORD_CLIP_RISK,
    PUBLISHED_RECORD_NOISE,
    PUBLISHED_ROUNDS,
    PUBLISHED_SERVER_LR,
)
from models.data import load_bundled
from oracle.demo import P_PASS, DemoSettings, evaluate_feed, train_federated

COST_TARGET = 0.10  # mean QLIKE cost of privacy the issue allows
BASELINES = ("ewma", "garch", "har")


def run_privacy_bench(
    out: Path,
    workdir: Path,
    private_runs: int = 3,
    rounds: int = PUBLISHED_ROUNDS,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run both parts; write results/privacy.{md,json}; return the summary."""
    from federated.benchmark import BENCH_PROVIDERS
    from federated.clipping import choose_clipping_norm
    from federated.task import load_provider

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    progress("clipping norm: candidates on the bench providers' validation split")
    choice = choose_clipping_norm(
        [load_provider(s) for s in BENCH_PROVIDERS],
        noise_multiplier=PUBLISHED_RECORD_NOISE,
        rounds=rounds,
        learning_rate=PUBLISHED_LEARNING_RATE,
        server_lr=PUBLISHED_SERVER_LR,
        progress=progress,
    )

    base = DemoSettings(rounds=rounds)
    runs: dict[str, list[dict[str, Any]]] = {}
    epsilon = delta = None
    for i in range(private_runs + 1):
        name = "non-private" if i == 0 else f"private-{i}"
        settings = replace(base, workdir=workdir / name)
        if i == 0:
            settings = replace(settings, record_dp_noise_multiplier=0.0, secagg=False)
        progress(f"demo federation, {name}: {rounds} rounds")
        model, manifest = train_federated(settings)
        if i > 0:
            epsilon, delta = manifest.dp.get("record_epsilon"), manifest.dp.get("delta")
        runs[name] = [{"feed": f, **evaluate_feed(model, load_bundled(f))} for f in settings.feeds]
    summary = {
        "clip": {
            "noise_multiplier": choice.noise_multiplier,
            "scores": {str(c): q for c, q in choice.scores.items()},
            "non_private": choice.non_private,
            "chosen": choice.best,
            "published": PUBLISHED_RECORD_CLIP,
            "risk_scores": {str(c): q for c, q in choice.risk_scores.items()},
            "risk_non_private": choice.risk_non_private,
            "risk_chosen": choice.best_risk,
            "published_risk": PUBLISHED_RECORD_CLIP_RISK,
            "providers": list(BENCH_PROVIDERS),
        },
        "record_epsilon": epsilon,
        "delta": delta,
        "providers": list(base.providers),
        "feeds": cost_table(runs),
        "seconds": time.perf_counter() - started,
    }
    (out / "privacy.json").write_text(json.dumps(summary, indent=2))
    (out / "privacy.md").write_text(markdown(summary))
    return summary


def cost_table(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per feed: the non-private and private QLIKE (mean and range over the noise draws), the
    cost, the baselines, and the private model's VaR backtest (mean over draws)."""
    plain = {r["feed"]: r for r in runs["non-private"]}
    private = [{r["feed"]: r for r in v} for k, v in runs.items() if k != "non-private"]
    rows = []
    for feed, ref in plain.items():
        q = np.array([p[feed]["qlike_model"] for p in private])
        rows.append(
            {
                "feed": feed,
                "non_private": ref["qlike_model"],
                "private_mean": float(q.mean()),
                "private_min": float(q.min()),
                "private_max": float(q.max()),
                "cost": float(q.mean() / ref["qlike_model"] - 1),
                **{b: ref[f"qlike_{b}"] for b in BASELINES},
                "private_beats_all": [
                    bool(all(p[feed]["qlike_model"] < ref[f"qlike_{b}"] for b in BASELINES))
                    for p in private
                ],
                "non_private_beats_all": all(
                    ref["qlike_model"] < ref[f"qlike_{b}"] for b in BASELINES
                ),
                "breach_rate": float(np.mean([p[feed]["var_breach_rate"] for p in private])),
                "kupiec_pass": [bool(p[feed]["var_kupiec_p"] >= P_PASS) for p in private],
            }
        )
    return rows


def markdown(summary: dict[str, Any]) -> str:
    """results/privacy.md."""
    from federated.clipping import ClipChoice
    from federated.clipping import markdown as clip_markdown

    clip = summary["clip"]
    choice = ClipChoice(
        clip["noise_multiplier"],
        {float(c): q for c, q in clip["scores"].items()},
        clip["non_private"],
        {float(c): q for c, q in clip["risk_scores"].items()},
        clip["risk_non_private"],
    )
    rows = summary["feeds"]
    draws = len(rows[0]["private_beats_all"]) if rows else 0
    mean_cost = float(np.mean([r["cost"] for r in rows])) if rows else float("nan")
    eps = summary["record_epsilon"]
    lines = [
        "# What privacy costs",
        "",
        clip_markdown(choice, clip["published"], clip["providers"], clip["published_risk"]),
        "## DP cost on the demo feeds",
        "",
        f"The demo's federation ({', '.join(summary['providers'])}) trained as `make demo` trains "
        f"it: record-level DP-SGD (ε {eps:.2f} per row at δ {summary['delta']:g}) under SecAgg+, "
        f"{draws} independent noise draws, against the same rounds without DP. QLIKE on each "
        "feed's held-out tail (no provider trained on it); baselines fitted on the rows before it.",
        "",
        "| feed | non-private | private (mean; min to max) | cost | EWMA | GARCH | HAR-RV "
        "| private beats all (draws) | VaR breaches | Kupiec pass (draws) |",
        "|---|---:|---:|---:|---:|---:|---:|:-:|---:|:-:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['feed']} | {r['non_private']:.4f} | {r['private_mean']:.4f}; "
            f"{r['private_min']:.4f} to {r['private_max']:.4f} | {r['cost']:+.1%} | "
            f"{r['ewma']:.4f} | {r['garch']:.4f} | {r['har']:.4f} | "
            f"{sum(r['private_beats_all'])}/{draws} | {r['breach_rate']:.2%} | "
            f"{sum(r['kupiec_pass'])}/{draws} |"
        )
    ok = mean_cost <= COST_TARGET
    lines += [
        "",
        f"Mean cost {mean_cost:+.1%} (target ≤ {COST_TARGET:.0%}: {'✓' if ok else '✗'}). "
        f"{summary['seconds']:.0f} s.",
        "",
    ]
    return "\n".join(lines)
