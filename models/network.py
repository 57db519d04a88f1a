"""The small network both models share, and the visible training loop.

The network maps raw features to the output in one graph, so its ONNX export (and the circuit)
contains everything from raw features to the number published on chain:

    z   = (x - x_shift) * x_scale                     # feature normalisation (buffers)
    c   = z_lo + relu(z - z_lo) - relu(z - z_hi)      # z clipped to the training range
    h   = skip(z) + out(relu(hidden(c)))              # linear (HAR-style) path + one ReLU layer
    y   = h * y_scale + y_shift                       # output de-normalisation (buffers)

Only Gemm/MatMul, Add, Sub, Mul and Relu: nothing EZKL has to approximate with lookups except
ReLU. With ``hidden=0`` the network is purely linear (a HAR-style regression on all features).
The clip keeps the nonlinear branch inside the range it was trained on, so on a day beyond all
history (a -33 % oil day) the forecast extrapolates linearly instead of through arbitrary ReLU
kinks; the linear path still sees the unclipped features.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class NormalisedNet(nn.Module):
    """Linear skip + one hidden ReLU layer, with input/output normalisation inside the module."""

    def __init__(self, n_features: int, hidden: int = 16) -> None:
        super().__init__()
        self.n_features = n_features
        self.hidden_size = hidden
        self.register_buffer("x_shift", torch.zeros(n_features))
        self.register_buffer("x_scale", torch.ones(n_features))
        self.register_buffer("y_shift", torch.zeros(1))
        self.register_buffer("y_scale", torch.ones(1))
        self.register_buffer("z_lo", torch.full((n_features,), -4.0))
        self.register_buffer("z_hi", torch.full((n_features,), 4.0))
        self.skip = nn.Linear(n_features, 1)
        if hidden > 0:
            self.hidden = nn.Linear(n_features, hidden)
            self.out = nn.Linear(hidden, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.x_shift) * self.x_scale
        h = self.skip(z)
        if self.hidden_size > 0:
            c = self.z_lo + torch.relu(z - self.z_lo) - torch.relu(z - self.z_hi)
            h = h + self.out(torch.relu(self.hidden(c)))
        return h * self.y_scale + self.y_shift

    def config(self) -> dict:
        """Constructor arguments (what `models.persistence` stores next to the weights)."""
        return {"n_features": self.n_features, "hidden": self.hidden_size}

    def set_normalisation(self, X: np.ndarray, y_shift: float, y_scale: float) -> None:
        """Store feature mean and 1/std, the normalised training range (all from the training
        rows only) and the output affine map."""
        X = np.asarray(X, dtype=np.float64)
        std = X.std(axis=0)
        std = np.where(std > 1e-8, std, 1.0)
        z = (X - X.mean(axis=0)) / std
        with torch.no_grad():
            self.x_shift.copy_(torch.as_tensor(X.mean(axis=0), dtype=torch.float32))
            self.x_scale.copy_(torch.as_tensor(1.0 / std, dtype=torch.float32))
            self.z_lo.copy_(torch.as_tensor(z.min(axis=0), dtype=torch.float32))
            self.z_hi.copy_(torch.as_tensor(z.max(axis=0), dtype=torch.float32))
            self.y_shift.fill_(float(y_shift))
            self.y_scale.fill_(float(y_scale))

    def num_parameters(self) -> int:
        """Trainable parameters (normalisation buffers not counted)."""
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Forward pass on a numpy array ``[n, F]``; returns ``[n]`` float64."""
        self.eval()
        out = self(torch.as_tensor(np.asarray(X, dtype=np.float32)))
        return out[:, 0].double().numpy()


def init_weights(model: NormalisedNet, seed: int) -> None:
    """Deterministic initialisation under `seed`; the output layers start at zero, so the
    untrained network predicts `y_shift` (the training-set baseline)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(("skip", "out")):
                p.zero_()
            elif name.endswith("weight"):
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(p.shape[1]))
            else:
                p.zero_()


def train_network(
    model: NormalisedNet,
    X: np.ndarray,
    y: np.ndarray,
    loss_fn: LossFn,
    *,
    epochs: int = 300,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> NormalisedNet:
    """Initialise under `seed`, then full-batch Adam on ``loss_fn(prediction, y)``.

    The caller sets the normalisation first (`set_normalisation`) from the same rows.
    """
    init_weights(model, seed)
    continue_training(model, X, y, loss_fn, epochs=epochs, lr=lr, weight_decay=weight_decay)
    return model


def continue_training(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    loss_fn: LossFn,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
) -> float:
    """`epochs` full-batch Adam steps from the model's current weights; returns the last loss.

    The one training loop: `train_network` runs it after initialising, a federated client runs
    it from the global weights. Runs on one intra-op thread: for a network this small, thread
    hand-offs cost more than the maths (8 s instead of 0.2 s on a loaded 2-core machine), and
    the result does not depend on the machine's core count.
    """
    xb = torch.as_tensor(np.asarray(X, dtype=np.float32))
    yb = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(-1, 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        model.train()
        loss = torch.zeros(())
        for _ in range(epochs):
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        model.eval()
        return float(loss.detach())
    finally:
        torch.set_num_threads(threads)
