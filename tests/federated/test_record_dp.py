"""Record-level DP-SGD inside a provider (Opacus): clipping, noise and accounting."""

from __future__ import annotations

import numpy as np
import pytest

from federated.config import ConfigError, FederatedConfig
from federated.frontier import record_level_frontier, replicate_rounds
from federated.manifest import load_manifest, load_round_model
from federated.privacy import gaussian_privacy_spent, sampled_gaussian_privacy_spent
from federated.task import (
    RecordDP,
    build_models,
    dp_seed_for,
    feature_sums,
    get_trainable,
    load_provider,
    normalisation_from_sums,
    set_normalisation,
    set_trainable,
    train_local,
)


@pytest.fixture(scope="module")
def data():
    return load_provider("stress:7")


def _models(data):
    models = build_models(0)
    set_normalisation(models, normalisation_from_sums(feature_sums(data)))
    return models


def _step(models, data, dp, seed=1):
    train_local(models, data, epochs=1, lr=1.0, seed=0, optimizer="sgd", record_dp=dp, dp_seed=seed)
    return get_trainable(models)


def test_without_clipping_or_noise_a_dp_sgd_step_is_the_published_sgd_step(data) -> None:
    """C far above every row's gradient and z -> 0: DP-SGD on every row is plain full-batch SGD."""
    models = _models(data)
    start = get_trainable(models)
    dp = _step(models, data, RecordDP(1e-9, 1e6, 1.0))
    set_trainable(models, start)
    train_local(models, data, epochs=1, lr=1.0, seed=0, optimizer="sgd")
    plain = get_trainable(models)
    for k in plain:
        np.testing.assert_allclose(dp[k], plain[k], atol=2e-5, err_msg=k)


def test_each_rows_gradient_is_clipped_and_noise_has_the_calibrated_scale(data) -> None:
    """With a tiny C every row's gradient is clipped: the noiseless step moves each network by
    at most lr * C (the mean of vectors of norm <= C); with noise z, the step is N(0, (zC/n)^2)
    per coordinate around it."""
    models = _models(data)
    start = get_trainable(models)
    c, n = 1e-3, data.num_train
    quiet = _step(models, data, RecordDP(1e-12, c, 1.0))
    for net in ("volatility", "risk"):
        keys = [k for k in start if k.startswith(net)]
        move = np.sqrt(sum(float(np.sum((quiet[k] - start[k]) ** 2)) for k in keys))
        decay = np.sqrt(sum(float(np.sum(start[k] ** 2)) for k in keys)) * 1e-2  # weight decay
        assert 0.5 * c < move <= c + decay + 1e-9, net
    set_trainable(models, start)
    z = 50.0
    loud = _step(models, data, RecordDP(z, c, 1.0))
    noise = np.concatenate([(loud[k] - quiet[k]).ravel() for k in start])
    assert np.std(noise) == pytest.approx(z * c / n, rel=0.25)


def test_poisson_sampling_and_seeds(data) -> None:
    models = _models(data)
    start = get_trainable(models)
    a = _step(models, data, RecordDP(1.0, 1.0, 0.1), seed=5)
    set_trainable(models, start)
    b = _step(models, data, RecordDP(1.0, 1.0, 0.1), seed=5)
    set_trainable(models, start)
    c = _step(models, data, RecordDP(1.0, 1.0, 0.1), seed=6)
    assert all(np.array_equal(a[k], b[k]) for k in a)  # a benchmark seed reproduces
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    set_trainable(models, start)
    d = _step(models, data, RecordDP(1.0, 1.0, 0.1), seed=None)  # OS entropy: a real client
    set_trainable(models, start)
    e = _step(models, data, RecordDP(1.0, 1.0, 0.1), seed=None)
    assert any(not np.array_equal(d[k], e[k]) for k in d)
    assert dp_seed_for(0, 1, "a") != dp_seed_for(0, 1, "b") != dp_seed_for(0, 2, "b")


def test_record_level_accounting_agrees_with_opacus() -> None:
    """dp-accounting (what we report) against Opacus' own RDP accountant, and sampling helps."""
    from opacus.accountants import RDPAccountant

    for z, q, steps in [(1.0, 0.1, 100), (2.0, 0.25, 100), (6.5, 1.0, 100)]:
        ours = sampled_gaussian_privacy_spent(z, q, steps, 1e-5).epsilon
        theirs = RDPAccountant()
        theirs.history = [(z, q, steps)]
        assert ours == pytest.approx(theirs.get_epsilon(1e-5), rel=0.05), (z, q)
    assert sampled_gaussian_privacy_spent(6.5, 1.0, 100, 1e-5).epsilon == pytest.approx(
        gaussian_privacy_spent(6.5, 100, 1e-5).epsilon
    )
    assert (
        sampled_gaussian_privacy_spent(2.0, 0.25, 100, 1e-5).epsilon
        < sampled_gaussian_privacy_spent(2.0, 1.0, 100, 1e-5).epsilon
    )
    with pytest.raises(ValueError, match="sample rate"):
        sampled_gaussian_privacy_spent(1.0, 0.0, 10, 1e-5)


def test_record_dp_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="positive noise"):
        RecordDP(0.0, 1.0)
    with pytest.raises(ValueError, match="sample rate"):
        RecordDP(1.0, 1.0, 1.5)
    with pytest.raises(ConfigError, match="record-dp-sample-rate"):
        FederatedConfig(record_dp_noise_multiplier=1.0, record_dp_sample_rate=0.0).validate()
    assert FederatedConfig(record_dp_noise_multiplier=0.0).record_dp is None
    assert FederatedConfig().record_dp == RecordDP(9.2, 30.0, 1.0, 10.0)  # published: private
    assert FederatedConfig(record_dp_noise_multiplier=2.0).record_dp == RecordDP(
        2.0, 30.0, 1.0, 10.0
    )
    # each network steps with its own clipping norm; the noise multiplier (so epsilon) is shared
    published = FederatedConfig().record_dp
    assert published.for_network("volatility") == published
    assert published.for_network("risk") == RecordDP(9.2, 10.0, 1.0)
    with pytest.raises(ConfigError, match="clipping-norm"):
        FederatedConfig(record_dp_clipping_norm_risk=0.0).validate()


def test_record_level_frontier_point_and_user_level_exclusion(data) -> None:
    kw = {"rounds": 2, "learning_rate": 1.0, "server_lr": 0.01}
    with pytest.raises(ValueError, match="not both"):
        replicate_rounds([data], noise_multiplier=1.0, record_dp=RecordDP(1.0, 1.0), **kw)
    (point,) = record_level_frontier([data], configs=[RecordDP(6.5, 30.0)], delta=1e-5, **kw)
    assert point.level == "record" and point.providers == 1
    assert point.epsilon == pytest.approx(gaussian_privacy_spent(6.5, 4, 1e-5).epsilon)
    assert np.isfinite(point.qlike)


PROVIDERS = ("bundled:sp500", "stress:7")


def _record_dp_run(simulated):
    return simulated(
        "record-dp",
        **{
            "local-epochs": 1,
            "learning-rate": 1.0,
            "server-lr": 0.01,
            "num-server-rounds": 2,
            "providers": ",".join(PROVIDERS),
            "record-dp-noise-multiplier": 6.5,
            "record-dp-clipping-norm": 0.05,
        },
    )


@pytest.mark.slow
def test_record_level_dp_sgd_runs_in_the_flower_clients_and_is_accounted(simulated) -> None:
    """A real Flower run with record-level DP-SGD in every client: the manifest accounts each
    round's record-level epsilon (no user-level DP), and the noise moves the model away from
    the non-private replica of the same rounds."""
    out = _record_dp_run(simulated)
    for rnd in (1, 2):
        dp = load_manifest(out, rnd).dp
        assert dp["epsilon"] is None and dp["delta"] == 1e-5
        # Each round every row is in two releases: one DP-SGD step of each network.
        expected = sampled_gaussian_privacy_spent(6.5, 1.0, 2 * rnd, 1e-5).epsilon
        assert dp["record_epsilon"] == pytest.approx(expected)
        assert dp["record_clipping_norm"] == 0.05
    flower = build_models()
    for key in ("volatility", "risk"):
        flower[key] = load_round_model(out, 2, key, flower[key])
    clean = replicate_rounds(
        [load_provider(p) for p in PROVIDERS], rounds=2, learning_rate=1.0, server_lr=0.01
    )
    a, b = get_trainable(flower), get_trainable(clean)
    assert all(np.all(np.isfinite(a[k])) for k in a)
    assert max(float(np.max(np.abs(a[k] - b[k]))) for k in a) > 1e-3


@pytest.mark.slow
def test_each_provider_keeps_its_own_receipt_of_rounds_rows_epsilon_and_models(simulated) -> None:
    """Every provider's receipt, from its own accountant, agrees with the coordinator's manifest:
    the rounds it joined, its rows, its record-level epsilon, and the model each round led to;
    `proofcast train receipt` prints it."""
    from typer.testing import CliRunner

    from federated.receipt import load_receipt
    from oracle.cli import app

    out = _record_dp_run(simulated)
    manifests = {rnd: load_manifest(out, rnd) for rnd in (1, 2)}
    for provider in PROVIDERS:
        path = out / "receipts" / f"{provider}.json"
        receipt = load_receipt(path)
        assert receipt.provider == provider
        assert [r.round for r in receipt.rounds] == [1, 2]
        assert receipt.rows == load_provider(provider).num_train
        assert receipt.epsilon == pytest.approx(manifests[2].dp["record_epsilon"])
        assert receipt.rounds[0].epsilon_total == pytest.approx(manifests[1].dp["record_epsilon"])
        assert receipt.rounds[0].contributed_to == manifests[1].oracle_model_hash
        assert receipt.rounds[1].contributed_to == manifests[2].oracle_model_hash
        shown = CliRunner().invoke(app, ["train", "receipt", str(path)])
        assert shown.exit_code == 0, shown.output
        assert f"epsilon {receipt.epsilon:.3f}" in shown.output
        assert manifests[2].oracle_model_hash in shown.output
