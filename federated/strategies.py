"""Aggregation strategies from the run config: FedAvg or a Byzantine-robust rule, optionally with
every client update bounded to the median update norm first, optionally DP, and optionally a
server-side optimizer over the aggregate (FedOpt)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
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
    if cfg.median_norm_bound:
        strategy = MedianNormBound(strategy)
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


def bound_to_median_norm(
    current: dict[str, np.ndarray], updates: list[dict[str, np.ndarray]]
) -> tuple[list[dict[str, np.ndarray]], float]:
    """Every client's weights with its update (weights - `current`) scaled down to the median
    update norm if larger; returns the bounded weights and that median norm.

    One provider that scales its update up can then move the aggregate no further than an honest
    median-sized update would (norm bounding, Sun et al. 2019, with the bound set per round from
    the updates themselves, so no fixed constant has to match the gradients' scale).
    """
    deltas = [
        {k: np.asarray(u[k], np.float64) - np.asarray(w, np.float64) for k, w in current.items()}
        for u in updates
    ]
    norms = [float(np.sqrt(sum(float(np.sum(v * v)) for v in d.values()))) for d in deltas]
    bound = float(np.median(norms))
    out = []
    for d, norm in zip(deltas, norms, strict=True):
        factor = bound / norm if norm > bound else 1.0
        out.append(
            {
                k: (np.asarray(current[k], np.float64) + factor * v).astype(
                    np.asarray(current[k]).dtype
                )
                for k, v in d.items()
            }
        )
    return out, bound


class MedianNormBound(Strategy):
    """Wraps a strategy: client updates are bounded to their median norm before it aggregates."""

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self.current: dict[str, np.ndarray] = {}

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Remember the global weights the updates are taken against, then delegate."""
        self.current = {k: v.numpy() for k, v in arrays.items()}
        return self.strategy.configure_train(server_round, arrays, config, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Bound every reply's update to the median norm, then aggregate with the wrapped rule."""
        replies = list(replies)
        if not replies:
            return self.strategy.aggregate_train(server_round, replies)
        updates = [{k: v.numpy() for k, v in r.content["arrays"].items()} for r in replies]
        bounded, bound = bound_to_median_norm(self.current, updates)
        for reply, arrays in zip(replies, bounded, strict=True):
            reply.content["arrays"] = ArrayRecord({k: Array(v) for k, v in arrays.items()})
        log.debug("round %d: client updates bounded to the median norm %.4g", server_round, bound)
        return self.strategy.aggregate_train(server_round, replies)

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Delegated."""
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Delegated."""
        return self.strategy.aggregate_evaluate(server_round, replies)

    def summary(self) -> None:
        """Delegated."""
        self.strategy.summary()


class ServerAdam:
    """FedOpt's server step (Reddi et al., 2021): the aggregated client update is a
    pseudo-gradient, and the server applies Adam to it. With clients taking one full-batch SGD
    step at learning rate 1 (FedSGD) this is exactly Adam on the pooled full-batch gradient, so
    the federated model approaches the model a central fit on everyone's rows would give."""

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(
        self, current: dict[str, np.ndarray], aggregate: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """The new global weights from the current ones and the aggregated client weights."""
        self.t += 1
        out = {}
        for k, w in current.items():
            delta = np.asarray(aggregate[k], np.float64) - np.asarray(w, np.float64)
            self.m[k] = self.beta1 * self.m.get(k, 0.0) + (1 - self.beta1) * delta
            self.v[k] = self.beta2 * self.v.get(k, 0.0) + (1 - self.beta2) * delta**2
            m_hat = self.m[k] / (1 - self.beta1**self.t)
            v_hat = self.v[k] / (1 - self.beta2**self.t)
            step = self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
            out[k] = (np.asarray(w, np.float64) + step).astype(np.asarray(w).dtype)
        return out
