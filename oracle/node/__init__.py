"""The long-lived oracle node: read market data, decide which feeds are due, prove, publish.

config (TOML + env + flags) -> sources (market data) -> schedule (heartbeat/deviation)
-> circuits.prove -> publisher (signed, journaled transactions) -> journal (crash safety).
"""
