"""SecAgg+: the aggregate equals plain FedAvg; the server never sees an individual update."""

from __future__ import annotations

import numpy as np
import pytest

from federated import secagg
from federated.manifest import load_manifest, load_round_model
from federated.privacy import sampled_gaussian_privacy_spent
from federated.strategies import ServerAdam
from federated.task import (
    build_models,
    combine_sums,
    feature_sums,
    get_trainable,
    load_provider,
    normalisation_from_sums,
    public_normalisation,
    record_dp_releases,
    set_normalisation,
    set_trainable,
    train_local,
    trainable_names,
)
from tests.federated.conftest import FAST, PROVIDERS


def _round1_params(out) -> dict[str, np.ndarray]:
    models = build_models()
    for key in ("volatility", "risk"):
        models[key] = load_round_model(out, 1, key, models[key])
    return get_trainable(models)


@pytest.fixture(scope="module")
def runs(simulated):
    plain = simulated("clean", **{"num-server-rounds": 2})
    secure = simulated("secagg", **{"num-server-rounds": 1, "secagg": True})
    return plain, secure, secagg._LAST_STRATEGY[-1]


# The published configuration's shape (FedSGD + server Adam, record-level DP-SGD), two rounds.
PRIVATE_FEDOPT = {
    "num-server-rounds": 2,
    "local-epochs": 1,
    "learning-rate": 1.0,
    "server-lr": 0.01,
    "record-dp-noise-multiplier": 9.2,
    "record-dp-clipping-norm": 30.0,
    "normalisation": "public",
}


def test_secagg_runs_server_adam_on_the_unmasked_mean_with_record_dp(simulated) -> None:
    """Each round's model is exactly `ServerAdam` applied to the mean SecAgg+ unmasked (the
    only thing the server saw), and the manifest carries the providers' record-level epsilon."""
    out = simulated("fedopt-record-dp-secagg", **PRIVATE_FEDOPT, secagg=True)
    strategy = secagg._LAST_STRATEGY[-1]
    names = trainable_names(build_models())
    current = get_trainable(build_models())
    server = ServerAdam(PRIVATE_FEDOPT["server-lr"])
    for rnd in (1, 2):
        mean = dict(zip(names, strategy.seen_parameters[rnd][0], strict=True))
        current = server.step(current, mean)
        models = build_models()
        for key in ("volatility", "risk"):
            models[key] = load_round_model(out, rnd, key, models[key])
        saved = get_trainable(models)
        for k in names:
            assert np.max(np.abs(mean[k] - current[k])) > 1e-4  # Adam's step, not the mean
            np.testing.assert_allclose(saved[k], current[k], atol=1e-6, err_msg=k)
    # No round 0: the inputs are normalised with the public reference's statistics, which differ
    # from these three providers' pooled ones.
    public, pooled = build_models(), build_models()
    set_normalisation(public, public_normalisation())
    set_normalisation(pooled, normalisation_from_sums(combine_sums(
        [feature_sums(load_provider(spec)) for spec in PROVIDERS])))  # fmt: skip
    for key in ("volatility", "risk"):
        for name, buf in models[key].named_buffers():
            np.testing.assert_array_equal(buf, dict(public[key].named_buffers())[name])
            if name == "x_shift":
                assert not np.allclose(buf, dict(pooled[key].named_buffers())[name])
    m = load_manifest(out, 2)
    assert m.secagg is True and m.aggregation == "fedavg+server-adam"
    expected = sampled_gaussian_privacy_spent(9.2, 1.0, record_dp_releases(2, 1), 1e-5)
    assert m.dp["record_epsilon"] == pytest.approx(expected.epsilon)
    assert m.dp["delta"] == 1e-5


def _individual_updates(plain) -> list[tuple[int, dict[str, np.ndarray]]]:
    """What each provider sends in round 1, recomputed from its own data (test as auditor)."""
    saved = build_models()
    saved["volatility"] = load_round_model(plain, 1, "volatility", saved["volatility"])
    saved["risk"] = load_round_model(plain, 1, "risk", saved["risk"])
    initial = get_trainable(build_models(0))
    updates = []
    for spec in PROVIDERS:
        data = load_provider(spec)
        models = build_models(0)
        for key in ("volatility", "risk"):  # the federated normalisation, as the round used
            models[key].load_state_dict(saved[key].state_dict())
        set_trainable(models, initial)
        train_local(models, data, epochs=FAST["local-epochs"], lr=0.01, seed=0 + 1)
        updates.append((data.num_train, get_trainable(models)))
    return updates


def test_secagg_aggregate_equals_plain_fedavg(runs) -> None:
    plain, secure, _ = runs
    a, b = _round1_params(plain), _round1_params(secure)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], atol=1e-4, err_msg=name)
    m = load_manifest(secure, 1)
    assert m.secagg is True and m.participants == sorted(PROVIDERS)


def test_server_only_sees_the_aggregate_never_an_individual_update(runs) -> None:
    plain, secure, strategy = runs
    names = trainable_names(build_models())
    seen = strategy.seen_parameters[1]
    assert len(seen) == len(PROVIDERS)  # one result per provider reached aggregate_fit...
    aggregate = _round1_params(secure)
    flat_agg = np.concatenate([aggregate[n].ravel() for n in names])
    for vec in seen:  # ...but each carried the unmasked sum, not that provider's update
        np.testing.assert_allclose(np.concatenate([v.ravel() for v in vec]), flat_agg, atol=1e-6)

    updates = _individual_updates(plain)
    total = sum(n for n, _ in updates)
    mean = {k: sum(n * u[k] for n, u in updates) / total for k in names}
    plain_round1 = _round1_params(plain)
    for k in names:  # the recomputed updates are exactly what the plain run averaged
        np.testing.assert_allclose(mean[k], plain_round1[k], atol=1e-5, err_msg=k)
    for _n, update in updates:
        flat = np.concatenate([update[k].ravel() for k in names])
        assert np.max(np.abs(flat - flat_agg)) > 1e-2  # nothing the server saw equals it
