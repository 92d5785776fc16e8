"""The OpenAPI 3 document lists every endpoint with its security; the docs page renders."""

from __future__ import annotations

import pytest

PUBLIC = {("post", "/api/v1/auth/login"), ("post", "/api/v1/devices/enroll"),
          ("get", "/healthz"), ("get", "/readyz"), ("options", "/api/v1/uploads/")}
#: Open unless FIELDSYNC_METRICS_TOKEN is set: no credentials, or that token.
METRICS_SECURITY = [{}, {"metricsToken": []}]
PEOPLE_AND_DEVICES = [
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/api/v1/teams"),
    ("post", "/api/v1/teams"),
    ("get", "/api/v1/teams/{team_id}"),
    ("patch", "/api/v1/teams/{team_id}"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{user_id}"),
    ("post", "/api/v1/users/{user_id}/deactivate"),
    ("get", "/api/v1/devices"),
    ("post", "/api/v1/devices"),
    ("post", "/api/v1/devices/enroll"),
    ("get", "/api/v1/devices/{device_id}"),
    ("post", "/api/v1/devices/{device_id}/tokens"),
    ("post", "/api/v1/devices/{device_id}/revoke"),
]


@pytest.fixture(scope="module")
def spec(app) -> dict:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def test_the_document_is_openapi_3_with_bearer_auth(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]


@pytest.mark.parametrize("method, path", PEOPLE_AND_DEVICES)
def test_people_and_device_endpoints_are_documented_with_a_summary(spec, method, path):
    operation = spec["paths"][path][method]
    assert operation["summary"]
    assert operation["responses"]


def test_every_endpoint_states_its_security(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            security = operation.get("security", spec["security"])
            if (method, path) in PUBLIC:
                assert security == [], (method, path)
            elif path == "/metrics":
                assert security == METRICS_SECURITY, (method, path)
            else:
                assert security == [{"bearerAuth": []}], (method, path)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_health_and_metrics_are_documented_with_the_media_type_they_serve(spec, client, path):
    operation = spec["paths"][path]["get"]
    served = client.get(path)
    assert served.status_code == 200
    assert operation["summary"]
    assert list(operation["responses"]["200"]["content"]) == [served.headers["Content-Type"]]


def test_readiness_and_metrics_document_their_failure_answers(spec):
    assert "application/problem+json" in spec["paths"]["/readyz"]["get"]["responses"]["503"][
        "content"]
    assert "application/problem+json" in spec["paths"]["/metrics"]["get"]["responses"]["401"][
        "content"]
    assert spec["components"]["securitySchemes"]["metricsToken"]["scheme"] == "bearer"


def test_error_answers_are_documented_as_problem_documents(spec):
    """They were documented as flask-smorest's application/json {code: int, message} error."""
    responses = spec["components"]["responses"]
    conflict = spec["paths"]["/api/v1/teams"]["post"]["responses"]["409"]
    for response in (responses["DEFAULT_ERROR"], responses["UNPROCESSABLE_ENTITY"], conflict):
        assert list(response["content"]) == ["application/problem+json"]
        assert response["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"}
    problem = spec["components"]["schemas"]["Problem"]
    assert problem["properties"]["code"]["type"] == "string"
    assert problem["properties"]["status"]["type"] == "integer"


def test_the_kpi_report_documents_its_csv_form(spec):
    content = spec["paths"]["/api/v1/reports/kpis"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}


def test_login_documents_its_single_failure_answer(spec):
    responses = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert "invalid_credentials" in responses["401"]["description"]


def test_the_docs_page_renders_swagger_ui(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "swagger-ui" in response.get_data(as_text=True)
    assert "/api/v1/openapi.json" in response.get_data(as_text=True)


def test_the_docs_page_loads_swagger_ui_from_this_server(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in page

    script = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")

    assert script.status_code == 200
    assert script.mimetype in ("text/javascript", "application/javascript")
    assert len(script.get_data()) > 100_000
