"""`proofcast attest ...`: run an independent attester.

The key comes from the keystore named in the config (password in $PROOFCAST_KEYSTORE_PASSWORD
or prompted) or from $PROOFCAST_PRIVATE_KEY, never from an argument.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from oracle.errors import OracleError

attest_app = typer.Typer(help="Run an independent attester.", no_args_is_help=True)
console = Console(stderr=True)


@attest_app.command("serve")
def attest_serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="Attester TOML config file.")],
    port: Annotated[int | None, typer.Option(help="Override attester.port.")] = None,
) -> None:
    """Check proposed reports against this attester's own data and sign those that agree."""
    import logging

    from rich.markup import escape

    from oracle.attest.checks import Checker
    from oracle.attest.config import load_attester_config
    from oracle.attest.server import create_app, serve
    from oracle.chain.contracts import attester_set_reader, config_version_reader
    from oracle.node.cli import _env_with_password
    from oracle.node.keys import RedactKeysFilter, load_key
    from oracle.node.sources import CsvDirectorySource

    try:
        cfg = load_attester_config(config, port)
        source = CsvDirectorySource(cfg.source_dir, calendar=cfg.calendar)
        for feed in cfg.feeds:  # refuse to start on a missing or unreadable file
            source.check(feed)
        key = load_key(cfg.keystore, _env_with_password(cfg.keystore))
    except OracleError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    handler = logging.StreamHandler()
    handler.addFilter(RedactKeysFilter(key))
    handler.setFormatter(logging.Formatter("%(asctime)s attester %(levelname)s %(message)s"))
    logger = logging.getLogger("proofcast.attest")
    logger.addHandler(handler)
    logger.propagate = False  # the root's handler (oracle.cli) printed each line a second time
    logger.setLevel(logging.INFO)
    checker = Checker(
        cfg.policy,
        cfg.feeds,
        source,
        chain_config_version=None
        if cfg.rpc_url is None
        else config_version_reader(cfg.rpc_url, cfg.policy.oracle),
        chain_attester_set=None
        if cfg.rpc_url is None
        else attester_set_reader(cfg.rpc_url, cfg.policy.oracle),
    )
    logger.info(
        "attester %s for oracle %s on chain %d: %s from %s, circuit %s (K=%d, input_scale %d, "
        "output_scale %d), listening on %s:%d",
        key.address,
        cfg.policy.oracle,
        cfg.policy.chain_id,
        ", ".join(f.name for f in cfg.feeds),
        cfg.source_dir,
        cfg.circuit_dir,
        cfg.policy.slots,
        cfg.policy.input_scale,
        cfg.policy.output_scale,
        cfg.host,
        cfg.port,
    )
    serve(create_app(checker, key), cfg.host, cfg.port)
