"""The small network both models share, and the visible training loop.

The network maps raw features to the output in one graph, so its ONNX export (and the circuit)
contains everything from raw features to the number published on chain:

    z   = (x - x_shift) * x_scale                     # feature normalisation (buffers)
    c   = clip(z, z_lo, z_hi) * x_mask                # z clipped to the training range
    e   = clip(z, z_lo - M, z_hi + M)                 # ... widened by M for the linear path
    h   = skip(e * x_mask) + out(relu(hidden(c)))     # linear (HAR-style) path + one ReLU layer
    y   = clip(h * y_scale + y_shift [+ raw(e)[baseline]], y_lo, y_hi)   # de-normalised, clipped

with clip(v, lo, hi) = lo + relu(v - lo) - relu(v - hi).

Only Gemm/MatMul, Add, Sub, Mul and Relu: nothing EZKL has to approximate with lookups except
ReLU. The circuit proves `provable()`, the same function with the normalisation and the output
map folded into the layers and the clips on raw features (`ProvableHeads`): no Mul is left, and
networks fit on the same statistics share their input clips explicitly (for separately
normalised networks the folding alone saves a quarter of the circuit's rows).
With ``hidden=0`` the network is purely linear (a HAR-style regression on all features).
`x_mask` hides input columns from the layers (0) and ``baseline`` names an input column added to
the output: the volatility model predicts b + a log ratio from the scale-free features and sees
no level (`models.features`). The baseline enters through the extrapolation clip and the output
clip spans its range, so the circuit still bounds the published number.
The clip keeps the nonlinear branch inside the range it was trained on, so on a day beyond all
history (a -33 % oil day) the forecast extrapolates linearly instead of through arbitrary ReLU
kinks. The linear path extrapolates only `EXTRAPOLATION` normalised units beyond the training
extremes, and the output is clipped to `OUTPUT_SIGMAS` output scales around the baseline: the
circuit itself bounds what any proof can carry, whatever features it is given (a corrupt 10x tick
cannot prove an absurd number). All bounds are buffers, so they are part of the model hash.

`set_statistics` is the one writer of the normalisation: central fits compute the statistics
from their rows (`set_normalisation`), federated training from pooled sums (federated/task.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
EXTRAPOLATION = 4.0  # normalised units the linear path may go beyond the training extremes
OUTPUT_SIGMAS = 12.0  # output clip: y_shift +- this many y_scale


def clip(v: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """`v` clipped to [lo, hi] with two ReLUs (no Clip op: EZKL proves ReLU exactly)."""
    return lo + torch.relu(v - lo) - torch.relu(v - hi)


class NormalisedNet(nn.Module):
    """Linear skip + one hidden ReLU layer, with input/output normalisation inside the module."""

    def __init__(
        self,
        n_features: int,
        hidden: int = 16,
        *,
        baseline: int | None = None,
        masked: tuple[int, ...] = (),
        scale_only: tuple[int, ...] = (),
        skip_bias: bool = True,
    ) -> None:
        super().__init__()
        if baseline is not None and not 0 <= baseline < n_features:
            raise ValueError(f"baseline column {baseline} outside {n_features} features")
        if any(not 0 <= j < n_features for j in masked):
            raise ValueError(f"masked columns {masked} outside {n_features} features")
        self.n_features = n_features
        self.hidden_size = hidden
        self.baseline = baseline
        self.masked = tuple(sorted(set(masked)))
        # columns normalised by their std only (mean not subtracted): with no skip bias, a
        # network reading only such columns is positively homogeneous (scale-equivariant)
        self.scale_only = tuple(sorted(set(scale_only)))
        mask = torch.ones(n_features)
        mask[list(masked)] = 0.0
        self.register_buffer("x_mask", mask)
        if baseline is not None:  # raw baseline = e @ b_read + b_shift (set_statistics writes)
            self.register_buffer("b_read", torch.zeros(n_features, 1))
            self.register_buffer("b_shift", torch.zeros(1))
        self.register_buffer("x_shift", torch.zeros(n_features))
        self.register_buffer("x_scale", torch.ones(n_features))
        self.register_buffer("y_shift", torch.zeros(1))
        self.register_buffer("y_scale", torch.ones(1))
        self.register_buffer("z_lo", torch.full((n_features,), -4.0))
        self.register_buffer("z_hi", torch.full((n_features,), 4.0))
        self.register_buffer("e_lo", torch.full((n_features,), -4.0 - EXTRAPOLATION))
        self.register_buffer("e_hi", torch.full((n_features,), 4.0 + EXTRAPOLATION))
        self.register_buffer("y_lo", torch.full((1,), -OUTPUT_SIGMAS))
        self.register_buffer("y_hi", torch.full((1,), OUTPUT_SIGMAS))
        self.skip = nn.Linear(n_features, 1, bias=skip_bias)
        if hidden > 0:
            self.hidden = nn.Linear(n_features, hidden)
            self.out = nn.Linear(hidden, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.x_shift) * self.x_scale
        e = clip(z, self.e_lo, self.e_hi)
        # (no Mul by an all-ones mask: tract would drop it, and the model hash with it)
        mask = self.x_mask if self.masked else None
        h = self.skip(e if mask is None else e * mask)
        if self.hidden_size > 0:
            c = clip(z, self.z_lo, self.z_hi)
            h = h + self.out(torch.relu(self.hidden(c if mask is None else c * mask)))
        y = h * self.y_scale + self.y_shift
        if self.baseline is not None:
            y = y + (torch.matmul(e, self.b_read) + self.b_shift)
        return clip(y, self.y_lo, self.y_hi)

    def config(self) -> dict:
        """Constructor arguments (what `models.persistence` stores next to the weights)."""
        return {"n_features": self.n_features, "hidden": self.hidden_size}

    def set_normalisation(self, X: np.ndarray, y_shift: float, y_scale: float) -> None:
        """Feature mean and std, the normalised training range (all from the training rows
        only) and the output affine map."""
        X = np.asarray(X, dtype=np.float64)
        self.set_statistics(X.mean(axis=0), X.std(axis=0), X.min(axis=0), X.max(axis=0),
                            y_shift, y_scale)  # fmt: skip

    def set_statistics(
        self,
        x_mean: np.ndarray,
        x_std: np.ndarray,
        x_min: np.ndarray,
        x_max: np.ndarray,
        y_shift: float,
        y_scale: float,
    ) -> None:
        """The one writer of every normalisation buffer (central and federated fits)."""
        x_mean = np.array(x_mean, dtype=np.float64)
        x_mean[list(self.scale_only)] = 0.0
        std = np.asarray(x_std, dtype=np.float64)
        std = np.where(std > 1e-8, std, 1.0)
        z_lo = (np.asarray(x_min, dtype=np.float64) - x_mean) / std
        z_hi = (np.asarray(x_max, dtype=np.float64) - x_mean) / std

        def put(buffer: torch.Tensor, values: np.ndarray | float) -> None:
            buffer.copy_(
                torch.as_tensor(
                    np.array(np.broadcast_to(values, buffer.shape)), dtype=torch.float32
                )
            )

        with torch.no_grad():
            put(self.x_shift, x_mean)
            put(self.x_scale, 1.0 / std)
            put(self.z_lo, z_lo)
            put(self.z_hi, z_hi)
            put(self.e_lo, z_lo - EXTRAPOLATION)
            put(self.e_hi, z_hi + EXTRAPOLATION)
            put(self.y_shift, float(y_shift))
            put(self.y_scale, float(y_scale))
            lo = float(y_shift) - OUTPUT_SIGMAS * abs(float(y_scale))
            hi = float(y_shift) + OUTPUT_SIGMAS * abs(float(y_scale))
            if self.baseline is not None:  # the output range spans the baseline's range
                b = self.baseline
                read = np.zeros(self.n_features)
                read[b] = std[b]
                put(self.b_read, read[:, None])
                put(self.b_shift, x_mean[b])
                lo += x_mean[b] + std[b] * (z_lo[b] - EXTRAPOLATION)
                hi += x_mean[b] + std[b] * (z_hi[b] + EXTRAPOLATION)
            put(self.y_lo, lo)
            put(self.y_hi, hi)

    def output_floor(self) -> torch.Tensor | None:
        """A lower bound applied after the output clip (none here; `RiskModel` floors VaR)."""
        return None

    def provable(self) -> ProvableHeads:
        """The graph the circuit proves for this network (`ProvableHeads`)."""
        return ProvableHeads([self])

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
    optimizer: str = "adam",
) -> float:
    """`epochs` full-batch Adam (or plain SGD) steps from the model's current weights; returns
    the last loss.

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
        optimizers = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
        opt = optimizers[optimizer](model.parameters(), lr=lr, weight_decay=weight_decay)
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


def _raw_bound(z: torch.Tensor, net: NormalisedNet) -> torch.Tensor:
    """A normalised-unit bound expressed in raw feature units (x_scale > 0 by construction)."""
    return (z.double() / net.x_scale.double() + net.x_shift.double()).float()


class _ProvableHead(nn.Module):
    """One network with its input normalisation and output map folded into its layers."""

    def __init__(self, net: NormalisedNet) -> None:
        super().__init__()
        if not bool(torch.all(net.x_scale > 0)):
            raise ValueError("x_scale must be positive for the clips to move to raw units")
        scale, shift = net.x_scale.double(), net.x_shift.double()
        y_scale, y_shift = net.y_scale.double(), net.y_shift.double()
        floor = net.output_floor()
        lo, hi = net.y_lo, net.y_hi
        if floor is not None:  # max(clip(h, lo, hi), f) = clip(h, max(lo, f), max(hi, f))
            lo, hi = torch.maximum(lo, floor), torch.maximum(hi, floor)
        self.register_buffer("y_lo", lo.detach().clone().float())
        self.register_buffer("y_hi", hi.detach().clone().float())
        n = net.n_features
        mask = net.x_mask.double()
        self.skip = nn.Linear(n, 1)
        w = net.skip.weight.detach().double() * scale * mask
        read = torch.zeros_like(w)  # a baseline column passes through: raw e is its value
        if net.baseline is not None:
            read[0, net.baseline] = 1.0
        with torch.no_grad():
            self.skip.weight.copy_((w * y_scale + read).float())
            skip_bias = net.skip.bias.detach().double() if net.skip.bias is not None else 0.0
            bias = (skip_bias - w @ shift) * y_scale + y_shift
            self.skip.bias.copy_(bias.float())
        self.hidden_size = net.hidden_size
        if net.hidden_size > 0:
            self.hidden = nn.Linear(n, net.hidden_size)
            self.out = nn.Linear(net.hidden_size, 1, bias=False)
            w = net.hidden.weight.detach().double() * scale * mask
            with torch.no_grad():
                self.hidden.weight.copy_(w.float())
                self.hidden.bias.copy_((net.hidden.bias.detach().double() - w @ shift).float())
                self.out.weight.copy_((net.out.weight.detach().double() * y_scale).float())

    def forward(self, c: torch.Tensor | None, e: torch.Tensor) -> torch.Tensor:
        h = self.skip(e)
        if c is not None:
            h = h + self.out(torch.relu(self.hidden(c)))
        return clip(h, self.y_lo, self.y_hi)


class ProvableHeads(nn.Module):
    """What the circuit proves for networks evaluated on the same input row: their outputs
    side by side, the same function as calling each network, rewritten for fewer circuit rows.

    * The input normalisation is folded into the first layers (``W (x - m) s = (W s) x - W s m``)
      and the clips act on raw features with their bounds mapped back to raw units (clipping
      commutes with the increasing map ``x -> (x - m) s``); the output map ``h y_scale +
      y_shift`` is folded into the last layers. No multiplication by a constant tensor is left
      to rescale in the circuit.
    * Networks with equal input bounds (the federated models, fit on the same pooled
      statistics) share one pair of clips.
    * A baseline input column joins the linear path (it is read from the same raw extrapolation
      clip, so it adds 1 to its column of the folded skip weights), and input masks are folded
      into the first layers' weights (masked columns get zero weight otherwise).
    * A floor after the output clip joins the clip (``max(clip(h, lo, hi), f) =
      clip(h, max(lo, f), max(hi, f))``).

    In exact arithmetic every output equals the network's own forward; in float32 they differ
    by rounding (checked on every export by `circuits.export.onnx_parity`). The model hash is
    taken from this graph's constants, so it changes whenever any weight or bound does.
    """

    def __init__(self, nets: list[NormalisedNet]) -> None:
        super().__init__()
        if not nets:
            raise ValueError("ProvableHeads needs at least one network")
        self.heads = nn.ModuleList(_ProvableHead(net) for net in nets)
        groups: list[list[int]] = []
        bounds: list[tuple[torch.Tensor, ...]] = []
        for i, net in enumerate(nets):
            b = tuple(_raw_bound(getattr(net, k), net) for k in ("z_lo", "z_hi", "e_lo", "e_hi"))
            for g, other in enumerate(bounds):
                if all(torch.equal(u, v) for u, v in zip(b, other, strict=True)):
                    groups[g].append(i)
                    break
            else:
                groups.append([i])
                bounds.append(b)
        self.groups = groups
        for g, (z_lo, z_hi, e_lo, e_hi) in enumerate(bounds):
            self.register_buffer(f"c_lo{g}", z_lo)
            self.register_buffer(f"c_hi{g}", z_hi)
            self.register_buffer(f"e_lo{g}", e_lo)
            self.register_buffer(f"e_hi{g}", e_hi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs: dict[int, torch.Tensor] = {}
        for g, members in enumerate(self.groups):
            e = clip(x, getattr(self, f"e_lo{g}"), getattr(self, f"e_hi{g}"))
            needs_c = any(self.heads[i].hidden_size > 0 for i in members)
            c = clip(x, getattr(self, f"c_lo{g}"), getattr(self, f"c_hi{g}")) if needs_c else None
            for i in members:
                outs[i] = self.heads[i](c if self.heads[i].hidden_size > 0 else None, e)
        ordered = [outs[i] for i in range(len(self.heads))]
        return ordered[0] if len(ordered) == 1 else torch.cat(ordered, dim=1)
