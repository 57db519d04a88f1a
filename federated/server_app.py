"""Flower ServerApp: input normalisation, then rounds of train -> aggregate -> evaluate -> save.

The published configuration takes the models' input normalisation from public reference series
(`federated.task.public_normalisation`): no provider sends anything before round 1. With
`normalisation = "federated"`, round 0 asks every provider for feature sums (counts, sums, sums of
squares, minima, maxima) and uses their total -- no row, but exact aggregates that no DP
accountant covers. Each later round sends the
global trainable parameters out, aggregates the replies with the configured strategy (FedAvg,
trimmed mean, median or Krum; optionally with central DP), collects federated evaluation metrics,
and saves the global models with a manifest (`federated.manifest`). With `secagg = true` the
rounds run through Flower's SecAgg+ workflow instead (`federated.secagg`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.serverapp import Grid, ServerApp

from federated.config import FederatedConfig
from federated.manifest import RoundManifest, failure_reason, save_round, write_run_summary
from federated.privacy import dp_record
from federated.strategies import ServerAdam, build_strategy
from federated.task import (
    build_models,
    combine_sums,
    get_trainable,
    normalisation_from_sums,
    normalisation_to_bytes,
    public_normalisation,
    set_normalisation,
    set_trainable,
)

log = logging.getLogger(__name__)


class FederationError(RuntimeError):
    """Too few providers connected or answered for the run to go on."""


def wait_for_nodes(grid: Grid, cfg: FederatedConfig) -> list[int]:
    """Node ids once `expected-nodes` are connected, or `min-nodes` after `node-wait` seconds."""
    deadline = time.monotonic() + cfg.node_wait
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= cfg.expected_nodes:
            return nodes
        if time.monotonic() > deadline:
            if len(nodes) >= cfg.min_nodes:
                log.warning("only %d of %d providers connected", len(nodes), cfg.expected_nodes)
                return nodes
            raise FederationError(
                f"{len(nodes)} providers connected after {cfg.node_wait:.0f} s; "
                f"min-nodes is {cfg.min_nodes}"
            )
        time.sleep(0.5)


def federated_normalisation(grid: Grid, nodes: list[int], cfg: FederatedConfig) -> dict:
    """Sum every provider's feature sums (round 0) into normalisation statistics."""
    messages = [
        Message(
            RecordDict({"config": ConfigRecord()}), dst_node_id=n, message_type=MessageType.QUERY
        )
        for n in nodes
    ]
    replies = [r for r in grid.send_and_receive(messages, timeout=cfg.round_timeout)]
    sums = sorted(
        (r.content["sums"] for r in replies if not r.has_error()),
        key=lambda s: b"".join(s[k].numpy().tobytes() for k in sorted(s.keys())),
    )  # a fixed summation order: the statistics (and the model hash) do not depend on timing
    if len(sums) < cfg.min_nodes:
        raise FederationError(f"only {len(sums)} providers sent feature sums (min {cfg.min_nodes})")
    return normalisation_from_sums(combine_sums([{k: s[k].numpy() for k in s} for s in sums]))


def _reply_key(reply: Message) -> tuple[str, int]:
    """Replies are aggregated in the order of this key, not of arrival: float sums depend on
    their order, and the published weights (so the model hash) must not depend on timing."""
    name = ""
    if "provider" in reply.content.config_records:
        name = str(reply.content["provider"]["name"])
    return name, int(reply.metadata.src_node_id)


def run_federated(grid: Grid, context: Context, cfg: FederatedConfig) -> list[RoundManifest]:
    """Run the whole federated training; returns the manifest of every round."""
    out = Path(cfg.output_dir)
    nodes = wait_for_nodes(grid, cfg)
    log.info("%d providers connected", len(nodes))
    if cfg.normalisation == "public":  # no round 0: nothing derived from a provider's rows
        norm = public_normalisation()
    else:
        norm = federated_normalisation(grid, nodes, cfg)
    models = build_models(cfg.seed)
    set_normalisation(models, norm)
    norm_bytes = normalisation_to_bytes(norm)
    write_run_summary(out, cfg.to_run_config(), [])
    if cfg.secagg:
        from federated.secagg import run_secagg

        return run_secagg(grid, context, cfg, models, norm_bytes)

    strategy = build_strategy(cfg, len(nodes))
    server_opt = ServerAdam(cfg.server_lr) if cfg.server_lr > 0 else None
    arrays = ArrayRecord({k: Array(np.asarray(v)) for k, v in get_trainable(models).items()})
    manifests: list[RoundManifest] = []
    for rnd in range(1, cfg.num_server_rounds + 1):
        t0 = time.perf_counter()
        train_cfg = ConfigRecord({"norm": norm_bytes})
        replies = list(
            grid.send_and_receive(
                strategy.configure_train(rnd, arrays, train_cfg, grid), timeout=cfg.round_timeout
            )
        )
        ok = sorted((r for r in replies if not r.has_error()), key=_reply_key)
        reasons = [
            failure_reason(r.metadata.src_node_id, r.error.reason) for r in replies if r.has_error()
        ]
        for reason in reasons:
            log.warning("round %d: %s", rnd, reason)
        if len(ok) >= cfg.min_nodes:
            new_arrays, _ = strategy.aggregate_train(rnd, ok)
            if new_arrays is not None and server_opt is not None:
                current = {k: v.numpy() for k, v in arrays.items()}
                stepped = server_opt.step(current, {k: v.numpy() for k, v in new_arrays.items()})
                arrays = ArrayRecord({k: Array(v) for k, v in stepped.items()})
            elif new_arrays is not None:
                arrays = new_arrays
        else:
            log.warning(
                "round %d: %d replies < min-nodes %d: model kept", rnd, len(ok), cfg.min_nodes
            )
        metrics = None
        if rnd % cfg.evaluate_every == 0 or rnd == cfg.num_server_rounds:
            eval_cfg = ConfigRecord({"norm": norm_bytes})
            eval_replies = list(
                grid.send_and_receive(
                    strategy.configure_evaluate(rnd, arrays, eval_cfg, grid),
                    timeout=cfg.round_timeout,
                )
            )
            eval_ok = sorted((r for r in eval_replies if not r.has_error()), key=_reply_key)
            metrics = strategy.aggregate_evaluate(rnd, eval_ok) if eval_ok else None
        seconds = time.perf_counter() - t0  # train + aggregate + evaluate, not saving
        set_trainable(models, {k: v.numpy() for k, v in arrays.items()})
        participants = [
            str(r.content["provider"]["name"])
            if "provider" in r.content.config_records
            else str(r.metadata.src_node_id)
            for r in ok
        ]
        manifests.append(
            save_round(
                out,
                rnd,
                models,
                participants=participants,
                failures=len(replies) - len(ok),
                failure_reasons=reasons,
                aggregation=cfg.aggregation
                + ("+median-norm-bound" if cfg.median_norm_bound else "")
                + ("+server-adam" if server_opt else ""),
                secagg=False,
                dp=dp_record(cfg, rnd),
                metrics=dict(metrics or {}),
                seconds=seconds,
            )
        )
        log.info("round %d: %s", rnd, dict(metrics or {}))
        write_run_summary(out, cfg.to_run_config(), [m.round for m in manifests])
    return manifests


def make_server_app(overrides: Mapping[str, Any] | None = None) -> ServerApp:
    """The ServerApp; `overrides` stand in for run config (in-process simulation)."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        cfg = FederatedConfig.from_run_config({**context.run_config, **(overrides or {})})
        run_federated(grid, context, cfg)

    return app


app = make_server_app()
