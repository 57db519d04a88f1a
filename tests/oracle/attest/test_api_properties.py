"""Property-based tests (hypothesis) of the attester API over real HTTP: whatever JSON value or
bytes a client POSTs, the answer is a 4xx refusal (never a 5xx, never a crash) and a signature
is only ever given for the honest report; honest proposals are signed however they are
serialised."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle.attest.report import Proposal, digest
from oracle.attest.server import BackgroundServer, create_app
from oracle.node.keys import SigningKey
from tests.oracle.attest.test_checks import CHAIN, END, FEEDS, KEYS, ORACLE, checker, propose
from tests.oracle.node.market import write_candles

KEY: SigningKey = KEYS[0]  # the checker's own key (propose() carries its observation)
REFUSED = {400, 413, 422}
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, dict]]:
    """A real attester server, a keep-alive client to it, and the honest proposal's JSON."""
    data = tmp_path_factory.mktemp("api-data")
    for seed, name in enumerate(FEEDS):
        write_candles(data / f"{name}.csv", END, days=40, seed=seed)
    with (
        BackgroundServer(create_app(checker(data), KEY)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client, propose(data).to_json()


def post(client: httpx.Client, content: bytes) -> httpx.Response:
    return client.post("/v1/attest", content=content, headers={"content-type": "application/json"})


def proposal_digest(sent: dict) -> str:
    p = Proposal.from_json(sent)
    return "0x" + digest(CHAIN, ORACLE, p.report, p.commitment).hex()


def signed_fields(sent: dict) -> dict[str, Any]:
    """What a signature over `sent` vouches for, but the expiry the transmitter may pick."""
    p = Proposal.from_json(sent)
    fields = asdict(p.report) | {"domain": (p.chain_id, p.oracle), "commitment": p.commitment}
    fields.pop("valid_until", None)
    return fields


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=40,
)


def leaf_paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value inside `value` (keys of dicts, indices of lists), itself included."""
    paths = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            paths += leaf_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            paths += leaf_paths(v, (*path, i))
    return paths


def replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


@PROPERTY
@given(value=json_values)
def test_any_json_value_is_refused_without_a_server_error(api, value: Any) -> None:
    client, _ = api
    response = post(client, json.dumps(value).encode())
    assert response.status_code in REFUSED, response.text
    assert "signature" not in response.json()


@PROPERTY
@given(body=st.binary(max_size=4096))
def test_any_bytes_are_refused_without_a_server_error(api, body: bytes) -> None:
    client, _ = api
    response = post(client, body)
    assert response.status_code in REFUSED, response.text


@PROPERTY
@given(data=st.data(), new=json_values)
def test_a_proposal_with_any_part_replaced_is_signed_only_if_it_is_still_the_honest_report(
    api, data: st.DataObject, new: Any
) -> None:
    client, honest = api
    path = data.draw(st.sampled_from(leaf_paths(honest)), label="path")
    sent = replaced(honest, path, new)
    response = post(client, json.dumps(sent).encode())
    assert response.status_code in {200, *REFUSED}, response.text
    if response.status_code == 200:  # e.g. 1000 -> 1000.0, or a volume nobody checks
        assert response.json()["digest"] == proposal_digest(sent)
        assert signed_fields(sent) == signed_fields(honest), (path, new)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), indent=st.none() | st.integers(0, 4))
def test_honest_proposals_are_signed_however_serialised(api, seed: int, indent: int | None) -> None:
    client, honest = api
    rng = random.Random(seed)

    def shuffled(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        if isinstance(value, list):
            return [shuffled(v) for v in value]
        return value

    response = post(client, json.dumps(shuffled(honest), indent=indent).encode())
    assert response.status_code == 200, response.text
    assert response.json()["signer"] == KEY.address
    assert response.json()["digest"] == proposal_digest(honest)
