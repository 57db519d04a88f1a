"""A tiny MLP that stands in for the risk models while the pipeline is being built.

It has the shape of the eventual models (a handful of features in, a couple of risk numbers out)
so that every later stage (ONNX, circuit, proof, chain) is exercised for real.
"""

from __future__ import annotations

import torch
from torch import nn

NUM_FEATURES = 8
HIDDEN = 16
NUM_OUTPUTS = 2


class PlaceholderMLP(nn.Module):
    """features -> hidden -> 2 multilayer perceptron with a ReLU (8 -> 16 -> 2 by default)."""

    def __init__(self, num_features: int = NUM_FEATURES, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(num_features, hidden), nn.ReLU(), nn.Linear(hidden, NUM_OUTPUTS)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_placeholder_model(
    seed: int = 0, num_features: int = NUM_FEATURES, hidden: int = HIDDEN
) -> PlaceholderMLP:
    """Build the placeholder model with deterministic weights (N(0, 0.25)) for `seed`."""
    gen = torch.Generator().manual_seed(seed)
    model = PlaceholderMLP(num_features, hidden)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return model.eval()


def sample_features(n: int, seed: int = 1) -> torch.Tensor:
    """`n` rows of standard-normal features, shape (n, NUM_FEATURES)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, NUM_FEATURES, generator=gen)
