"""EZKL steps on the circuit built by the shared end-to-end run."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from circuits.artifacts import CircuitArtifacts
from circuits.errors import CircuitError, EzklStepError
from circuits.evm import VERIFIER_CONTRACT
from circuits.pipeline import (
    compile_model,
    load_proof,
    prove,
    read_settings,
    verify,
    witness_outputs,
)
from models.identity import PARAM_SCALE, model_hash, poseidon_fixed_point
from models.placeholder import make_placeholder_model
from oracle.selftest import SelftestReport


@pytest.fixture(scope="module")
def artifacts(selftest_run: tuple[Path, SelftestReport]) -> CircuitArtifacts:
    return CircuitArtifacts(selftest_run[0] / "circuit")


@pytest.mark.slow
def test_settings_hash_params_and_inputs(artifacts: CircuitArtifacts) -> None:
    run_args = read_settings(artifacts)["run_args"]
    assert "Hashed" in run_args["param_visibility"]
    assert "Hashed" in run_args["input_visibility"]
    assert run_args["output_visibility"] == "Public"


@pytest.mark.slow
def test_prove_and_verify_in_python(artifacts: CircuitArtifacts) -> None:
    proof = prove(artifacts, np.full((1, 8), 0.25), name="quarter")
    assert verify(artifacts, proof.path)
    assert len(proof.instances) == 4  # input hash, param hash, two outputs


@pytest.mark.slow
def test_same_weights_give_same_param_hash_and_inputs_change_input_hash(
    artifacts: CircuitArtifacts,
) -> None:
    a = prove(artifacts, np.zeros((1, 8)), name="zeros")
    b = prove(artifacts, np.ones((1, 8)), name="ones")
    assert a.instances[1] == b.instances[1]
    assert a.instances[0] != b.instances[0]


@pytest.mark.slow
def test_tampered_proof_file_fails_python_verification(
    artifacts: CircuitArtifacts, tmp_path: Path
) -> None:
    original = artifacts.proof_dir("latest").proof
    data = json.loads(original.read_text())
    data["instances"][0][2] = data["instances"][0][3]  # claim the second output for the first
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    assert load_proof(tampered).instances != load_proof(original).instances
    assert not verify(artifacts, tampered)


@pytest.mark.slow
def test_nan_features_are_refused(artifacts: CircuitArtifacts) -> None:
    with pytest.raises(EzklStepError, match="NaN"):
        prove(artifacts, np.array([[np.nan] * 8]), name="nan")


@pytest.mark.slow
def test_verifier_is_a_single_contract_under_eip170(artifacts: CircuitArtifacts) -> None:
    from oracle.chain.client import EIP170_LIMIT
    from oracle.chain.solidity import compile_file

    compiled = compile_file(artifacts.verifier_sol, VERIFIER_CONTRACT)
    assert 0 < compiled.runtime_size <= EIP170_LIMIT


@pytest.mark.slow
def test_model_hash_instance_equals_identity_of_weights(artifacts: CircuitArtifacts) -> None:
    proof = load_proof(artifacts.proof_dir("latest").proof)
    assert proof.instances[1] == model_hash(make_placeholder_model(0))


@pytest.mark.slow
def test_input_commitment_is_recomputable_from_the_data(artifacts: CircuitArtifacts) -> None:
    features = np.linspace(-1.0, 1.0, 8).reshape(1, 8)
    proof = prove(artifacts, features, name="commitment")
    input_scale = read_settings(artifacts)["run_args"]["input_scale"]
    assert proof.instances[0] == poseidon_fixed_point(features, input_scale)
    assert proof.instances[0] != poseidon_fixed_point(features + 1e-3, input_scale)


@pytest.mark.slow
def test_witness_gives_the_proofs_instances_without_proving(artifacts: CircuitArtifacts) -> None:
    features = np.full((1, 8), -0.5)
    assert witness_outputs(artifacts, features, name="w") == prove(artifacts, features).instances


@pytest.mark.slow
def test_new_weights_reuse_the_keys_but_carry_their_own_hash(
    artifacts: CircuitArtifacts,
) -> None:
    """One verifying key serves every round; the hash instance tells the weights apart."""
    registered = model_hash(make_placeholder_model(0))
    other = make_placeholder_model(seed=42)
    compiled = compile_model(other, artifacts, "round-42", example=torch.zeros(1, 8))
    proof = prove(artifacts, np.zeros((1, 8)), name="r42", compiled=compiled.compiled)
    assert verify(artifacts, proof.path)  # valid proof under the same verifying key ...
    assert proof.instances[1] == model_hash(other, PARAM_SCALE)
    assert proof.instances[1] != registered  # ... so only a hash registry can tell it apart


@pytest.mark.slow
def test_weights_of_another_graph_are_refused_by_name(artifacts: CircuitArtifacts) -> None:
    """compile_model refuses a model whose proved graph differs from the circuit's (here a wider
    hidden layer), before EZKL sees it, and writes nothing."""
    wider = make_placeholder_model(seed=1, hidden=32)
    with pytest.raises(CircuitError, match="need a circuit of their own"):
        compile_model(wider, artifacts, "wider", example=torch.zeros(1, 8))
    assert not artifacts.model_dir("wider").root.exists()
