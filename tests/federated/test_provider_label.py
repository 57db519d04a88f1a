"""A provider's name in replies and manifests is a label, never its data path."""

from __future__ import annotations

from types import SimpleNamespace

from federated.client_app import provider_label


def context(**node_config: object) -> SimpleNamespace:
    return SimpleNamespace(node_config=node_config)


def test_a_csv_path_never_becomes_the_providers_name() -> None:
    spec = "/home/alice/private/desk-7/btc_ohlc.csv"
    label = provider_label(context(data=spec), spec)
    assert label.startswith("provider-") and len(label) == len("provider-") + 8
    assert not any(part in label for part in ("/", "alice", "desk", "btc", ".csv"))
    assert provider_label(context(data=spec), spec) == label  # stable across rounds
    assert provider_label(context(data="/other.csv"), "/other.csv") != label


def test_the_provider_chooses_its_label_and_public_series_keep_their_spec() -> None:
    assert provider_label(context(label="acme-desk"), "/data/x.csv") == "acme-desk"
    assert provider_label(context(), "bundled:sp500") == "bundled:sp500"
    assert provider_label(context(), "stress:7") == "stress:7"
