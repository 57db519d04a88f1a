"""Operator commands: deploy an oracle, administer it, compile a federated round's circuit."""
