"""Flower ClientApp: one data provider training Proofcast's models on its own series only.

The provider's data comes from its node config (`data = "<spec>"`, see `federated.task`); in the
simulation engine, where nodes only get a `partition-id`, the run config's `providers` list is
indexed by it instead. Messages in the legacy record format (sent by the SecAgg+ workflow) are
answered in that format, and `secaggplus_mod` masks the update whenever the server asks for it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS

from federated.config import FederatedConfig
from federated.manifest import looks_like_path, public_name
from federated.receipt import receipt_path, record_model, record_round
from federated.task import (
    ProviderData,
    build_models,
    evaluate_models,
    feature_sums,
    get_trainable,
    load_provider,
    normalisation_from_bytes,
    record_dp_releases,
    set_normalisation,
    set_trainable,
    train_local,
)

log = logging.getLogger(__name__)


class InjectedCrash(RuntimeError):
    """Raised by the node chosen by `fail-partition` in round `fail-round` (dropout testing)."""


@lru_cache(maxsize=8)
def _provider(spec: str, gap_policy: str) -> ProviderData:
    return load_provider(spec, gap_policy)


def provider_spec(context: Context, cfg: FederatedConfig) -> str:
    """This node's data spec: node config `data`, else `providers[partition-id]`."""
    if "data" in context.node_config:
        return str(context.node_config["data"])
    specs = cfg.provider_specs
    partition = int(context.node_config.get("partition-id", 0))
    if partition >= len(specs):
        raise ValueError(
            f"node with partition-id {partition} has no provider: run config lists {len(specs)}"
        )
    return specs[partition]


def provider_label(context: Context, spec: str) -> str:
    """The name this provider goes by in every reply, manifest and explorer page: node config
    `label`, else a bundled or generated series' own spec; a CSV path never leaves the machine
    (`provider-` and 8 hex digits of its hash, stable across rounds)."""
    label = str(context.node_config.get("label", ""))
    if label and not looks_like_path(label):
        return label
    if label:
        log.warning("node config label %r looks like a path; using its hash instead", label)
    return public_name(label or spec)


def _partition(context: Context) -> int:
    return int(context.node_config.get("partition-id", -1))


def _attack(cfg: FederatedConfig, context: Context, global_p: dict, local_p: dict) -> dict:
    """A malicious provider's update: the honest update sign-flipped or scaled."""
    if cfg.attack == "none" or _partition(context) != cfg.attack_partition:
        return local_p
    factor = -cfg.attack_scale if cfg.attack == "sign-flip" else cfg.attack_scale
    log.warning("partition %d sends a %s update (x%.1f)", _partition(context), cfg.attack, factor)
    return {k: global_p[k] + factor * (local_p[k] - global_p[k]) for k in local_p}


def _oracle_hash(models: Any) -> str:
    """The on-chain identity of the global model these `models` hold (what `registerModel`
    records), for the provider's receipt."""
    from models.identity import model_hash_hex
    from models.oracle_model import OracleModel

    return model_hash_hex(OracleModel(models["volatility"], models["risk"]))


def _train(
    cfg: FederatedConfig,
    context: Context,
    arrays: dict,
    norm: bytes,
    server_round: int,
    receipt_dir: Path | None = None,
) -> tuple[dict, int, dict[str, float], str]:
    """Local training from the global `arrays`: (new arrays, examples, metrics, provider). The
    provider's own receipt records the round and its record-level epsilon."""
    if _partition(context) == cfg.fail_partition and server_round == cfg.fail_round:
        raise InjectedCrash(f"partition {cfg.fail_partition} crashes in round {server_round}")
    spec = provider_spec(context, cfg)
    data = _provider(spec, cfg.gap_policy)
    models = build_models(cfg.seed)
    set_normalisation(models, normalisation_from_bytes(norm))
    set_trainable(models, arrays)
    trained_from = _oracle_hash(models)
    metrics = train_local(
        models,
        data,
        epochs=cfg.local_epochs,
        lr=cfg.learning_rate,
        seed=cfg.seed + server_round,
        optimizer=cfg.local_optimizer,
        record_dp=cfg.record_dp,
    )
    label = provider_label(context, spec)
    entry = record_round(
        receipt_path(context.node_config, label, receipt_dir),
        run=int(context.run_id),
        provider=label,
        server_round=server_round,
        rows=data.num_train,
        steps=record_dp_releases(1, cfg.local_epochs) if cfg.record_dp is not None else 0,
        trained_from=trained_from,
        record_dp=cfg.record_dp,
        delta=cfg.dp_delta,
    )
    if entry.epsilon_total is not None:
        log.info(
            "%s round %d: record-level epsilon %.3f this round, %.3f over every round joined"
            " (delta %g, own accountant)",
            label,
            server_round,
            entry.epsilon_round,
            entry.epsilon_total,
            cfg.dp_delta,
        )
    new = _attack(cfg, context, arrays, get_trainable(models))
    # Under DP every provider weighs the same in the mean: the accountant's sensitivity C/n holds
    # only for an unweighted mean of clipped updates (a row-count weight would scale one up).
    weight = 1 if cfg.dp_enabled else data.num_train
    return new, weight, metrics, label


def _evaluate(
    cfg: FederatedConfig,
    context: Context,
    arrays: dict,
    norm: bytes,
    server_round: int | None = None,
    receipt_dir: Path | None = None,
) -> tuple[int, dict[str, float]]:
    spec = provider_spec(context, cfg)
    data = _provider(spec, cfg.gap_policy)
    models = build_models(cfg.seed)
    set_normalisation(models, normalisation_from_bytes(norm))
    set_trainable(models, arrays)
    if server_round is not None:  # the global model this round produced, for the receipt
        label = provider_label(context, spec)
        path = receipt_path(context.node_config, label, receipt_dir)
        record_model(path, server_round, _oracle_hash(models), run=int(context.run_id))
    metrics = evaluate_models(models, data)
    return len(data.x_test), metrics


def make_client_app(
    overrides: Mapping[str, Any] | None = None, receipt_dir: Path | None = None
) -> ClientApp:
    """The ClientApp; `overrides` stand in for run config and `receipt_dir` holds the providers'
    receipts (in-process simulation; a SuperNode uses `receipt_path`'s default)."""
    app = ClientApp(mods=[secagg_when_requested])

    def config(context: Context) -> FederatedConfig:
        return FederatedConfig.from_run_config({**context.run_config, **(overrides or {})})

    @app.query()
    def query(msg: Message, context: Context) -> Message:
        """Feature sums for the federated normalisation statistics (no rows leave the node)."""
        cfg = config(context)
        data = _provider(provider_spec(context, cfg), cfg.gap_policy)
        sums = {k: np.asarray(v, dtype=np.float64) for k, v in feature_sums(data).items()}
        return Message(
            RecordDict({"sums": ArrayRecord({k: Array(v) for k, v in sums.items()})}), reply_to=msg
        )

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        cfg = config(context)
        if "fitins.parameters" in msg.content.array_records:
            return _legacy_train(msg, context, cfg, receipt_dir)
        conf = msg.content["config"]
        arrays = {k: v.numpy() for k, v in msg.content["arrays"].items()}
        new, n, metrics, spec = _train(
            cfg, context, arrays, conf["norm"], int(conf["server-round"]), receipt_dir
        )
        content = RecordDict(
            {
                "arrays": ArrayRecord({k: Array(np.asarray(v)) for k, v in new.items()}),
                "metrics": MetricRecord({**metrics, "num-examples": n}),
                "provider": ConfigRecord({"name": spec}),
            }
        )
        return Message(content, reply_to=msg)

    @app.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        cfg = config(context)
        if "evaluateins.parameters" in msg.content.array_records:
            return _legacy_evaluate(msg, context, cfg, receipt_dir)
        conf = msg.content["config"]
        arrays = {k: v.numpy() for k, v in msg.content["arrays"].items()}
        rnd = int(conf["server-round"]) if "server-round" in conf else None
        n, metrics = _evaluate(cfg, context, arrays, conf["norm"], rnd, receipt_dir)
        content = RecordDict(
            {
                "metrics": MetricRecord({**metrics, "num-examples": n}),
                "provider": ConfigRecord(
                    {"name": provider_label(context, provider_spec(context, cfg))}
                ),
            }
        )
        return Message(content, reply_to=msg)

    return app


# --- Legacy record format (the SecAgg+ workflow still speaks it) ---------------------------------


def _legacy_train(
    msg: Message, context: Context, cfg: FederatedConfig, receipt_dir: Path | None
) -> Message:
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.compat.common import recorddict_compat as compat

    from federated.task import trainable_names

    fitins = compat.recorddict_to_fitins(msg.content, keep_input=True)
    names = trainable_names(build_models(cfg.seed))
    arrays = dict(zip(names, parameters_to_ndarrays(fitins.parameters), strict=True))
    server_round = int(fitins.config["server-round"])
    new, n, metrics, spec = _train(
        cfg, context, arrays, fitins.config["norm"], server_round, receipt_dir
    )
    fitres = FitRes(
        status=Status(code=Code.OK, message="ok"),
        parameters=ndarrays_to_parameters([np.asarray(new[k]) for k in names]),
        num_examples=n,
        metrics={**metrics, "provider": spec},
    )
    return Message(compat.fitres_to_recorddict(fitres, keep_input=False), reply_to=msg)


def _legacy_evaluate(
    msg: Message, context: Context, cfg: FederatedConfig, receipt_dir: Path | None
) -> Message:
    from flwr.common import Code, EvaluateRes, Status, parameters_to_ndarrays
    from flwr.compat.common import recorddict_compat as compat

    from federated.task import trainable_names

    ins = compat.recorddict_to_evaluateins(msg.content, keep_input=True)
    names = trainable_names(build_models(cfg.seed))
    arrays = dict(zip(names, parameters_to_ndarrays(ins.parameters), strict=True))
    rnd = ins.config.get("server-round")
    n, metrics = _evaluate(
        cfg, context, arrays, ins.config["norm"], None if rnd is None else int(rnd), receipt_dir
    )
    res = EvaluateRes(
        status=Status(code=Code.OK, message="ok"),
        loss=float(metrics["loss"]),
        num_examples=n,
        metrics=metrics,
    )
    return Message(compat.evaluateres_to_recorddict(res), reply_to=msg)


def secagg_when_requested(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Apply Flower's `secaggplus_mod` to messages of the SecAgg+ protocol, pass others on."""
    from flwr.client.mod import secaggplus_mod

    if RECORD_KEY_CONFIGS in msg.content.config_records:
        return secaggplus_mod(msg, context, call_next)
    return call_next(msg, context)


app = make_client_app()
