"""A provider's own record of what it gave: one local JSON receipt per SuperNode.

Each round a provider trains in, its ClientApp adds an entry: the round, the rows it trained on,
its DP-SGD steps, the record-level epsilon of that round alone and cumulated over every round it
joined, in this run and any earlier run on the same rows (from its own accountant,
`federated.privacy.sampled_gaussian_privacy_spent`, not from the coordinator's word), and the
model it trained from. When the next global model reaches it (the next round's training or an
evaluation), the entry also records the oracle model hash that round
produced (`models.oracle_model.OracleModel`: the hash the chain registers). The receipt never
leaves the provider's machine; `proofcast train receipt` prints it.

Where: see `receipt_path`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from federated.privacy import sampled_gaussian_privacy_spent


class ReceiptError(ValueError):
    """A receipt file is missing or malformed."""


@dataclass
class ReceiptRound:
    """One round this provider trained in."""

    round: int
    rows: int
    steps: int
    trained_from: str
    contributed_to: str = ""
    epsilon_round: float | None = None
    epsilon_total: float | None = None
    run: int = 0  # Flower's run id: a second training run on the same rows adds to the total


@dataclass
class Receipt:
    """Everything one provider gave, by its own accounting."""

    provider: str
    delta: float | None = None
    noise_multiplier: float = 0.0
    sample_rate: float = 1.0
    clipping_norm: float | None = None  # the volatility network's
    risk_clipping_norm: float | None = None  # the VaR network's (None: the same)
    rounds: list[ReceiptRound] = field(default_factory=list)

    @property
    def epsilon(self) -> float | None:
        """Record-level epsilon over every round joined (None without DP-SGD)."""
        return self.rounds[-1].epsilon_total if self.rounds else None

    @property
    def rows(self) -> int:
        return max((r.rows for r in self.rounds), default=0)


def receipt_path(node_config: Any, label: str, default_dir: Path | None = None) -> Path:
    """Where this provider's receipt lives: node config `receipt`, else `default_dir` (an
    in-process simulation keeps its providers' receipts beside its rounds), else
    `$PROOFCAST_RECEIPT_DIR`, else `~/.proofcast/receipts`, as `<label>.json`."""
    if node_config.get("receipt"):
        return Path(str(node_config["receipt"])).expanduser()
    base = (
        default_dir
        or os.environ.get("PROOFCAST_RECEIPT_DIR")
        or Path.home() / ".proofcast" / "receipts"
    )
    return Path(base) / f"{label}.json"


def load_receipt(path: Path) -> Receipt:
    """Read a receipt, raising `ReceiptError` naming the file."""
    if not path.is_file():
        raise ReceiptError(f"no receipt at {path}: this provider has not trained in a round yet")
    try:
        data = json.loads(path.read_text())
        rounds = [ReceiptRound(**r) for r in data.pop("rounds")]
        return Receipt(**data, rounds=rounds)
    except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as exc:
        raise ReceiptError(f"malformed receipt {path}: {exc}") from exc


def _save(path: Path, receipt: Receipt) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(receipt), indent=2))
    tmp.replace(path)


def record_round(
    path: Path,
    *,
    run: int = 0,
    provider: str,
    server_round: int,
    rows: int,
    steps: int,
    trained_from: str,
    record_dp: Any | None,
    delta: float,
) -> ReceiptRound:
    """Add (or replace, for a retried round of the same run) round `server_round` of `run` and
    compute epsilon from the provider's own total of DP-SGD steps over every run; the previous
    round of the run learns the model it led to."""
    receipt = load_receipt(path) if path.is_file() else Receipt(provider=provider)
    receipt.provider = provider
    same = [i for i, r in enumerate(receipt.rounds) if (r.run, r.round) == (run, server_round)]
    for earlier in receipt.rounds:  # round r trains from the model round r - 1 produced
        if (earlier.run, earlier.round) == (run, server_round - 1) and not earlier.contributed_to:
            earlier.contributed_to = trained_from
    entry = ReceiptRound(server_round, rows, steps, trained_from, run=run)
    if record_dp is not None:
        receipt.delta = delta
        receipt.noise_multiplier = record_dp.noise_multiplier
        receipt.sample_rate = record_dp.sample_rate
        receipt.clipping_norm = record_dp.clipping_norm
        receipt.risk_clipping_norm = record_dp.for_network("risk").clipping_norm
        total = sum(r.steps for i, r in enumerate(receipt.rounds) if i not in same) + steps
        sample_rate, z = record_dp.sample_rate, record_dp.noise_multiplier
        entry.epsilon_round = sampled_gaussian_privacy_spent(z, sample_rate, steps, delta).epsilon
        entry.epsilon_total = sampled_gaussian_privacy_spent(z, sample_rate, total, delta).epsilon
    if same:
        receipt.rounds[same[0]] = entry
    else:
        receipt.rounds.append(entry)
    _save(path, receipt)
    return entry


def record_model(path: Path, server_round: int, model_hash: str, run: int = 0) -> None:
    """The global model after `server_round` of `run` (seen at evaluation): the hash that round
    produced."""
    if not path.is_file():
        return
    receipt = load_receipt(path)
    for entry in receipt.rounds:
        if (entry.run, entry.round) == (run, server_round):
            entry.contributed_to = model_hash
    _save(path, receipt)


def render(receipt: Receipt) -> str:
    """The receipt as text for `proofcast train receipt`."""
    eps = receipt.epsilon
    runs = list(dict.fromkeys(r.run for r in receipt.rounds))
    lines = [
        f"provider {receipt.provider}: {len(receipt.rounds)} rounds joined"
        + (f" in {len(runs)} runs (epsilon adds up over them)" if len(runs) > 1 else "")
        + f", {receipt.rows} rows",
        (
            f"record-level DP: epsilon {eps:.3f} at delta {receipt.delta:g} "
            f"(noise multiplier {receipt.noise_multiplier:g}, sample rate "
            f"{receipt.sample_rate:g}, clipping norm {receipt.clipping_norm:g}"
            + (
                f" volatility, {receipt.risk_clipping_norm:g} VaR)"
                if receipt.risk_clipping_norm not in (None, receipt.clipping_norm)
                else ")"
            )
            if eps is not None
            else "record-level DP: off (no epsilon: this provider's rows were trained on without"
            " DP-SGD)"
        ),
        ("run".ljust(20) + "  " if len(runs) > 1 else "")
        + f"{'round':>5}  {'rows':>6}  {'steps':>5}  {'eps round':>9}  {'eps total':>9}"
        "  model it led to",
    ]
    for r in receipt.rounds:
        fmt = lambda v: f"{v:9.3f}" if v is not None else f"{'-':>9}"  # noqa: E731
        lines.append(
            (f"{r.run:<20}  " if len(runs) > 1 else "")
            + f"{r.round:>5}  {r.rows:>6}  {r.steps:>5}  {fmt(r.epsilon_round)}  "
            f"{fmt(r.epsilon_total)}  {r.contributed_to or '(not seen yet)'}"
        )
    return "\n".join(lines)
