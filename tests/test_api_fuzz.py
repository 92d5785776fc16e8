"""Every endpoint fuzzed against the OpenAPI document the app serves (schemathesis).

For each operation, valid and invalid requests (some with the ids of real objects in the
path) must never get a 500, every error must be problem+json with a `code`, and every answer
must be one the document describes: status, media type and body. The budget is small and the
examples derandomized, so a run is repeatable; raise EXAMPLES_PER_OPERATION to hunt.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from server.errors import PROBLEM_MIMETYPE

EXAMPLES_PER_OPERATION = 25
#: These take a device token; every other endpoint an admin's access token.
DEVICE_PATHS = frozenset({"/api/v1/sync/pull", "/api/v1/sync/push", "/api/v1/auth/refresh"})
#: schemathesis's statuses for refusing invalid input, and 412: tus answers a missing or wrong
#: Tus-Resumable header with it, as the tus specification says.
REJECTION_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "412", "413", "415",
                      "422", "428", "429", "5xx"]


def errors_are_problem_documents(ctx, response, case):
    """PROTOCOL.md section 1: an error is problem+json with a stable `code` (HEAD: no body)."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.split(";")[0] == PROBLEM_MIMETYPE, \
        f"{response.status_code} answered with Content-Type {content_type!r}"
    if case.method.upper() != "HEAD":
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("code"), str), body
    return None


CHECKS = [not_a_server_error, errors_are_problem_documents, status_code_conformance,
          content_type_conformance, response_schema_conformance, negative_data_rejection]


@pytest.fixture
def api_schema(app):
    # An explicit config: no schemathesis.toml found on the way changes what runs.
    config = schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": REJECTION_STATUSES}}})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)


@pytest.fixture
def real_ids(factory) -> dict[str, str]:
    """Objects for path parameters, apart from the callers: deactivating this user or revoking
    this device must not lock the fuzzer out of the endpoints that follow."""
    team = factory.team()
    device, _ = factory.device(team=team)
    return {"team_id": str(team.id), "user_id": str(device.user_id),
            "device_id": str(device.id), "order_id": str(factory.order(team=team).id)}


@pytest.fixture
def auth_headers(factory) -> dict[str, dict[str, str]]:
    _, device_token = factory.device()
    return {"device": factory.headers(device_token),
            "staff": factory.headers(factory.access_token(factory.user("admin")))}


def requests_for(operation, real_ids: dict[str, str]):
    """Valid and invalid requests; where every path parameter has a real object, also those."""
    names = {parameter.name for parameter in operation.path_parameters}
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(mode))
        if names and names <= real_ids.keys():
            strategies.append(operation.as_strategy(
                mode, path_parameters={name: real_ids[name] for name in names}))
    return st.one_of(strategies)


def fuzz(operation, real_ids: dict[str, str], headers: dict[str, str]) -> None:
    """Send the operation's examples; the first that fails a check raises, with a curl line."""

    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None,
              deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=requests_for(operation, real_ids))
    def answers_as_documented(case):
        # On the case, not the call: the checks judge what was sent by the case's headers.
        case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(checks=CHECKS)

    answers_as_documented()


def test_every_operation_answers_as_its_openapi_document_says(
        api_schema, real_ids, auth_headers, subtests):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:
        headers = auth_headers["device" if operation.path in DEVICE_PATHS else "staff"]
        with subtests.test(operation.label):
            fuzz(operation, real_ids, headers)
