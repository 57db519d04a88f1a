"""Operator commands through the real `proofcast` Typer app (in-process)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from oracle.cli import app
from oracle.node.keys import PASSWORD_ENV
from tests.oracle.node.conftest import Deployment
from tests.oracle.node.market import append_candle, write_candles

runner = CliRunner()


WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}  # usage errors unwrapped (long tmp paths)


def unboxed(output: str) -> str:
    """A usage error's text without rich's panel borders and line wrapping."""
    return " ".join(output.replace("│", " ").split())


def test_keys_new_writes_a_keystore_and_never_prints_the_key(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    result = runner.invoke(app, ["keys", "new", "--out", str(path)], env={PASSWORD_ENV: "pw"})
    assert result.exit_code == 0, result.output
    address = runner.invoke(
        app, ["keys", "address", "--keystore", str(path)], env={PASSWORD_ENV: "pw"}
    )
    assert address.exit_code == 0 and address.output.strip() in result.output
    again = runner.invoke(app, ["keys", "new", "--out", str(path)], env={PASSWORD_ENV: "pw"})
    assert again.exit_code == 1 and "refusing to overwrite" in again.output


def test_data_inspect_and_import_validate_the_file(tmp_path: Path) -> None:
    csv = write_candles(tmp_path / "eth.csv", dt.date(2026, 3, 10))
    shown = runner.invoke(app, ["data", "inspect", str(csv), "--calendar", "daily"])
    assert shown.exit_code == 0 and "logvol_d" in shown.output
    dest = tmp_path / "live"
    args = ["data", "import", str(csv), "--source-dir", str(dest), "--name", "ETH-USD.csv"]
    assert runner.invoke(app, [*args, "--calendar", "daily"]).exit_code == 0
    assert (dest / "ETH-USD.csv").read_text() == csv.read_text()
    append_candle(csv, seed=0, row="2026-03-11,100,99,101,100,1\n")  # high < low
    bad = runner.invoke(app, ["data", "inspect", str(csv), "--calendar", "daily"])
    assert bad.exit_code == 1 and "line 42" in bad.output


def test_data_commands_refuse_bad_input_in_one_line(tmp_path: Path) -> None:
    """Non-UTF-8 files, an unsupported --calendar: one error line naming the file or the
    values, no traceback, nothing imported."""
    csv = write_candles(tmp_path / "eth.csv", dt.date(2026, 3, 10))
    utf16 = tmp_path / "eth-utf16.csv"
    utf16.write_bytes(csv.read_text().encode("utf-16"))
    latin = tmp_path / "eth-latin1.csv"
    latin.write_bytes(csv.read_bytes().replace(b"volume", b"volum\xe9"))
    dest = tmp_path / "live"
    for bad in (utf16, latin):
        for cmd in (["inspect"], ["import", "--source-dir", str(dest), "--name", "x.csv"]):
            result = runner.invoke(app, ["data", *cmd, str(bad), "--calendar", "daily"])
            assert result.exit_code == 1, result.output
            assert result.exception is None or isinstance(result.exception, SystemExit)
            assert result.output.startswith("error: ") and str(bad) in result.output
            assert "UTF" in result.output and "Traceback" not in result.output
    assert not dest.exists()
    bom = tmp_path / "eth-bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + csv.read_bytes())
    assert runner.invoke(app, ["data", "inspect", str(bom), "--calendar", "daily"]).exit_code == 0
    weekly = runner.invoke(app, ["data", "inspect", str(csv), "--calendar", "weekly"], env=WIDE)
    assert weekly.exit_code == 2
    assert "'weekly' is not supported: use one of business, daily" in unboxed(weekly.output)


def test_explorer_refuses_a_missing_federated_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    result = runner.invoke(
        app,
        ["explorer", "--rpc-url", "http://127.0.0.1:1", "--oracle", "0x" + "11" * 20,
         "--federated", str(missing), "--snapshot", str(tmp_path / "site")],
        env=WIDE,
    )  # fmt: skip
    assert result.exit_code == 2
    message = unboxed(result.output)
    assert f"{missing} does not exist" in message and "--federated" in message
    assert not (tmp_path / "site").exists()


@pytest.mark.slow
def test_status_and_publish_once(deployment: Deployment) -> None:
    env = {"PROOFCAST_PRIVATE_KEY": deployment.key}
    published = runner.invoke(app, ["node", "publish-once", "-c", str(deployment.config)], env=env)
    assert published.exit_code == 0, published.output
    assert "round 1: confirmed" in published.output
    status = runner.invoke(app, ["node", "status", "-c", str(deployment.config)], env=env)
    assert status.exit_code == 0, status.output
    assert "ETH-USD" in status.output and "confirmed" in status.output
    assert deployment.address in status.output
    assert "threshold 2" in status.output
    assert deployment.key.removeprefix("0x") not in published.output + status.output
    wrong = runner.invoke(
        app, ["node", "status", "-c", str(deployment.config), "--chain-id", "1"], env=env
    )
    assert wrong.exit_code == 1 and "node.chain_id" in wrong.output


def test_data_inspect_and_training_share_one_gap_policy(tmp_path: Path) -> None:
    """A market-closure gap (a week missing): inspect reports it and goes on, as training loads
    the file; --gap-policy error refuses it as the node does; training follows the same flag."""
    import warnings

    from federated.config import ConfigError, FederatedConfig
    from federated.task import load_provider
    from models.data import DataGapWarning, DataValidationError, load_bundled

    series = load_bundled("sp500")
    keep = np.ones(len(series.dates), bool)
    keep[1000:1005] = False  # a week of business days gone
    csv = tmp_path / "closure.csv"
    lines = ["date,open,high,low,close"] + [
        f"{d},{o},{h},{lo},{c}"
        for d, o, h, lo, c, k in zip(series.dates, series.open, series.high, series.low,
                                     series.close, keep, strict=True) if k
    ]  # fmt: skip
    csv.write_text("\n".join(lines) + "\n")

    shown = runner.invoke(app, ["data", "inspect", str(csv)], env=WIDE)
    assert shown.exit_code == 0, shown.output
    assert "gap(s)" in shown.output and "training accepts it" in shown.output
    strict = runner.invoke(app, ["data", "inspect", str(csv), "--gap-policy", "error"], env=WIDE)
    assert strict.exit_code == 1 and "gap in dates" in strict.output
    assert "Traceback" not in strict.output
    filled = runner.invoke(app, ["data", "inspect", str(csv), "--gap-policy", "fill"], env=WIDE)
    assert filled.exit_code == 0 and "gap(s)" not in filled.output
    bogus = runner.invoke(app, ["data", "inspect", str(csv), "--gap-policy", "skip"], env=WIDE)
    assert bogus.exit_code == 2 and "report, error, fill" in bogus.output

    with warnings.catch_warnings(record=True) as caught:  # training: the same default
        warnings.simplefilter("always", DataGapWarning)
        assert load_provider(str(csv)).num_train > 0
    assert any(issubclass(w.category, DataGapWarning) for w in caught)
    with pytest.raises(DataValidationError, match="gap in dates"):
        load_provider(str(csv), gap_policy="error")
    assert FederatedConfig.from_run_config({"gap-policy": "fill"}).gap_policy == "fill"
    with pytest.raises(ConfigError, match="gap-policy"):
        FederatedConfig.from_run_config({"gap-policy": "skip"})
