"""Run the federated app in Flower's simulation engine (Ray), in-process.

`flwr run .` is the user-facing way; this is the library call that tests, the benchmark and
`proofcast train simulate` use: same ServerApp and ClientApp, run config passed as overrides,
no SuperLink process left behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flwr.simulation import run_simulation

from federated.client_app import make_client_app
from federated.config import FederatedConfig
from federated.server_app import make_server_app


def simulate(
    output_dir: Path, num_nodes: int | None = None, log_to_driver: bool = True, **overrides: Any
) -> Path:
    """Run the app on `num_nodes` simulated providers (default: one per `providers` entry).

    `overrides` are run-config keys (dashed names); `log_to_driver=False` keeps the Ray
    workers' own output (each ClientApp actor's log lines) off this process's terminal.
    Returns `output_dir` (round manifests).
    """
    # Ray's future default (leave CUDA_VISIBLE_DEVICES alone on actors with num_gpus=0), which
    # also silences its FutureWarning about that change; no GPU is used here either way.
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    cfg = FederatedConfig.from_run_config(overrides)
    nodes = num_nodes or len(cfg.provider_specs)
    config = {"expected-nodes": nodes, **overrides, "output-dir": str(output_dir)}
    FederatedConfig.from_run_config(config)  # validate before starting Ray
    run_simulation(
        make_server_app(config),
        make_client_app(config, receipt_dir=Path(output_dir) / "receipts"),
        num_supernodes=nodes,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {
                "num_cpus": 2,
                "num_gpus": 0,
                "logging_level": "ERROR",
                "log_to_driver": log_to_driver,
            },
        },
    )
    return Path(output_dir)
