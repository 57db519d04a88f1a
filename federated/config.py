"""The federated run configuration: `[tool.flwr.app.config]` in pyproject.toml, typed.

Flower hands the run config to both the ServerApp and every ClientApp (`context.run_config`);
`flwr run . --run-config 'key=value'` overrides it. Missing keys fall back to the defaults below
(the in-process simulation used by tests and benchmarks passes no run config at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

NORMALISATIONS = ("public", "federated")
AGGREGATIONS = ("fedavg", "trimmed-mean", "median", "krum")
ATTACKS = ("none", "sign-flip", "scale")

# The configuration the demo publishes and `proofcast bench federated` measures: FedSGD (one
# full-batch SGD step at learning rate 1 per client and round) with Adam on the server (FedOpt).
PUBLISHED_ROUNDS = 100
PUBLISHED_LOCAL_EPOCHS = 1
PUBLISHED_LEARNING_RATE = 1.0
PUBLISHED_SERVER_LR = 0.01
# ... trained privately: record-level DP-SGD inside every provider (each full-batch step clips
# every row's gradient to C and adds N(0, (z C)^2)), z = 9.2 giving epsilon 7.8 per row at
# delta 1e-5 over the 100 rounds (two releases a round, one per network). Each network's C is a
# public constant chosen on the bench providers' validation split -- the last 20 % of their
# training rows, never a test row (`proofcast bench privacy`, `federated.clipping`) -- and the
# updates are summed under SecAgg+, so the coordinator never sees one provider's update.
PUBLISHED_RECORD_NOISE = 9.2
PUBLISHED_RECORD_CLIP = 30.0
PUBLISHED_RECORD_CLIP_RISK = 10.0  # the VaR network's own C, chosen the same way (pinball loss)
PUBLISHED_DELTA = 1e-5
PUBLISHED_SECAGG = True

# The bundled series and a generated stress series: three providers, different assets/regimes.
DEFAULT_PROVIDERS = "bundled:sp500,bundled:wti,stress:7"


class ConfigError(ValueError):
    """A run-config value is out of range or of the wrong type."""


@dataclass(frozen=True)
class FederatedConfig:
    """Every switch of a federated run (keys are the dashed run-config names)."""

    # Defaults: the published configuration (`PUBLISHED_*`), also the app's default run config in
    # pyproject.toml (a test keeps the three equal).
    num_server_rounds: int = PUBLISHED_ROUNDS
    local_epochs: int = PUBLISHED_LOCAL_EPOCHS
    learning_rate: float = PUBLISHED_LEARNING_RATE
    # > 0: FedOpt -- clients take `local-epochs` plain full-batch SGD steps at `learning-rate`
    # (1 step at 1.0 is FedSGD: the update is minus the gradient) and the server applies Adam
    # with this learning rate to the aggregated update. 0: the aggregate is the new model.
    server_lr: float = PUBLISHED_SERVER_LR
    evaluate_every: int = 25  # rounds between federated evaluations (the last one always)
    seed: int = 0
    providers: str = DEFAULT_PROVIDERS
    # "public": input normalisation from public reference series (`federated.task.
    # public_normalisation`), no round 0; "federated": round 0 sums the providers' exact feature
    # sums, minima and maxima (not covered by any DP accountant).
    normalisation: str = "public"
    # A provider file's date gaps: report (warn and train on), error, or fill (flat bars); the
    # same policy and default as `proofcast data inspect --gap-policy`.
    gap_policy: str = "report"
    aggregation: str = "fedavg"
    trim_beta: float = 0.34
    median_norm_bound: bool = False  # bound each client update to the round's median norm first
    min_nodes: int = 2
    expected_nodes: int = 3
    node_wait: float = 60.0
    round_timeout: float = 600.0
    dp_noise_multiplier: float = 0.0
    dp_clipping_norm: float = 1.0
    dp_delta: float = PUBLISHED_DELTA
    # Record-level DP-SGD inside each provider (Opacus): every local step clips each row's
    # gradient to the clipping norm and adds Gaussian noise (0 = off).
    record_dp_noise_multiplier: float = PUBLISHED_RECORD_NOISE
    record_dp_clipping_norm: float = PUBLISHED_RECORD_CLIP
    record_dp_clipping_norm_risk: float = PUBLISHED_RECORD_CLIP_RISK  # the VaR network's C
    record_dp_sample_rate: float = 1.0
    secagg: bool = PUBLISHED_SECAGG
    secagg_num_shares: int = 3
    secagg_threshold: int = 2
    attack: str = "none"
    attack_partition: int = -1
    attack_scale: float = 10.0
    fail_partition: int = -1
    fail_round: int = 0
    output_dir: str = "build/federated"

    @classmethod
    def from_run_config(cls, run_config: Mapping[str, Any]) -> FederatedConfig:
        """Build from a Flower run config (dashed keys); unknown keys are rejected."""
        known = {f.name.replace("_", "-"): f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in run_config.items():
            if key not in known:
                raise ConfigError(f"unknown run-config key {key!r}; known: {sorted(known)}")
            field = known[key]
            typ = {"int": int, "float": float, "bool": bool, "str": str}[str(field.type)]
            if typ is bool and not isinstance(value, bool):
                raise ConfigError(f"run-config {key!r} must be true/false, got {value!r}")
            try:
                kwargs[field.name] = typ(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"run-config {key!r}: cannot read {value!r} as {typ}") from exc
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise `ConfigError` naming the first inconsistent setting."""
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"aggregation {self.aggregation!r} not in {AGGREGATIONS}")
        if self.normalisation not in NORMALISATIONS:
            raise ConfigError(f"normalisation {self.normalisation!r} not in {NORMALISATIONS}")
        from models.data import GAP_POLICIES

        if self.gap_policy not in GAP_POLICIES:
            raise ConfigError(f"gap-policy {self.gap_policy!r} not in {GAP_POLICIES}")
        if self.attack not in ATTACKS:
            raise ConfigError(f"attack {self.attack!r} not in {ATTACKS}")
        if self.num_server_rounds < 1 or self.local_epochs < 1:
            raise ConfigError("num-server-rounds and local-epochs must be >= 1")
        if self.dp_noise_multiplier < 0 or self.dp_clipping_norm <= 0:
            raise ConfigError("dp-noise-multiplier must be >= 0 and dp-clipping-norm > 0")
        if (
            self.record_dp_noise_multiplier < 0
            or self.record_dp_clipping_norm <= 0
            or self.record_dp_clipping_norm_risk <= 0
        ):
            raise ConfigError(
                "record-dp-noise-multiplier must be >= 0 and record-dp-clipping-norm > 0"
            )
        if not 0.0 < self.record_dp_sample_rate <= 1.0:
            raise ConfigError("record-dp-sample-rate must be in (0, 1]")
        if self.secagg and self.aggregation != "fedavg":
            raise ConfigError(
                f"secagg sums masked updates: it only supports fedavg, not {self.aggregation!r}"
            )
        if self.min_nodes < 1:
            raise ConfigError("min-nodes must be >= 1")
        if self.server_lr < 0 or self.evaluate_every < 1:
            raise ConfigError("server-lr must be >= 0 and evaluate-every >= 1")
        if self.median_norm_bound and self.secagg:
            raise ConfigError("median-norm-bound needs each update in the clear: not with secagg")
        if self.dp_noise_multiplier > 0 and self.secagg:
            raise ConfigError(
                "dp-noise-multiplier (central DP) clips each update in the clear: not with "
                "secagg; record-dp-noise-multiplier (DP-SGD inside each provider) works with it"
            )

    @property
    def local_optimizer(self) -> str:
        """ "sgd" under a server optimizer (FedOpt), else "adam"."""
        return "sgd" if self.server_lr > 0 else "adam"

    @property
    def provider_specs(self) -> list[str]:
        """The per-partition data specs used when a node config names no data."""
        return [p.strip() for p in self.providers.split(",") if p.strip()]

    @property
    def dp_enabled(self) -> bool:
        """Whether updates are clipped and noised (central DP)."""
        return self.dp_noise_multiplier > 0

    @property
    def record_dp(self):  # -> federated.task.RecordDP | None
        """Record-level DP-SGD settings for the clients, or None."""
        if self.record_dp_noise_multiplier <= 0:
            return None
        from federated.task import RecordDP

        return RecordDP(
            self.record_dp_noise_multiplier,
            self.record_dp_clipping_norm,
            self.record_dp_sample_rate,
            self.record_dp_clipping_norm_risk,
        )

    def to_run_config(self) -> dict[str, Any]:
        """The dashed-key mapping (for `--run-config` and manifests)."""
        return {f.name.replace("_", "-"): getattr(self, f.name) for f in fields(self)}
