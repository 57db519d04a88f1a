"""A provider's name in replies and manifests is a label, never its data path."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from federated.client_app import provider_label
from federated.manifest import ManifestError, public_name, save_round, write_run_summary


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


def test_a_label_that_is_a_path_is_replaced_by_its_hash() -> None:
    label = provider_label(context(label="/srv/desk/prices.csv"), "bundled:sp500")
    assert label.startswith("provider-") and "/" not in label


def test_no_manifest_is_ever_written_with_a_path(tmp_path: Path) -> None:
    """Every manifest (round and run summary) goes through the same guard, so a path anywhere
    in one fails the write instead of reaching the registry or the explorer."""
    model = torch.nn.Linear(2, 1)
    common = dict(failures=0, aggregation="fedavg", secagg=False, dp={}, metrics={"qlike": 1.0})
    save_round(tmp_path, 1, {"volatility": model}, participants=["provider-1a2b3c4d"], **common)
    with pytest.raises(ManifestError, match="looks like a file path"):
        save_round(tmp_path, 2, {"volatility": model}, participants=["/home/a/x.csv"], **common)
    assert not (tmp_path / "round-002" / "manifest.json").exists()
    with pytest.raises(ManifestError, match="looks like a file path"):
        save_round(tmp_path, 3, {"volatility": model}, participants=["C:\\data\\x.csv"], **common)


def test_the_run_summary_names_providers_by_label_and_holds_no_path(tmp_path: Path) -> None:
    config = {
        "providers": "bundled:sp500,/home/alice/desk/btc.csv,stress:7",
        "output-dir": str(tmp_path),
        "seed": 0,
    }
    summary = json.loads(write_run_summary(tmp_path, config, [1]).read_text())
    names = summary["config"]["providers"].split(",")
    assert names[0] == "bundled:sp500" and names[2] == "stress:7"
    assert names[1] == public_name("/home/alice/desk/btc.csv") and names[1].startswith("provider-")
    assert "output-dir" not in summary["config"]
    assert str(tmp_path) not in json.dumps(summary) and "alice" not in json.dumps(summary)
