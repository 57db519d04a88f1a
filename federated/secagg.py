"""Rounds through Flower's SecAgg+ workflow: the server only ever unmasks the sum of updates.

Flower 1.42 ships SecAgg+ (`SecAggPlusWorkflow` + `secaggplus_mod`) for the legacy
`LegacyContext`/`DefaultWorkflow` path only, so these rounds use the legacy FedAvg. Each client
quantises its parameters, adds pairwise masks that cancel in the sum and a private mask whose
seed is Shamir-shared among its neighbours; the server sums the masked vectors and removes the
masks with the shares, so what reaches `aggregate_fit` is the (example-weighted) mean only.

Under the published configuration (FedSGD + server Adam) that mean is the pooled one-step model,
and `RecordingFedAvg` applies the same `ServerAdam` step the plain path applies to it: the server
needs nothing but the unmasked sum for FedOpt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from flwr.app import Context
from flwr.common import FitRes, Parameters, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server import LegacyContext, ServerConfig
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg as LegacyFedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.serverapp import Grid
from torch import nn

from federated.config import FederatedConfig
from federated.manifest import RoundManifest, failure_reason, save_round, write_run_summary
from federated.privacy import dp_record
from federated.strategies import ServerAdam
from federated.task import get_trainable, set_trainable, trainable_names

log = logging.getLogger(__name__)

# Upper bound on a provider's example count (the weight SecAgg+ quantises updates with).
SECAGG_MAX_WEIGHT = 20_000.0


class RecordingFedAvg(LegacyFedAvg):
    """Legacy FedAvg that records, per round, who took part and what parameters it was shown;
    with a `server_opt` the (unmasked) mean is a pseudo-gradient for server Adam (FedOpt)."""

    def __init__(
        self,
        names: list[str],
        server_opt: ServerAdam | None = None,
        evaluate_rounds: Callable[[int], bool] = lambda _rnd: True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.names = names
        self.server_opt = server_opt
        self.evaluate_rounds = evaluate_rounds
        initial = kwargs.get("initial_parameters")
        self.current = parameters_to_ndarrays(initial) if initial is not None else []
        self.participants: dict[int, list[str]] = {}
        self.failures: dict[int, int] = {}
        self.failure_reasons: dict[int, list[str]] = {}
        self.seen_parameters: dict[int, list[list[np.ndarray]]] = {}
        self.round_end: dict[int, float] = {}

    def configure_evaluate(self, server_round: int, parameters: Parameters, client_manager):
        """Federated evaluation only in the rounds the run config asks for (`evaluate-every`)."""
        if not self.evaluate_rounds(server_round):
            return []
        return super().configure_evaluate(server_round, parameters, client_manager)

    def aggregate_fit(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, FitRes]],
        failures: list,
    ) -> tuple[Parameters | None, dict]:
        """Aggregate (under SecAgg+ every result already carries the unmasked aggregate)."""
        self.participants[server_round] = [str(res.metrics.get("provider")) for _, res in results]
        self.failures[server_round] = len(failures)
        self.failure_reasons[server_round] = [
            failure_reason(f[0].cid, f[1].status.message)
            if isinstance(f, tuple)
            else failure_reason("?", repr(f))
            for f in failures
        ]
        self.seen_parameters[server_round] = [
            parameters_to_ndarrays(res.parameters) for _, res in results
        ]
        aggregate, metrics = super().aggregate_fit(server_round, results, failures)
        if aggregate is None:
            return aggregate, metrics
        if self.server_opt is not None:
            stepped = self.server_opt.step(
                dict(zip(self.names, self.current, strict=True)),
                dict(zip(self.names, parameters_to_ndarrays(aggregate), strict=True)),
            )
            aggregate = ndarrays_to_parameters([stepped[k] for k in self.names])
        self.current = parameters_to_ndarrays(aggregate)
        return aggregate, metrics


def run_secagg(
    grid: Grid, context: Context, cfg: FederatedConfig, models: nn.ModuleDict, norm: bytes
) -> list[RoundManifest]:
    """Train `cfg.num_server_rounds` rounds with SecAgg+; save each round like the plain path."""
    out = Path(cfg.output_dir)
    names = trainable_names(models)
    round_params: dict[int, list[np.ndarray]] = {}
    round_start: dict[int, float] = {1: time.perf_counter()}

    def central_hook(server_round: int, ndarrays: list[np.ndarray], _config: dict) -> None:
        # Called with the new global model after each round's aggregation (never with data).
        round_params[server_round] = [np.array(a) for a in ndarrays]
        round_start[server_round + 1] = time.perf_counter()
        return None

    initial = get_trainable(models)
    strategy = RecordingFedAvg(
        names,
        ServerAdam(cfg.server_lr) if cfg.server_lr > 0 else None,
        lambda rnd: rnd % cfg.evaluate_every == 0 or rnd == cfg.num_server_rounds,
        fraction_fit=1.0,
        fraction_evaluate=1.0,
        min_fit_clients=cfg.min_nodes,
        min_evaluate_clients=cfg.min_nodes,
        min_available_clients=cfg.min_nodes,
        initial_parameters=ndarrays_to_parameters([np.asarray(initial[k]) for k in names]),
        on_fit_config_fn=lambda rnd: {"server-round": rnd, "norm": norm},
        on_evaluate_config_fn=lambda rnd: {"server-round": rnd, "norm": norm},
        evaluate_fn=central_hook,
        evaluate_metrics_aggregation_fn=_weighted_metrics,
        fit_metrics_aggregation_fn=lambda _: {},
    )
    legacy = LegacyContext(
        context,
        config=ServerConfig(num_rounds=cfg.num_server_rounds, round_timeout=cfg.round_timeout),
        strategy=strategy,
    )
    workflow = DefaultWorkflow(
        fit_workflow=SecAggPlusWorkflow(
            num_shares=cfg.secagg_num_shares,
            reconstruction_threshold=cfg.secagg_threshold,
            max_weight=SECAGG_MAX_WEIGHT,
            timeout=cfg.round_timeout,
        )
    )
    workflow(grid, legacy)

    manifests = []
    distributed = legacy.history.metrics_distributed
    for rnd in sorted(k for k in round_params if k >= 1):
        set_trainable(models, dict(zip(names, round_params[rnd], strict=True)))
        metrics = {k: dict(v).get(rnd) for k, v in distributed.items()}
        manifests.append(
            save_round(
                out,
                rnd,
                models,
                participants=strategy.participants.get(rnd, []),
                # A SecAgg+ round whose stages lost too many providers never reaches
                # aggregate_fit: nobody's update was used, and the manifest says so.
                failures=strategy.failures.get(rnd, cfg.expected_nodes),
                failure_reasons=strategy.failure_reasons.get(
                    rnd, ["SecAgg+ round aborted before aggregation: model kept"]
                ),
                aggregation="fedavg" + ("+server-adam" if strategy.server_opt else ""),
                secagg=True,
                dp=dp_record(cfg, rnd),
                metrics={k: v for k, v in metrics.items() if v is not None},
                seconds=round_start.get(rnd + 1, time.perf_counter()) - round_start[rnd],
            )
        )
    write_run_summary(out, cfg.to_run_config(), [m.round for m in manifests])
    _LAST_STRATEGY.append(strategy)
    return manifests


# The strategy of the most recent SecAgg+ run in this process (tests inspect what it was shown).
_LAST_STRATEGY: list[RecordingFedAvg] = []


def _weighted_metrics(results: list[tuple[int, dict]]) -> dict:
    total = sum(n for n, _ in results)
    keys = {k for _, m in results for k, v in m.items() if isinstance(v, int | float)}
    return {k: sum(n * float(m[k]) for n, m in results if k in m) / total for k in keys}
