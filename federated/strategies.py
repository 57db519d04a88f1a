"""Aggregation strategies from the run config: FedAvg or a Byzantine-robust rule, optionally DP."""

from __future__ import annotations

import logging

from flwr.serverapp.strategy import (
    DifferentialPrivacyServerSideFixedClipping,
    FedAvg,
    FedMedian,
    FedTrimmedAvg,
    Krum,
    Strategy,
)

from federated.config import ConfigError, FederatedConfig

log = logging.getLogger(__name__)


def build_strategy(cfg: FederatedConfig, num_nodes: int) -> Strategy:
    """The Message-API strategy `cfg` asks for, over `num_nodes` providers.

    Every provider is asked every round (fraction 1.0); a round goes ahead as long as
    `min-nodes` of them are connected, so one that dies mid-round does not abort training.
    """
    common = {
        "fraction_train": 1.0,
        "fraction_evaluate": 1.0,
        "min_train_nodes": cfg.min_nodes,
        "min_evaluate_nodes": cfg.min_nodes,
        "min_available_nodes": cfg.min_nodes,
    }
    if cfg.aggregation == "fedavg":
        strategy: Strategy = FedAvg(**common)
    elif cfg.aggregation == "trimmed-mean":
        if int(cfg.trim_beta * num_nodes) < 1:
            raise ConfigError(
                f"trim-beta {cfg.trim_beta} trims nothing from {num_nodes} providers: "
                f"use at least {1 / num_nodes:.3f}"
            )
        strategy = FedTrimmedAvg(**common, beta=cfg.trim_beta)
    elif cfg.aggregation == "median":
        strategy = FedMedian(**common)
    else:
        if num_nodes < 5:
            log.warning("Krum tolerates one attacker only with >= 5 providers (%d)", num_nodes)
        strategy = Krum(**common, num_malicious_nodes=1)
    if cfg.dp_enabled:
        if cfg.aggregation != "fedavg":
            raise ConfigError("the DP accountant assumes a mean of clipped updates: use fedavg")
        strategy = DifferentialPrivacyServerSideFixedClipping(
            strategy,
            noise_multiplier=cfg.dp_noise_multiplier,
            clipping_norm=cfg.dp_clipping_norm,
            num_sampled_clients=num_nodes,
        )
    return strategy
