"""One JSON error shape for every endpoint: each route of the OpenAPI schema is called with a
request that must fail (a missing resource, a bad body), plus unknown paths and wrong methods."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from server_fakes import FakeEngine

from lorastudio.server import create_app



def make_app(home):
    return create_app(engine=FakeEngine(), home=home, start_runner=False, device="cpu")


def routes() -> list[tuple[str, str]]:
    import tempfile

    schema = make_app(tempfile.mkdtemp()).openapi()
    return sorted((method.upper(), path) for path, ops in schema["paths"].items() for method in ops)


# Path parameters that name nothing (or are invalid), by parameter name.
MISSING = {"name": "no-such-thing", "job_id": "987654"}
# Routes that succeed with no resource and an empty body: checked for a wrong-type body instead.
ALWAYS_OK = {("GET", "/api/health"), ("GET", "/api/datasets"), ("GET", "/api/adapters"), ("POST", "/api/adapters/scan"),
             ("GET", "/api/jobs"), ("GET", "/api/runs"), ("GET", "/api/models"), ("GET", "/api/engine"),
             ("POST", "/api/engine/load"), ("GET", "/v1/models"), ("GET", "/api/engine/template"),
             ("GET", "/api/config/schema")}


def assert_shape(r, status=None):
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    if status:
        assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "fix", "details"}, err
    assert isinstance(err["code"], str) and err["code"] and isinstance(err["message"], str) and err["message"]
    assert err["fix"] is None or isinstance(err["fix"], str)
    assert isinstance(err["details"], dict)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(make_app(tmp_path_factory.mktemp("errors") / "home")) as c:
        yield c


@pytest.mark.parametrize("method, path", routes())
def test_every_route_fails_in_the_common_shape(client, method, path):
    url = path
    for key, value in MISSING.items():
        url = url.replace("{" + key + "}", value)
    if (method, path) in ALWAYS_OK:
        if method == "GET":  # an unknown adapter, or a parameter of the wrong type
            r = client.get(url, params={"adapter": "no-such-thing"}) if "template" in path else client.delete(url)
        else:
            r = client.put(url)
        assert_shape(r)
        return
    r = client.request(method, url, content=b"{not json", headers={"content-type": "application/json"})
    assert_shape(r)


@pytest.mark.parametrize("method, url, status", [
    ("GET", "/api/no-such-route", 404),
    ("GET", "/v1/no-such-route", 404),
    ("GET", "/static/missing.js", 404),
    ("PATCH", "/api/datasets", 405),
    ("DELETE", "/v1/chat/completions", 405),
    ("GET", "/api/jobs/not-a-number", 422),
    ("POST", "/api/datasets", 422),
    ("POST", "/v1/chat/completions", 422),
])
def test_framework_errors_use_the_shape_too(client, method, url, status):
    assert_shape(client.request(method, url), status)
