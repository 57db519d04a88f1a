"""Cold start: what the published model gives an asset with little history.

For each asset A, the scene is a token listed L days ago (L = 60, 120, 250) whose holder is not
in the federation. The federation trains the published configuration (FedSGD + server Adam, the
in-process replica `federated.frontier.replicate_rounds`) on the other providers' rows whose
outcome is known before A's evaluated year starts: no evaluated day is seen in training by any
provider, the calendar included. The evaluated year is A's last `HORIZON` days; the holder's
history is the L days just before it. On that year (features computed causally from A's bars,
the model never refit) the published model is compared with what the holder could build from
its L days alone: EWMA, GARCH(1,1)-t and HAR-RV fitted on them (`models.evaluation`), and the two
networks trained on its own rows (`federated.benchmark.train_pooled`, the benchmark's local fit).
"Joining pays" compares the published model with that local model at 250 days.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from federated.task import ProviderData, RecordDP, load_provider, load_series, predict

COLD_LENGTHS = (60, 120, 250)
HORIZON = 252  # the following year, in trading days
BASELINES = ("ewma", "garch", "har-rv", "local")
KUPIEC_ALPHA = 0.05


@dataclass(frozen=True)
class ColdStartRow:
    """One asset at one history length: QLIKE of every model and the published VaR backtest."""

    asset: str
    history_days: int
    train_rows: int
    qlike: dict[str, float]  # "published" and BASELINES
    var: dict[str, Any]  # models.evaluation.var_backtest of the published VaR

    @property
    def beats_all(self) -> bool:
        return all(self.qlike["published"] < self.qlike[b] for b in BASELINES)

    @property
    def kupiec_passes(self) -> bool:
        return self.var["kupiec_p"] > KUPIEC_ALPHA

    @property
    def joining_gain(self) -> float:
        """Relative QLIKE gain of the published model over the holder's own model."""
        return 1.0 - self.qlike["published"] / self.qlike["local"]


def _rows_before(data: ProviderData, dates: np.ndarray, first_eval: np.datetime64) -> ProviderData:
    """`data`'s rows (train and test) whose outcome day is before `first_eval`, all as training
    rows: what this provider can contribute to a federation trained before A's evaluated year."""
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.logvol_train, data.logvol_test])
    r = np.concatenate([data.ret_train, data.ret_test])
    keep = int(np.searchsorted(dates[1:], first_eval))  # row i's outcome is row i+1's day
    empty = x[:0]
    return ProviderData(data.name, x[:keep], y[:keep], r[:keep], empty, y[:0], r[:0])


def cold_start_asset(
    spec: str,
    others: Sequence[str],
    *,
    lengths: Sequence[int] = COLD_LENGTHS,
    horizon: int = HORIZON,
    rounds: int,
    learning_rate: float,
    server_lr: float,
    seed: int = 0,
    record_dp: RecordDP | None = None,
    progress: Callable[[str], None] = print,
) -> list[ColdStartRow]:
    """The cold-start rows of asset `spec` (see the module docstring)."""
    from federated.benchmark import Provider, score, train_pooled
    from federated.frontier import replicate_rounds
    from models.evaluation import holdout_baselines, var_backtest
    from models.features import MIN_HISTORY, build_features

    series = load_series(spec)
    n = len(series)
    if n < max(lengths) + horizon + 1:
        raise ValueError(f"{spec}: {n} days is too short for {max(lengths)} + {horizon}")
    first_eval = series.dates[n - horizon]  # the first day whose volatility is forecast
    contributors = []
    for other in others:
        data = load_provider(other)
        dates = build_features(load_series(other)).dates
        before = _rows_before(data, dates, first_eval)
        if before.num_train >= 50:
            contributors.append(before)
    progress(
        f"cold start {spec}: federation of {len(contributors)} providers on rows before "
        f"{first_eval} ({sum(c.num_train for c in contributors)} rows)"
    )
    published = replicate_rounds(
        contributors,
        rounds=rounds,
        learning_rate=learning_rate,
        server_lr=server_lr,
        seed=seed,
        record_dp=record_dp,
    )
    rows = []
    for length in lengths:
        short = series.slice(n - horizon - length, n)  # L days of history, then the year
        feats = build_features(short)
        cut = length - MIN_HISTORY  # rows whose outcome day is within the L days
        x = np.asarray(feats.X, dtype=np.float32)
        y = np.asarray(feats.target_logvol, dtype=np.float32)
        r = np.asarray(feats.next_return, dtype=np.float32)
        holder = ProviderData(spec, x[:cut], y[:cut], r[:cut], x[cut:], y[cut:], r[cut:])
        local = train_pooled([holder], rounds, server_lr, seed)
        provider = Provider(holder, holdout_baselines(short, cut))
        result = score(provider, {"published": published, "local": local}, "published")
        _, var99 = predict(published, holder.x_test)
        rows.append(
            ColdStartRow(
                asset=asset_name(spec),
                history_days=length,
                train_rows=cut,
                qlike={k: v["qlike"] for k, v in result["volatility"].items()},
                var=var_backtest(holder.ret_test, var99),
            )
        )
    return rows


def asset_name(spec: str) -> str:
    """Short asset name of a data spec (`bundled:sp500` -> `sp500`)."""
    return spec.split(":", 1)[1] if spec.startswith("bundled:") else spec.replace(":", "-")


def summarise(rows: Sequence[ColdStartRow]) -> dict[str, Any]:
    """Targets: the published model beats all four at every length for >= 4 assets, its VaR
    passes Kupiec, and joining pays at 250 days for >= 4 assets."""
    assets = sorted({r.asset for r in rows})
    beats = [a for a in assets if all(r.beats_all for r in rows if r.asset == a)]
    kupiec = [r for r in rows if r.kupiec_passes]
    at_250 = [r for r in rows if r.history_days == 250]
    pays = [r.asset for r in at_250 if r.joining_gain > 0]
    return {
        "assets": assets,
        "beats_all_at_every_length": beats,
        "kupiec_passes": f"{len(kupiec)} of {len(rows)}",
        "joining_pays_at_250": pays,
        "rows": [
            {
                "asset": r.asset,
                "history_days": r.history_days,
                "train_rows": r.train_rows,
                "qlike": r.qlike,
                "beats_all": r.beats_all,
                "var_breach_rate": r.var["breach_rate"],
                "kupiec_p": r.var["kupiec_p"],
                "joining_gain": r.joining_gain,
            }
            for r in rows
        ],
    }


def markdown(summary: dict[str, Any]) -> str:
    """The cold-start table for results/federated.md."""
    lines = [
        "## Cold start: an asset with 60 / 120 / 250 days of history",
        "",
        "Published configuration trained without the asset, on rows whose outcome precedes the "
        "asset's evaluated year (its last 252 days); baselines and the holder's own model fitted "
        "on its L days. QLIKE over the year (lower is better); ✓ = the published model beats "
        "all four. "
        + (
            "Trained without DP."
            if not summary.get("record_dp")
            else "Trained as published: record-level DP-SGD, z = "
            f"{summary['record_dp']['noise_multiplier']:g}, C = "
            f"{summary['record_dp']['clipping_norm']:g} (volatility) and "
            f"{summary['record_dp']['clipping_norm_risk']:g} (VaR) (one noise draw)."
        ),
        "",
        "| asset | L days | published | EWMA | GARCH | HAR-RV | own model | beats all | "
        "VaR breaches | Kupiec p | joining gain |",
        "|---|---:|---:|---:|---:|---:|---:|:-:|---:|---:|---:|",
    ]
    for r in summary["rows"]:
        q = r["qlike"]
        lines.append(
            f"| {r['asset']} | {r['history_days']} | {q['published']:.4f} | {q['ewma']:.4f} | "
            f"{q['garch']:.4f} | {q['har-rv']:.4f} | {q['local']:.4f} | "
            f"{'✓' if r['beats_all'] else '✗'} | {100 * r['var_breach_rate']:.2f}% | "
            f"{r['kupiec_p']:.3f} | {100 * r['joining_gain']:+.1f}% |"
        )
    n = len(summary["assets"])
    lines += [
        "",
        f"- Beats all four at every length: {len(summary['beats_all_at_every_length'])} of {n} "
        f"assets ({', '.join(summary['beats_all_at_every_length']) or 'none'}; target ≥ 4).",
        f"- Published VaR passes Kupiec (p > {KUPIEC_ALPHA}): {summary['kupiec_passes']} rows.",
        f"- Joining pays at 250 days: {len(summary['joining_pays_at_250'])} of {n} assets "
        f"(target ≥ 4).",
        "",
    ]
    return "\n".join(lines)


COLD_ASSETS = (
    "bundled:sp500",
    "bundled:wti",
    "bundled:aapl",
    "bundled:msft",
    "stress:7",
    "bundled:ibm",
)  # the benchmark's providers and the demo's feeds


def run_cold_start(
    out: Path,
    *,
    assets: Sequence[str] = COLD_ASSETS,
    providers: Sequence[str] | None = None,
    rounds: int,
    learning_rate: float,
    server_lr: float,
    seed: int = 0,
    record_dp: RecordDP | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every asset left out in turn (federation: `providers` minus the asset); writes
    `coldstart.{json,md}` and `coldstart.png` under `out` and returns the summary."""
    from federated.benchmark import BENCH_PROVIDERS

    federation = tuple(providers or BENCH_PROVIDERS)
    rows: list[ColdStartRow] = []
    for spec in assets:
        others = [p for p in federation if p != spec]
        rows += cold_start_asset(
            spec,
            others,
            rounds=rounds,
            learning_rate=learning_rate,
            server_lr=server_lr,
            seed=seed,
            record_dp=record_dp,
            progress=progress,
        )
    summary = summarise(rows) | {
        "record_dp": None
        if record_dp is None
        else {
            "noise_multiplier": record_dp.noise_multiplier,
            "clipping_norm": record_dp.clipping_norm,
            "clipping_norm_risk": record_dp.for_network("risk").clipping_norm,
        },
        "rounds": rounds,
        "learning_rate": learning_rate,
        "server_lr": server_lr,
        "federation": list(federation),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "coldstart.json").write_text(json.dumps(summary, indent=2))
    (out / "coldstart.md").write_text(markdown(summary))
    _plot(out / "coldstart.png", summary)
    return summary


def _plot(path: Path, summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assets = summary["assets"]
    fig, axes = plt.subplots(1, len(assets), figsize=(3 * len(assets), 3.2), sharey=False)
    for ax, asset in zip(np.atleast_1d(axes), assets, strict=True):
        rows = [r for r in summary["rows"] if r["asset"] == asset]
        days = [r["history_days"] for r in rows]
        for key, style in (
            ("published", "o-"),
            ("ewma", "s--"),
            ("garch", "^--"),
            ("har-rv", "v--"),
            ("local", "x:"),
        ):
            ax.plot(days, [r["qlike"][key] for r in rows], style, label=key)
        ax.set_title(asset)
        ax.set_xlabel("days of history")
        ax.set_xticks(days)
        ax.set_yscale("log")
    np.atleast_1d(axes)[0].set_ylabel("QLIKE over the following year (log)")
    np.atleast_1d(axes)[-1].legend(fontsize=7)
    fig.suptitle("Cold start: published model (no refit) vs fits on the short history")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
