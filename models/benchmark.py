"""`proofcast bench models`: out-of-sample evaluation of the models against the baselines.

For each series: rolling-origin forecasts (`models.evaluation`), the loss and backtest tables,
the targets of issue 3 checked with their margins, and two plots. Writes ``models.json``,
``models.md`` and ``models_<series>_{vol,var}.png`` under the output directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from models.data import BUNDLED_SERIES, PriceSeries, load_bundled
from models.evaluation import (
    RollingForecasts,
    evaluate,
    rolling_origin_forecasts,
    var_breaches,
)
from models.risk import RiskModel, ltv_haircut, margin_requirement
from models.stress import generate_stress_series
from models.volatility import VolatilityModel

DEFAULT_SERIES = ("sp500", "wti", "aapl", "msft", "stress")
VOL_MODEL, VAR_MODEL = "vol-mlp", "risk-mlp"  # what the oracle proves (default hidden layer)
STRESS_SEED, STRESS_DAYS = 0, 2000


def load_benchmark_series(name: str) -> PriceSeries:
    """A bundled series, or ``stress`` (the seeded crash scenario, crash inside the test span)."""
    if name == "stress":
        return generate_stress_series(STRESS_SEED, n_days=STRESS_DAYS)
    if name not in BUNDLED_SERIES:
        raise KeyError(f"unknown series {name!r}: use stress or one of {BUNDLED_SERIES}")
    return load_bundled(name)


def check_targets(result: dict) -> dict:
    """Issue-3 targets for one series, each with pass/fail and the relative margin."""
    vol, var = result["volatility"], result["var"]
    ours = vol[VOL_MODEL]["qlike"]
    out = {}
    for base, rule in (("garch", "better"), ("ewma", "better"), ("har-rv", "no worse")):
        ref = vol[base]["qlike"]
        gap = (ours - ref) / ref  # negative: ours lower (better)
        ok = ours < ref if rule == "better" else ours <= ref
        out[f"qlike_{rule.replace(' ', '_')}_than_{base}"] = {"pass": bool(ok), "rel_diff": gap}
    p = var[VAR_MODEL]["kupiec_p"]
    out["var_kupiec_5pct"] = {"pass": bool(p >= 0.05), "pvalue": p}
    return out


def run_models_benchmark(
    out_dir: Path,
    series: Sequence[str] = DEFAULT_SERIES,
    *,
    min_train: int = 1000,
    refit_every: int = 250,
    epochs: int = 300,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Evaluate every model on every series; write results and return them as a dict."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = progress or (lambda _msg: None)
    report: dict = {
        "config": {
            "min_train": min_train,
            "refit_every": refit_every,
            "epochs": epochs,
            "seed": seed,
            "vol_model": VOL_MODEL,
            "var_model": VAR_MODEL,
            "parameters": {
                "vol-mlp": VolatilityModel().num_parameters(),
                "vol-linear": VolatilityModel(hidden=0).num_parameters(),
                "risk-mlp": RiskModel().num_parameters(),
                "risk-linear": RiskModel(hidden=0).num_parameters(),
            },
        },
        "series": {},
    }
    for name in series:
        t0 = time.perf_counter()
        s = load_benchmark_series(name)
        fc = rolling_origin_forecasts(
            s, min_train=min_train, refit_every=refit_every, epochs=epochs, seed=seed
        )
        result = evaluate(fc)
        last_var = float(fc.var99[VAR_MODEL][-1])
        result |= {
            "days": len(s),
            "has_ohlc": s.has_ohlc,
            "test_start": str(fc.dates[0]),
            "test_end": str(fc.dates[-1]),
            "test_days": len(fc.dates),
            "refits": fc.refits,
            "fit_seconds": fc.fit_seconds,
            "seconds": time.perf_counter() - t0,
            "targets": None,
            "last_day": {
                "var99_pct": last_var,
                "margin": margin_requirement(last_var),
                "ltv_haircut": ltv_haircut(last_var),
            },
        }
        result["targets"] = check_targets(result)
        result["plots"] = _plots(fc, out_dir)
        report["series"][name] = result
        log(f"{name}: {len(fc.dates)} test days, {fc.refits} refits, {result['seconds']:.1f} s")
    report["choice"] = _model_choice(report)
    (out_dir / "models.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "models.md").write_text(render_markdown(report))
    return report


def _model_choice(report: dict) -> dict:
    """Compare the MLP and the purely linear (HAR-style) network on every series."""
    rows = {}
    for name, r in report["series"].items():
        mlp, lin = r["volatility"]["vol-mlp"]["qlike"], r["volatility"]["vol-linear"]["qlike"]
        rows[name] = {"vol_mlp": mlp, "vol_linear": lin, "mlp_better": mlp < lin}
        var = r["var"]
        rows[name] |= {
            "risk_mlp_kupiec_p": var["risk-mlp"]["kupiec_p"],
            "risk_linear_kupiec_p": var["risk-linear"]["kupiec_p"],
        }
    wins = sum(r["mlp_better"] for r in rows.values())
    kupiec = {
        key: sum(r[f"{key}_kupiec_p"] >= 0.05 for r in rows.values())
        for key in ("risk_mlp", "risk_linear")
    }
    return {"per_series": rows, "mlp_wins": wins, "series": len(rows), "kupiec_passes": kupiec}


def render_markdown(report: dict) -> str:
    """The benchmark as a Markdown report."""
    cfg = report["config"]
    lines = [
        "# Models benchmark: out-of-sample volatility and 99 % VaR",
        "",
        f"Rolling origin, expanding window: first {cfg['min_train']} feature rows train, then "
        f"every model is refitted every {cfg['refit_every']} rows on the past only; "
        f"{cfg['epochs']} epochs, seed {cfg['seed']}. Variances in percent^2 (daily). "
        f"Parameters: {cfg['parameters']}.",
        "",
        "## Targets (issue 3)",
        "",
        f"Volatility model `{VOL_MODEL}`: QLIKE better than GARCH(1,1) and EWMA, no worse than "
        f"HAR-RV; VaR model `{VAR_MODEL}`: Kupiec p >= 0.05. Relative difference = "
        "(ours - baseline) / baseline, negative is better.",
        "",
        "| series | vs GARCH | vs EWMA | vs HAR-RV | Kupiec p |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in report["series"].items():
        t = r["targets"]
        cells = [
            _cell(t[k])
            for k in (
                "qlike_better_than_garch",
                "qlike_better_than_ewma",
                "qlike_no_worse_than_har-rv",
            )
        ]
        k = t["var_kupiec_5pct"]
        cells.append(f"{'pass' if k['pass'] else 'FAIL'} ({k['pvalue']:.3f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ch = report["choice"]
    lines += [
        "",
        f"Model choice: the MLP (one ReLU layer + linear skip) has lower QLIKE than the purely "
        f"linear HAR-style network on {ch['mlp_wins']} of {ch['series']} series; as a VaR "
        f"model it passes Kupiec on {ch['kupiec_passes']['risk_mlp']} of {ch['series']} "
        f"series, the linear one on {ch['kupiec_passes']['risk_linear']}:",
        "",
        "| series | vol-mlp QLIKE | vol-linear QLIKE | risk-mlp Kupiec p | risk-linear Kupiec p |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in ch["per_series"].items():
        lines.append(
            f"| {name} | {row['vol_mlp']:.4f} | {row['vol_linear']:.4f} | "
            f"{row['risk_mlp_kupiec_p']:.3f} | {row['risk_linear_kupiec_p']:.3f} |"
        )
    for name, r in report["series"].items():
        lines += [
            "",
            f"## {name}",
            "",
            f"{r['days']} days ({'OHLC' if r['has_ohlc'] else 'close only'}); test "
            f"{r['test_start']} .. {r['test_end']} ({r['test_days']} forecasts, {r['refits']} "
            f"refits, {r['seconds']:.1f} s).",
            "",
            "| volatility model | QLIKE | MSE log vol | DM vs GARCH (t, p) |",
            "| --- | --- | --- | --- |",
        ]
        for key, v in sorted(r["volatility"].items(), key=lambda kv: kv[1]["qlike"]):
            dm = f"{v['dm_vs_garch']:.2f}, {v['dm_vs_garch_p']:.3f}" if key != "garch" else "-"
            lines.append(f"| {key} | {v['qlike']:.4f} | {v['mse_logvol']:.4f} | {dm} |")
        lines += [
            "",
            "| VaR model | breaches / days | rate | Kupiec LR (p) | Christoffersen LR (p) | "
            "mean VaR % |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for key, v in r["var"].items():
            lines.append(
                f"| {key} | {v['breaches']} / {v['days']} | {100 * v['breach_rate']:.2f} % | "
                f"{v['kupiec_lr']:.2f} ({v['kupiec_p']:.3f}) | "
                f"{v['christoffersen_lr']:.2f} ({v['christoffersen_p']:.3f}) | "
                f"{v['mean_var']:.2f} |"
            )
        last = r["last_day"]
        lines += [
            "",
            f"Last day: VaR {last['var99_pct']:.2f} % -> margin {100 * last['margin']:.1f} %, "
            f"LTV haircut {100 * last['ltv_haircut']:.1f} % (max LTV "
            f"{100 * (1 - last['ltv_haircut']):.1f} %).",
            "",
            f"![vol]({r['plots']['vol']}) ![var]({r['plots']['var']})",
        ]
    return "\n".join(lines) + "\n"


def _cell(t: dict) -> str:
    return f"{'pass' if t['pass'] else 'FAIL'} ({100 * t['rel_diff']:+.2f} %)"


def _plots(fc: RollingForecasts, out_dir: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dates = fc.dates.astype("datetime64[D]").astype(object)
    vol_png, var_png = f"models_{fc.name}_vol.png", f"models_{fc.name}_var.png"

    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot(dates, np.sqrt(fc.realized_var), color="0.75", lw=0.5, label="realized (next day)")
    ax.plot(dates, np.sqrt(fc.variance["garch"]), lw=0.8, label="GARCH(1,1)")
    ax.plot(dates, np.sqrt(fc.variance[VOL_MODEL]), lw=0.8, label=f"{VOL_MODEL} (proved)")
    ax.set_yscale("log")
    ax.set_ylabel("daily volatility, %")
    ax.set_title(f"{fc.name}: out-of-sample volatility forecasts")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out_dir / vol_png, dpi=110)
    plt.close(fig)

    var = fc.var99[VAR_MODEL]
    hit = var_breaches(fc.next_return, var)
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot(dates, fc.next_return, ".", ms=1.5, color="0.6", label="next-day return")
    ax.plot(dates, -var, lw=0.8, color="C0", label=f"-VaR 99 % ({VAR_MODEL})")
    hit_dates = [d for d, h in zip(dates, hit, strict=True) if h]
    ax.plot(hit_dates, fc.next_return[hit], "x", color="C3", label=f"breaches ({int(hit.sum())})")
    ax.set_ylabel("log return, %")
    ax.set_title(f"{fc.name}: 1-day 99 % VaR and breaches ({100 * hit.mean():.2f} %)")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(out_dir / var_png, dpi=110)
    plt.close(fig)
    return {"vol": vol_png, "var": var_png}
