import torch

from models.placeholder import NUM_FEATURES, NUM_OUTPUTS, make_placeholder_model, sample_features


def test_placeholder_is_deterministic_under_seed() -> None:
    a, b = make_placeholder_model(3), make_placeholder_model(3)
    x = sample_features(5)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), make_placeholder_model(4)(x))


def test_placeholder_shapes() -> None:
    x = sample_features(7)
    assert x.shape == (7, NUM_FEATURES)
    assert make_placeholder_model()(x).shape == (7, NUM_OUTPUTS)
