"""FedOpt as the demo runs it: FedSGD clients (one full-batch SGD step at learning rate 1) and
a server-side Adam over their example-weighted mean is, step for step, Adam on the pooled
full-batch loss: the federated model is the one a central fit on everyone's rows would give."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from federated.config import ConfigError, FederatedConfig
from federated.strategies import ServerAdam
from federated.task import (
    build_models,
    combine_sums,
    feature_sums,
    get_trainable,
    load_provider,
    normalisation_from_sums,
    set_normalisation,
    set_trainable,
    train_local,
)
from models.risk import relative_var_pinball_loss
from models.volatility import qlike_logvol_loss

PROVIDERS = ("bundled:sp500", "stress:7")


def test_fedsgd_with_server_adam_equals_adam_on_the_pooled_loss() -> None:
    data = [load_provider(p) for p in PROVIDERS]
    norm = normalisation_from_sums(combine_sums([feature_sums(d) for d in data]))
    federated, central = build_models(0), build_models(0)
    set_normalisation(federated, norm)
    set_normalisation(central, norm)
    server = ServerAdam(lr=0.01)
    weights = np.array([d.num_train for d in data], dtype=np.float64)
    weights /= weights.sum()
    wd = {"volatility": 1e-2, "risk": 1e-4}
    opts = {
        n: torch.optim.Adam(m.parameters(), lr=0.01, weight_decay=wd[n]) for n, m in central.items()
    }
    x = torch.as_tensor(np.concatenate([d.x_train for d in data]))
    targets = {
        "volatility": (qlike_logvol_loss, np.concatenate([d.logvol_train for d in data])),
        "risk": (relative_var_pinball_loss, np.concatenate([d.ret_train for d in data])),
    }
    for rnd in range(3):
        current = get_trainable(federated)
        updates = []
        for d in data:
            set_trainable(federated, current)
            train_local(federated, d, epochs=1, lr=1.0, seed=rnd, optimizer="sgd")
            updates.append(get_trainable(federated))
        mean = {k: sum(w * u[k] for w, u in zip(weights, updates, strict=True)) for k in current}
        set_trainable(federated, server.step(current, mean))
        for name, model in central.items():
            loss_fn, y = targets[name]
            opts[name].zero_grad()
            loss_fn(model(x), torch.as_tensor(y).reshape(-1, 1)).backward()
            opts[name].step()
    # Equal up to float32 rounding of the clients' updates, which Adam's per-element scaling
    # magnifies only where a gradient is ~0 (here the bias at its optimum): within a tenth of
    # one server step (lr 0.01) per weight, and the same forecasts.
    fed, cen = get_trainable(federated), get_trainable(central)
    for k in cen:
        np.testing.assert_allclose(fed[k], cen[k], rtol=1e-3, atol=1e-3, err_msg=k)
    for name in central:
        np.testing.assert_allclose(
            federated[name].predict(data[0].x_test), central[name].predict(data[0].x_test),
            atol=2e-3,
        )  # fmt: skip
    assert any(not np.allclose(fed[k], get_trainable(build_models(0))[k]) for k in fed)


def test_fedopt_settings_are_checked() -> None:
    cfg = FederatedConfig.from_run_config({"server-lr": 0.01, "local-epochs": 1})
    assert cfg.local_optimizer == "sgd"
    assert FederatedConfig().local_optimizer == "sgd"  # the published FedSGD + server Adam
    assert FederatedConfig.from_run_config({"server-lr": 0.0}).local_optimizer == "adam"
    with pytest.raises(ConfigError, match="server-lr"):
        FederatedConfig.from_run_config({"server-lr": -1.0})
    assert FederatedConfig.from_run_config({"server-lr": 0.01, "secagg": True}).secagg
    with pytest.raises(ConfigError, match="central DP"):
        FederatedConfig.from_run_config({"dp-noise-multiplier": 1.0, "secagg": True})
