"""Talking to a chain: anvil, solc-js, deployment, the verifier and RiskOracle bindings."""
