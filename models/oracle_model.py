"""The network the oracle proves: volatility and risk models side by side, per feed.

One circuit, one proof and one model hash cover both numbers a consumer reads for a feed:
row k of the input (feed k's features) maps to [log vol (percent), 99% VaR (percent)].
"""

from __future__ import annotations

import torch
from torch import nn

from models.network import ProvableHeads
from models.risk import RiskModel
from models.volatility import VolatilityModel

OUTPUT_NAMES = ("log_vol_pct", "var99_pct")


class OracleModel(nn.Module):
    """[K, F] raw features -> [K, 2] = [next-day log vol %, 1-day 99% VaR %] per feed."""

    def __init__(self, volatility: VolatilityModel, risk: RiskModel) -> None:
        super().__init__()
        if volatility.n_features != risk.n_features:
            raise ValueError(
                f"volatility model takes {volatility.n_features} features, "
                f"risk model {risk.n_features}"
            )
        self.n_features = volatility.n_features
        self.volatility = volatility
        self.risk = risk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.volatility(x), self.risk(x)], dim=1)

    def provable(self) -> ProvableHeads:
        """The graph the circuit proves: both networks folded, sharing their input clips when
        their normalisations agree (as the federated models' do)."""
        return ProvableHeads([self.volatility, self.risk])
