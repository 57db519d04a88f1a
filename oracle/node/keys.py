"""The node's signing key: from an encrypted keystore file or an environment variable.

Never from a command-line argument (visible in `ps` and shell history) and never logged: the
key is held in a `SigningKey` whose repr is redacted, and `RedactKeysFilter` scrubs anything
that looks like a 32-byte hex secret from log records as a second line of defence.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from eth_account import Account

from oracle.node.errors import KeyLoadError

KEY_ENV = "PROOFCAST_PRIVATE_KEY"
PASSWORD_ENV = "PROOFCAST_KEYSTORE_PASSWORD"

_HEX_SECRET = re.compile(r"(0x)?[0-9a-fA-F]{64}")


class SigningKey:
    """A private key that never prints itself."""

    __slots__ = ("_key", "address")

    def __init__(self, key: str) -> None:
        try:
            self.address: str = Account.from_key(key).address
        except Exception as exc:  # eth_account raises several types; never echo the key
            raise KeyLoadError(
                f"not a valid secp256k1 private key ({type(exc).__name__})"
            ) from None
        self._key = key

    def reveal(self) -> str:
        """The key itself, for signing only."""
        return self._key

    def __repr__(self) -> str:
        return f"SigningKey(address={self.address}, key=<redacted>)"

    __str__ = __repr__


def load_key(keystore: Path | None = None, env: dict[str, str] | None = None) -> SigningKey:
    """Decrypt `keystore` with the password in PROOFCAST_KEYSTORE_PASSWORD, else read
    PROOFCAST_PRIVATE_KEY; raises KeyLoadError naming the file or variable (never the key)."""
    env = dict(os.environ if env is None else env)
    if keystore is not None:
        if not keystore.is_file():
            raise KeyLoadError(f"keystore {keystore} does not exist")
        password = env.get(PASSWORD_ENV)
        if password is None:
            raise KeyLoadError(f"keystore {keystore} needs its password in ${PASSWORD_ENV}")
        try:
            data = json.loads(keystore.read_text())
            key = Account.decrypt(data, password)
        except ValueError as exc:
            raise KeyLoadError(f"cannot decrypt keystore {keystore}: {exc}") from None
        return SigningKey("0x" + bytes(key).hex())
    if KEY_ENV in env:
        return SigningKey(env[KEY_ENV])
    raise KeyLoadError(f"no signing key: set `keystore` in the config or ${KEY_ENV}")


def write_keystore(key: SigningKey, path: Path, password: str) -> Path:
    """Encrypt `key` to a standard (scrypt) JSON keystore at `path`, mode 0600."""
    data = Account.encrypt(key.reveal(), password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return path


class RedactKeysFilter(logging.Filter):
    """Replace 64-hex-digit strings (private keys) in log messages with <redacted>.

    Transaction hashes have the same shape and are redacted only if they equal a known key, so
    the filter is given the key(s) to scrub rather than scrubbing every hash.
    """

    def __init__(self, *keys: SigningKey) -> None:
        super().__init__()
        self._secrets = {k.reveal().lower().removeprefix("0x") for k in keys}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = _HEX_SECRET.sub(self._scrub, message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True

    def _scrub(self, match: re.Match[str]) -> str:
        digits = match.group(0).lower().removeprefix("0x")
        return "<redacted>" if digits in self._secrets else match.group(0)
