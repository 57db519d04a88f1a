"""Keys from an encrypted keystore or the environment; never printed or logged."""

import logging
from pathlib import Path

import pytest

from oracle.chain.anvil import ANVIL_DEV_KEY
from oracle.node.errors import KeyLoadError
from oracle.node.keys import (
    KEY_ENV,
    PASSWORD_ENV,
    RedactKeysFilter,
    SigningKey,
    load_key,
    write_keystore,
)

DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_keystore_round_trip(tmp_path: Path) -> None:
    path = write_keystore(SigningKey(ANVIL_DEV_KEY), tmp_path / "node.json", "pw")
    assert path.stat().st_mode & 0o777 == 0o600
    assert ANVIL_DEV_KEY[2:] not in path.read_text()
    key = load_key(path, {PASSWORD_ENV: "pw"})
    assert key.address == DEV_ADDRESS and key.reveal() == ANVIL_DEV_KEY


def test_wrong_password_names_the_file_not_the_key(tmp_path: Path) -> None:
    path = write_keystore(SigningKey(ANVIL_DEV_KEY), tmp_path / "node.json", "pw")
    with pytest.raises(KeyLoadError, match="cannot decrypt keystore") as info:
        load_key(path, {PASSWORD_ENV: "wrong"})
    assert str(path) in str(info.value) and ANVIL_DEV_KEY[2:] not in str(info.value)
    with pytest.raises(KeyLoadError, match=PASSWORD_ENV):
        load_key(path, {})


def test_key_from_environment_and_missing_key() -> None:
    assert load_key(None, {KEY_ENV: ANVIL_DEV_KEY}).address == DEV_ADDRESS
    with pytest.raises(KeyLoadError, match=KEY_ENV):
        load_key(None, {})


def test_invalid_key_error_does_not_echo_it() -> None:
    with pytest.raises(KeyLoadError) as info:
        SigningKey("0x1234deadbeef")
    assert "1234deadbeef" not in str(info.value)


def test_key_never_appears_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    key = SigningKey(ANVIL_DEV_KEY)
    assert ANVIL_DEV_KEY[2:] not in repr(key) and ANVIL_DEV_KEY[2:] not in f"{key}"
    logger = logging.getLogger("test.keys")
    logger.addFilter(RedactKeysFilter(key))
    tx_hash = "0x" + "ab" * 32
    with caplog.at_level(logging.INFO, logger="test.keys"):
        logger.info("oops %s, tx %s", ANVIL_DEV_KEY, tx_hash)
    assert ANVIL_DEV_KEY[2:] not in caplog.text
    assert "<redacted>" in caplog.text and tx_hash in caplog.text  # hashes stay readable
