"""Privacy-utility frontier of user-level central DP as the number of providers grows, and of
record-level DP-SGD (Opacus) inside each provider.

Flower's simulation starts one process per node, so 100 providers x 100 rounds is out of reach
for a benchmark; this is an in-process replica of exactly the published round instead: every
provider takes one full-batch SGD step from the global weights (`federated.task.train_local`),
the server averages the updates -- by rows without DP (FedAvg), unweighted with DP after clipping
each to L2 norm C and adding N(0, (z C / n)^2) noise to the mean, as
`DifferentialPrivacyServerSideFixedClipping` does -- and applies `federated.strategies.ServerAdam`.
`tests/federated/test_frontier.py` checks the non-private replica against a Flower run.

More providers are simulated by cutting each provider's training rows into contiguous blocks
(each block a provider of its own); scores are on the original providers' test splits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
from torch import nn

from federated.privacy import gaussian_privacy_spent, sampled_gaussian_privacy_spent
from federated.strategies import ServerAdam
from federated.task import (
    ProviderData,
    RecordDP,
    build_models,
    combine_sums,
    dp_seed_for,
    feature_sums,
    get_trainable,
    normalisation_from_sums,
    record_dp_releases,
    set_normalisation,
    set_trainable,
    train_local,
)


def split_provider(data: ProviderData, parts: int) -> list[ProviderData]:
    """`parts` providers, each holding one contiguous block of `data`'s training rows."""
    if parts < 1 or parts > data.num_train:
        raise ValueError(f"cannot split {data.num_train} rows into {parts} providers")
    cuts = np.linspace(0, data.num_train, parts + 1).astype(int)
    return [
        replace(
            data,
            name=f"{data.name}#{i}" if parts > 1 else data.name,
            x_train=data.x_train[a:b],
            logvol_train=data.logvol_train[a:b],
            ret_train=data.ret_train[a:b],
        )
        for i, (a, b) in enumerate(pairwise(cuts))
    ]


def replicate_rounds(
    providers: Sequence[ProviderData],
    *,
    rounds: int,
    learning_rate: float,
    server_lr: float,
    noise_multiplier: float = 0.0,
    clipping_norm: float = 1.0,
    seed: int = 0,
    record_dp: RecordDP | None = None,
) -> nn.ModuleDict:
    """The published FedSGD + server-Adam rounds over `providers`, optionally with user-level
    central DP (`noise_multiplier` > 0) or record-level DP-SGD inside each provider
    (`record_dp`; the server then averages by rows, as without DP)."""
    if record_dp is not None and noise_multiplier > 0:
        raise ValueError("choose user-level central DP or record-level DP-SGD, not both")
    models = build_models(seed)
    set_normalisation(
        models, normalisation_from_sums(combine_sums([feature_sums(p) for p in providers]))
    )
    weights = get_trainable(models)
    server = ServerAdam(server_lr)
    rng = np.random.default_rng(seed)
    dp = noise_multiplier > 0
    for rnd in range(1, rounds + 1):
        deltas, counts = [], []
        for p in providers:
            set_trainable(models, weights)
            train_local(
                models,
                p,
                epochs=1,
                lr=learning_rate,
                seed=seed + rnd,
                optimizer="sgd",
                record_dp=record_dp,
                dp_seed=dp_seed_for(seed, rnd, p.name),
            )
            new = get_trainable(models)
            delta = {k: new[k].astype(np.float64) - weights[k] for k in weights}
            if dp:
                norm = np.sqrt(sum(float(np.sum(v * v)) for v in delta.values()))
                delta = {
                    k: v * min(1.0, clipping_norm / max(norm, 1e-12)) for k, v in delta.items()
                }
            deltas.append(delta)
            counts.append(1.0 if dp else float(p.num_train))
        w = np.asarray(counts) / np.sum(counts)
        mean = {k: sum(wi * d[k] for wi, d in zip(w, deltas, strict=True)) for k in weights}
        if dp:
            std = noise_multiplier * clipping_norm / len(providers)
            mean = {k: v + rng.normal(0.0, std, v.shape) for k, v in mean.items()}
        weights = server.step(weights, {k: weights[k] + mean[k] for k in weights})
    set_trainable(models, weights)
    return models


@dataclass(frozen=True)
class FrontierPoint:
    """One (number of providers, noise) configuration and what it cost. `level` is "user"
    (central DP over whole providers) or "record" (DP-SGD over each provider's rows)."""

    providers: int
    noise_multiplier: float
    clipping_norm: float
    epsilon: float | None
    delta: float
    qlike: float
    level: str = "user"
    sample_rate: float = 1.0


def privacy_utility_frontier(
    data: Sequence[ProviderData],
    *,
    splits: Sequence[int],
    noise: Sequence[float],
    rounds: int,
    learning_rate: float,
    server_lr: float,
    clipping_norm: float,
    delta: float,
    seed: int = 0,
) -> list[FrontierPoint]:
    """Mean test QLIKE over `data` for every split (providers per original one) and noise level;
    noise 0 is the non-private run at that size."""
    points = []
    for k in splits:
        parts = [part for d in data for part in split_provider(d, k)]
        for z in noise:
            models = replicate_rounds(
                parts,
                rounds=rounds,
                learning_rate=learning_rate,
                server_lr=server_lr,
                noise_multiplier=z,
                clipping_norm=clipping_norm,
                seed=seed,
            )
            q = _mean_test_qlike(models, data)
            eps = gaussian_privacy_spent(z, rounds, delta).epsilon if z > 0 else None
            points.append(FrontierPoint(len(parts), z, clipping_norm, eps, delta, q))
    return points


def _mean_test_qlike(models: nn.ModuleDict, data: Sequence[ProviderData]) -> float:
    from federated.task import predict
    from models.evaluation import qlike

    return float(
        np.mean(
            [
                qlike(np.exp(2.0 * d.logvol_test), np.exp(2.0 * predict(models, d.x_test)[0]))
                for d in data
            ]
        )
    )


def record_level_frontier(
    data: Sequence[ProviderData],
    *,
    configs: Sequence[RecordDP],
    rounds: int,
    learning_rate: float,
    server_lr: float,
    delta: float,
    seed: int = 0,
) -> list[FrontierPoint]:
    """Mean test QLIKE over `data` of the published rounds with record-level DP-SGD (Opacus)
    inside every provider, one point per configuration; epsilon is per provider, for any one
    of its rows, over all `rounds` (one DP-SGD step of each network each)."""
    points = []
    for dp in configs:
        models = replicate_rounds(
            data,
            rounds=rounds,
            learning_rate=learning_rate,
            server_lr=server_lr,
            seed=seed,
            record_dp=dp,
        )
        releases = record_dp_releases(rounds, local_epochs=1)
        eps = sampled_gaussian_privacy_spent(dp.noise_multiplier, dp.sample_rate, releases, delta)
        points.append(
            FrontierPoint(
                len(data),
                dp.noise_multiplier,
                dp.clipping_norm,
                eps.epsilon,
                delta,
                _mean_test_qlike(models, data),
                level="record",
                sample_rate=dp.sample_rate,
            )
        )
    return points
