"""Federated vs centralised vs local-only; attacks with FedAvg and robust rules; DP and SecAgg+.

Every federated number comes from a real Flower simulation of the app (one provider per node).
The benchmark then acts as an auditor holding every provider's test split: it loads each round's
saved global model and scores it per provider with the same metrics as the models work
(`models.evaluation`). The centralised model pools all training rows (what federation avoids);
local-only models see one provider's rows each; all get the same number of optimiser steps.

Writes `federated.json`, `federated.md` and `federated_convergence.png` under the results dir.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from federated.manifest import load_manifest, load_round_model
from federated.privacy import gaussian_privacy_spent
from federated.simulation import simulate
from federated.task import ProviderData, build_models, evaluate_models, load_provider

BENCH_PROVIDERS = ("bundled:sp500", "bundled:wti", "bundled:aapl", "bundled:msft", "stress:7")


@dataclass(frozen=True)
class BenchSettings:
    """Sizes of the benchmark runs."""

    providers: tuple[str, ...] = BENCH_PROVIDERS
    rounds: int = 10
    local_epochs: int = 30
    learning_rate: float = 0.01
    attack_scale: float = 10.0
    dp_noise: tuple[float, ...] = (0.3, 1.0, 3.0)
    dp_clipping_norm: float = 0.1
    dp_delta: float = 1e-5
    seed: int = 0

    @classmethod
    def quick(cls) -> BenchSettings:
        """A few-minute version (fewer rounds, one DP level)."""
        return cls(rounds=4, local_epochs=20, dp_noise=(1.0,))


def per_provider(models: nn.ModuleDict, data: list[ProviderData]) -> dict[str, dict[str, float]]:
    """Out-of-sample metrics of `models` on each provider's test split."""
    return {d.name: evaluate_models(models, d) for d in data}


def mean_qlike(scores: dict[str, dict[str, float]], names: list[str] | None = None) -> float:
    """Equal-weight mean QLIKE over providers (`names`, default all)."""
    keys = names if names is not None else list(scores)
    return float(np.mean([scores[k]["qlike"] for k in keys]))


def train_pooled(data: list[ProviderData], epochs: int, lr: float, seed: int) -> nn.ModuleDict:
    """Both models trained by `models` on the given providers' training rows pooled together."""
    from models.risk import RiskModel, train_risk
    from models.volatility import VolatilityModel, train_volatility

    x = np.concatenate([d.x_train for d in data])
    y = np.concatenate([d.logvol_train for d in data])
    r = np.concatenate([d.ret_train for d in data])
    vol = train_volatility(VolatilityModel(), x, y, epochs=epochs, lr=lr, seed=seed)
    risk = train_risk(RiskModel(), x, r, epochs=epochs, lr=lr, seed=seed)
    return nn.ModuleDict({"volatility": vol, "risk": risk})


@dataclass
class FederatedRun:
    """One simulated federated training, scored per round and per provider."""

    name: str
    overrides: dict[str, Any]
    wall_seconds: float
    round_seconds: list[float]
    curve: list[float]  # mean QLIKE over all providers after each round
    final: dict[str, dict[str, float]]
    epsilon: float | None


def run_one(
    name: str, workdir: Path, data: list[ProviderData], s: BenchSettings, **overrides: Any
) -> FederatedRun:
    """Simulate one configuration and score every saved round."""
    config = {
        "providers": ",".join(s.providers),
        "num-server-rounds": s.rounds,
        "local-epochs": s.local_epochs,
        "learning-rate": s.learning_rate,
        "seed": s.seed,
        "attack-scale": s.attack_scale,
        **overrides,
    }
    t0 = time.perf_counter()
    out = simulate(workdir / name, **config)
    wall = time.perf_counter() - t0
    curve, seconds, final = [], [], {}
    for rnd in range(1, s.rounds + 1):
        models = build_models()
        for key in ("volatility", "risk"):
            models[key] = load_round_model(out, rnd, key, models[key])
        final = per_provider(models, data)
        curve.append(mean_qlike(final))
        seconds.append(load_manifest(out, rnd).seconds)
    eps = load_manifest(out, s.rounds).dp.get("epsilon")
    return FederatedRun(name, overrides, wall, seconds, curve, final, eps)


def run_federated_benchmark(
    out: Path,
    workdir: Path,
    settings: BenchSettings | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run everything, write the results files, and return the JSON-able summary."""
    s = settings or BenchSettings()
    out.mkdir(parents=True, exist_ok=True)
    data = [load_provider(p) for p in s.providers]
    steps = s.rounds * s.local_epochs
    names = [d.name for d in data]
    attacker, honest = names[0], names[1:]

    progress("centralised and local-only baselines")
    central = per_provider(train_pooled(data, steps, s.learning_rate, s.seed), data)
    local = {
        d.name: evaluate_models(train_pooled([d], steps, s.learning_rate, s.seed), d) for d in data
    }

    runs: dict[str, FederatedRun] = {}
    plan: list[tuple[str, dict[str, Any]]] = [
        ("fedavg", {}),
        ("median", {"aggregation": "median"}),
        ("trimmed-mean", {"aggregation": "trimmed-mean", "trim-beta": 0.2}),
        ("fedavg+sign-flip", {"attack": "sign-flip", "attack-partition": 0}),
        (
            "median+sign-flip",
            {"aggregation": "median", "attack": "sign-flip", "attack-partition": 0},
        ),
        (
            "trimmed-mean+sign-flip",
            {
                "aggregation": "trimmed-mean",
                "trim-beta": 0.2,
                "attack": "sign-flip",
                "attack-partition": 0,
            },
        ),
        ("fedavg+scale", {"attack": "scale", "attack-partition": 0}),
        ("median+scale", {"aggregation": "median", "attack": "scale", "attack-partition": 0}),
        ("krum", {"aggregation": "krum"}),
        ("krum+sign-flip", {"aggregation": "krum", "attack": "sign-flip", "attack-partition": 0}),
        ("krum+scale", {"aggregation": "krum", "attack": "scale", "attack-partition": 0}),
        ("secagg", {"secagg": True, "secagg-num-shares": len(data), "secagg-threshold": 3}),
    ]
    plan += [
        (
            f"dp-z{z:g}",
            {
                "dp-noise-multiplier": z,
                "dp-clipping-norm": s.dp_clipping_norm,
                "dp-delta": s.dp_delta,
            },
        )
        for z in s.dp_noise
    ]
    for name, overrides in plan:
        progress(f"federated run: {name}")
        runs[name] = run_one(name, workdir, data, s, **overrides)

    summary = _summarise(s, names, attacker, honest, central, local, runs)
    (out / "federated.json").write_text(json.dumps(summary, indent=2))
    (out / "federated.md").write_text(_markdown(summary))
    _plot(out / "federated_convergence.png", runs, mean_qlike(central), mean_qlike(local))
    return summary


def _summarise(s, names, attacker, honest, central, local, runs) -> dict[str, Any]:
    fed = runs["fedavg"].final
    c, f = mean_qlike(central), mean_qlike(fed)
    loc = mean_qlike(local)
    comparison = {
        n: {
            "qlike": {
                "federated": fed[n]["qlike"],
                "centralised": central[n]["qlike"],
                "local": local[n]["qlike"],
            },
            "var_breach_rate": {
                "federated": fed[n]["var-breach-rate"],
                "centralised": central[n]["var-breach-rate"],
                "local": local[n]["var-breach-rate"],
            },
        }
        for n in names
    }
    attacks = {}
    for rule in ("fedavg", "median", "trimmed-mean", "krum"):
        clean = runs[rule].final
        for attack in ("sign-flip", "scale"):
            key = f"{rule}+{attack}"
            if key not in runs:
                continue
            hit = runs[key].final
            attacks[key] = {
                "clean_qlike_honest": mean_qlike(clean, honest),
                "attacked_qlike_honest": mean_qlike(hit, honest),
                "degradation_honest": mean_qlike(hit, honest) / mean_qlike(clean, honest) - 1.0,
                "clean_qlike_all": mean_qlike(clean),
                "attacked_qlike_all": mean_qlike(hit),
                "degradation_all": mean_qlike(hit) / mean_qlike(clean) - 1.0,
            }
    dp = {
        name: {
            "noise_multiplier": r.overrides["dp-noise-multiplier"],
            "clipping_norm": r.overrides["dp-clipping-norm"],
            "epsilon": r.epsilon,
            "delta": s.dp_delta,
            "epsilon_check": gaussian_privacy_spent(
                r.overrides["dp-noise-multiplier"], s.rounds, s.dp_delta
            ).epsilon,
            "qlike": mean_qlike(r.final),
            "qlike_vs_fedavg": mean_qlike(r.final) / f - 1.0,
        }
        for name, r in runs.items()
        if name.startswith("dp-")
    }
    secagg = {
        "plain_round_seconds": float(np.mean(runs["fedavg"].round_seconds)),
        "secagg_round_seconds": float(np.mean(runs["secagg"].round_seconds)),
        "plain_wall_seconds": runs["fedavg"].wall_seconds,
        "secagg_wall_seconds": runs["secagg"].wall_seconds,
        "secagg_qlike": mean_qlike(runs["secagg"].final),
        "fedavg_qlike": f,
    }
    return {
        "settings": asdict(s),
        "providers": names,
        "attacker": attacker,
        "headline": {
            "centralised_qlike": c,
            "federated_qlike": f,
            "federated_vs_centralised": f / c - 1.0,
            "local_only_mean_qlike": loc,
            "target_within_3pct_of_centralised": f <= 1.03 * c,
            "target_better_than_local_only": f < loc,
        },
        "per_provider": comparison,
        "attacks": attacks,
        "dp": dp,
        "secagg": secagg,
        "curves": {name: r.curve for name, r in runs.items()},
    }


def _markdown(x: dict[str, Any]) -> str:
    h = x["headline"]
    s = x["settings"]
    lines = [
        "# Federated training benchmark",
        "",
        f"{len(x['providers'])} providers ({', '.join(x['providers'])}); {s['rounds']} rounds x "
        f"{s['local_epochs']} local epochs (centralised/local-only: "
        f"{s['rounds'] * s['local_epochs']} epochs). Out-of-sample (last 30% of each series) "
        "QLIKE of the volatility forecast and 99% VaR breach rate; "
        "means are equal-weight over providers.",
        "",
        "## Federated vs centralised vs local-only",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| centralised QLIKE (pooled data) | {h['centralised_qlike']:.4f} |",
        f"| federated QLIKE (FedAvg) | {h['federated_qlike']:.4f} |",
        f"| federated vs centralised | {100 * h['federated_vs_centralised']:+.2f}% "
        f"(target <= +3%: {'met' if h['target_within_3pct_of_centralised'] else 'MISSED'}) |",
        f"| local-only mean QLIKE | {h['local_only_mean_qlike']:.4f} "
        f"(federated better: {'yes' if h['target_better_than_local_only'] else 'NO'}) |",
        "",
        "| provider | QLIKE fed | QLIKE central | QLIKE local "
        "| VaR breaches fed | central | local |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, v in x["per_provider"].items():
        q, b = v["qlike"], v["var_breach_rate"]
        lines.append(
            f"| {n} | {q['federated']:.4f} | {q['centralised']:.4f} | {q['local']:.4f} | "
            f"{100 * b['federated']:.2f}% | {100 * b['centralised']:.2f}% | "
            f"{100 * b['local']:.2f}% |"
        )
    lines += [
        "",
        f"## One malicious provider ({x['attacker']}; sign-flip = -{s['attack_scale']:g} x update, "
        f"scale = {s['attack_scale']:g} x update)",
        "",
        "Degradation = attacked / clean QLIKE - 1 with the same rule; 'honest' scores only the "
        "other providers' test data. Target: robust rule degrades < 5%.",
        "",
        "| rule + attack | clean QLIKE (honest) | attacked (honest) "
        "| degradation (honest) | degradation (all) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for k, v in x["attacks"].items():
        lines.append(
            f"| {k} | {v['clean_qlike_honest']:.4f} | {v['attacked_qlike_honest']:.4g} | "
            f"{100 * v['degradation_honest']:+.3g}% | {100 * v['degradation_all']:+.3g}% |"
        )
    lines += [
        "",
        "## Cost of differential privacy (central DP, fixed clipping, all providers every round)",
        "",
        "| noise multiplier z | clipping norm | epsilon (delta) | QLIKE | vs FedAvg |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for v in x["dp"].values():
        lines.append(
            f"| {v['noise_multiplier']:g} | {v['clipping_norm']:g} | "
            f"{v['epsilon']:.3g} ({v['delta']:g}) | "
            f"{v['qlike']:.4f} | {100 * v['qlike_vs_fedavg']:+.1f}% |"
        )
    sa = x["secagg"]
    lines += [
        "",
        "## Cost of SecAgg+",
        "",
        "| measure | plain FedAvg | SecAgg+ |",
        "| --- | ---: | ---: |",
        f"| mean round time (s) | {sa['plain_round_seconds']:.2f} "
        f"| {sa['secagg_round_seconds']:.2f} |",
        f"| whole run incl. simulation start (s) | {sa['plain_wall_seconds']:.1f} "
        f"| {sa['secagg_wall_seconds']:.1f} |",
        f"| final QLIKE | {sa['fedavg_qlike']:.4f} | {sa['secagg_qlike']:.4f} |",
        "",
        "Convergence: `federated_convergence.png` (mean QLIKE after each round).",
        "",
    ]
    return "\n".join(lines)


def _plot(path: Path, runs: dict[str, FederatedRun], central: float, local: float) -> None:
    """Left: clean, robust, DP and SecAgg+ runs (linear). Right: every attacked run (log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_att) = plt.subplots(1, 2, figsize=(13, 5))
    for name, r in runs.items():
        rounds = range(1, len(r.curve) + 1)
        target = ax_att if "+" in name else ax
        style = "-." if name.startswith("dp-") else "-"
        target.plot(rounds, r.curve, style, marker="o", ms=3, label=name)
    for a in (ax, ax_att):
        a.axhline(central, color="black", lw=1, label="centralised")
        a.axhline(local, color="grey", lw=1, ls=":", label="local-only mean")
        a.set_xlabel("round")
        a.legend(fontsize=7)
    clean = [v for n, r in runs.items() if "+" not in n for v in r.curve if np.isfinite(v)]
    ax.set_ylim(0.9 * min([*clean, central, local]), min(max(clean), 3 * central))
    ax.set_ylabel("mean out-of-sample QLIKE")
    ax.set_title("Clean, robust, DP and SecAgg+ runs")
    ax_att.set_yscale("log")
    ax_att.set_title("One malicious provider (log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
