"""Market data, features and the small PyTorch models that Proofcast proves."""
