"""Federated training of Proofcast's models across private data holders (Flower)."""
