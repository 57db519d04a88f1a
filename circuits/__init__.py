"""From a trained model to a zk-SNARK: ONNX export, EZKL circuit, keys, proofs, EVM verifier."""
