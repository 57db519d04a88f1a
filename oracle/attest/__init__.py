"""Independent attesters: check a proposed report's bars against their own market data and
sign it (EIP-712) only if every bar, the observation time and the input commitment agree."""
