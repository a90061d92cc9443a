"""Both protocols against a real server: answers equal the model's, errors are 4xx."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from serving.conftest import Served


def rows(served: Served, count: int = 3) -> list[dict[str, Any]]:
    return served.frame.head(count).to_dict(orient="records")


def test_health_and_metadata(served: Served) -> None:
    client, url = served.client, served.url
    assert client.get(f"{url}/v2/health/live").json() == {"live": True}
    assert client.get(f"{url}/v2/health/ready").json() == {"ready": True}
    assert client.get(f"{url}/v2").json()["name"] == "shipyard"
    meta = client.get(f"{url}/v2/models/credit").json()
    assert meta["versions"] == ["1"] and meta["platform"] == "sklearn"
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        ("age", "INT64"),
        ("income", "FP64"),
        ("score", "FP64"),
        ("member", "BOOL"),
        ("city", "BYTES"),
    ]
    assert client.get(f"{url}/v2/models/credit/versions/1").status_code == 200
    assert client.get(f"{url}/v2/models/credit/ready").json() == {"name": "credit", "ready": True}
    wrong = client.get(f"{url}/v2/models/credit/versions/2")
    assert wrong.status_code == 404 and "served at version 1" in wrong.json()["error"]


def test_plain_json_instances_and_dataframe_split(served: Served) -> None:
    expected = served.model.predict(served.frame.head(3)).tolist()
    proba = served.model.predict_proba(served.frame.head(3))
    answer = served.client.post(
        f"{served.url}/v1/models/credit/predict",
        json={"instances": rows(served)},
        headers={"X-Request-ID": "req-1"},
    )
    assert answer.status_code == 200 and answer.headers["x-request-id"] == "req-1"
    body = answer.json()
    assert body["predictions"] == expected
    np.testing.assert_allclose(body["probabilities"], proba)
    assert (body["model"], body["version"], body["request_id"]) == ("credit", 1, "req-1")
    head = served.frame.head(3)
    split = {"columns": list(head.columns), "data": head.astype(object).values.tolist()}
    again = served.client.post(
        f"{served.url}/v1/models/credit/predict", json={"dataframe_split": split}
    ).json()
    assert again["predictions"] == expected and len(again["request_id"]) == 32


def test_v2_one_tensor_per_column(served: Served) -> None:
    head = served.frame.head(4)
    datatypes = {
        "age": "INT64",
        "income": "FP64",
        "score": "FP64",
        "member": "BOOL",
        "city": "BYTES",
    }
    body = {
        "id": "v2-1",
        "inputs": [
            {"name": c, "shape": [4], "datatype": datatypes[c], "data": head[c].tolist()}
            for c in head.columns
        ],
    }
    answer = served.client.post(f"{served.url}/v2/models/credit/infer", json=body).json()
    assert answer["model_name"] == "credit" and answer["model_version"] == "1"
    assert answer["id"] == "v2-1"
    predict, proba = answer["outputs"]
    assert predict["data"] == served.model.predict(head).tolist()
    assert predict["datatype"] == "BYTES" and predict["shape"] == [4]
    assert proba["shape"] == [4, 2] and proba["parameters"]["classes"] == ["no", "yes"]
    np.testing.assert_allclose(np.reshape(proba["data"], (4, 2)), served.model.predict_proba(head))


@pytest.mark.parametrize("nested", [True, False])
def test_v2_single_tensor_in_signature_order(served: Served, nested: bool) -> None:
    numeric = served.frame[["age", "income", "score"]].head(5)
    values = numeric.to_numpy(dtype=float)
    data = values.tolist() if nested else values.reshape(-1).tolist()
    body = {"inputs": [{"name": "input-0", "shape": [5, 3], "datatype": "FP64", "data": data}]}
    answer = served.client.post(f"{served.url}/v2/models/numeric/infer", json=body)
    # age is an int column: FP64 values for it are refused, never cast silently
    assert answer.status_code == 422 and "'age'" in answer.json()["error"]
    ints = {
        "inputs": [
            {
                "name": "x",
                "shape": [5, 3],
                "datatype": "INT64",
                "data": numeric.astype(int).to_numpy().tolist(),
            }
        ]
    }
    assert served.client.post(f"{served.url}/v2/models/numeric/infer", json=ints).status_code == 200


V1_BAD = [
    (b"{", 400, "not valid JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    (b'{"instances": []}', 400, "non-empty list"),
    (b'{"rows": []}', 400, "unknown field(s) 'rows'"),
    (b'{"instances": [1]}', 422, "row 0 is a int"),
    (b'{"instances": [{"age": 1}]}', 422, "missing column(s) 'income'"),
    (b'{"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}', 400, "data[0]"),
    (
        b'{"instances": [{"age": 30, "income": 1.0, "score": 0.5, "member": true, "city": "x", '
        b'"zip": 1}]}',
        422,
        "unexpected column(s) 'zip'",
    ),
    (
        b'{"instances": [{"age": 30, "income": "lots", "score": 0.5, "member": true, '
        b'"city": "x"}]}',
        422,
        "'income': expected float, got string 'lots'",
    ),
    (
        b'{"instances": [{"age": 30.5, "income": 1.0, "score": 0.5, "member": true, "city": "x"}]}',
        422,
        "'age': expected int, got float 30.5",
    ),
    (
        b'{"instances": [{"age": 30, "income": null, "score": 0.5, "member": true, "city": "x"}]}',
        422,
        "'income': missing value",
    ),
    (
        b'{"instances": [{"age": 30, "income": 1e999, "score": 0.5, "member": true, "city": "x"}]}',
        400,
        "not valid JSON",
    ),
]


@pytest.mark.parametrize(("body", "status", "words"), V1_BAD)
def test_bad_plain_json_is_a_clear_4xx(
    served: Served, body: bytes, status: int, words: str
) -> None:
    answer = served.client.post(f"{served.url}/v1/models/credit/predict", content=body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


def _v2(inputs: Any) -> bytes:
    return json.dumps({"inputs": inputs}).encode()


V2_BAD = [
    (b'{"inputs": []}', 400, "non-empty list"),
    (
        _v2([{"name": "age", "shape": [2], "datatype": "INT64", "data": [1]}]),
        400,
        "holds 2 values but data has 1",
    ),
    (
        _v2([{"name": "age", "shape": [1], "datatype": "INT99", "data": [1]}]),
        400,
        "datatype 'INT99' is not one of",
    ),
    (
        _v2([{"name": "age", "shape": [1], "datatype": "INT64", "data": ["x"]}]),
        400,
        "datatype INT64 expects integers",
    ),
    (
        _v2([{"name": "age", "shape": [-1], "datatype": "INT64", "data": [1]}]),
        400,
        "non-negative integers",
    ),
    (
        _v2(
            [
                {"name": "nope", "shape": [1], "datatype": "INT64", "data": [1]},
                {"name": "age", "shape": [1], "datatype": "INT64", "data": [1]},
            ]
        ),
        400,
        "input 'nope' is not a column",
    ),
    (
        _v2([{"name": "x", "shape": [1, 5], "datatype": "FP64", "data": [1, 2, 3, 4, 5]}]),
        400,
        "send one input per column",
    ),
    (
        _v2([{"name": "age", "shape": [1], "datatype": "INT64", "data": [1]}]),
        422,
        "missing column(s) 'income'",
    ),
    (
        _v2([{"name": "age", "shape": [1], "datatype": "INT64", "data": [[1, 2]]}]),
        400,
        "holds 1 values but data has 2",
    ),
]


@pytest.mark.parametrize(("body", "status", "words"), V2_BAD)
def test_bad_v2_requests_are_a_clear_4xx(
    served: Served, body: bytes, status: int, words: str
) -> None:
    answer = served.client.post(f"{served.url}/v2/models/credit/infer", content=body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


def test_unknown_models_routes_and_big_bodies(served: Served) -> None:
    client, url = served.client, served.url
    unknown = client.post(f"{url}/v1/models/ghost/predict", json={"instances": rows(served)})
    assert (
        unknown.status_code == 404 and "served models: credit, numeric" in unknown.json()["error"]
    )
    assert (
        client.get(f"{url}/nowhere")
        .json()["error"]
        .startswith("no route /nowhere; inference is at")
    )
    huge = {"instances": rows(served) * 2_000}
    too_big = client.post(f"{url}/v1/models/credit/predict", json=huge)
    assert too_big.status_code == 413 and "larger than 64000 bytes" in too_big.json()["error"]


def test_an_off_the_shelf_v2_client_works_unmodified(served: Served) -> None:
    import tritonclient.http as triton

    client = triton.InferenceServerClient(served.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("numeric")
    numeric = served.frame[["age", "income", "score"]].head(6)
    inputs = []
    for column, datatype in (("age", "INT64"), ("income", "FP64"), ("score", "FP64")):
        tensor = triton.InferInput(column, [6], datatype)
        tensor.set_data_from_numpy(numeric[column].to_numpy(), binary_data=False)
        inputs.append(tensor)
    outputs = [triton.InferRequestedOutput("predict", binary_data=False)]
    result = client.infer("numeric", inputs, outputs=outputs)
    loaded = served.registry.load("models:/numeric/1")
    np.testing.assert_array_equal(result.as_numpy("predict"), loaded.predict(numeric))
    client.close()
