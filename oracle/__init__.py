"""The oracle node: deploys the on-chain side, proves predictions and publishes them."""
