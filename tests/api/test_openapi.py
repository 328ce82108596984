"""The OpenAPI document tells the truth about the routes (schemathesis checks the rest against
a real server in CI: .ci/fuzz-api), and the reference page shows it to people."""

import re

import pytest

from app.api.openapi import undocumented_routes
from app.core.boundaries import MAX_ID
from app.core.pagination import MAX_PAGE, MAX_PER_PAGE


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").get_json()


def _params(operation: dict, where: str) -> dict[str, dict]:
    return {p["name"]: p for p in operation.get("parameters", ()) if p["in"] == where}


def test_every_api_route_is_declared_and_every_declaration_is_served(app):
    with app.app_context():
        assert undocumented_routes() == []


def test_every_path_parameter_is_declared_with_the_range_the_route_accepts(spec):
    for path, operations in spec["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, operation in operations.items():
            declared = _params(operation, "path")
            assert set(declared) == names, f"{method} {path}"
            for parameter in declared.values():
                if parameter["schema"]["type"] == "integer":
                    assert parameter["required"] and parameter["schema"]["maximum"] == MAX_ID, f"{method} {path}"


@pytest.mark.parametrize("path", ["/pledges", "/me/withdrawals", "/me/wallet/movements", "/complaints", "/investors",
                                  "/classification-requests", "/me/classification-requests", "/campaigns",
                                  "/bank-statements/{statement_id}/entries", "/disclosures/audit-log"])
def test_list_routes_are_described_as_pages_with_their_page_parameters(spec, path):
    operation = spec["paths"][path]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert schema["properties"]["items"]["type"] == "array"
    assert {"items", "page", "per_page", "total"} <= set(schema["properties"])
    query = _params(operation, "query")
    assert query["page"]["schema"]["maximum"] == MAX_PAGE
    assert query["per_page"]["schema"]["maximum"] == MAX_PER_PAGE


def test_the_instalment_schedule_is_described_as_an_array(spec):
    operation = spec["paths"]["/campaigns/{campaign_id}/instalments"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"


@pytest.mark.parametrize(("path", "method", "codes"), [
    ("/campaigns/{campaign_id}/pledges", "post", {"402", "409", "422", "429", "401", "403", "404"}),
    ("/instalments/{instalment_id}/pay", "post", {"402", "409"}),
    ("/me/withdrawals", "post", {"409"}),
    ("/complaints/{complaint_id}/respond", "post", {"409"}),
    ("/tokens", "post", {"401", "429"}),
])
def test_the_problems_a_route_answers_are_documented(spec, path, method, codes):
    responses = spec["paths"][path][method]["responses"]
    assert codes <= set(responses)
    problem = spec["components"]["responses"]["Problem409"]["content"]
    assert problem["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


@pytest.mark.parametrize("path", ["/campaigns/{campaign_id}/pledges", "/instalments/{instalment_id}/pay",
                                  "/me/withdrawals"])
def test_the_idempotency_key_header_is_declared_with_its_length(spec, path):
    header = _params(spec["paths"][path]["post"], "header")["Idempotency-Key"]
    assert header["schema"]["minLength"] == 1 and header["schema"]["maxLength"] == 255


def test_downloads_declare_their_content_types(spec):
    def media(path):
        return set(spec["paths"][path]["get"]["responses"]["200"]["content"])

    assert media("/disclosures/exports/pledges.csv") == {"text/csv"}
    assert media("/disclosures/campaigns/{campaign_id}/kiis/{version}.pdf") == {"application/pdf"}
    assert "text/csv" in media("/portfolio") and "application/json" in media("/portfolio")
    export = _params(spec["paths"]["/disclosures/exports/pledges.csv"]["get"], "query")
    assert export["from"]["required"] and export["to"]["required"]


def test_the_statement_upload_is_a_multipart_file(spec):
    body = spec["paths"]["/bank-statements"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["required"] == ["file"]


def test_campaign_filters_are_query_parameters_with_the_servers_rules(spec, client):
    query = _params(spec["paths"]["/campaigns"]["get"], "query")
    assert {"status", "category", "sdg", "country", "q", "sort", "page", "per_page"} <= set(query)
    assert query["sdg"]["schema"]["maximum"] == 17
    assert client.get("/api/v1/campaigns?sdg=18").status_code == 422
    assert client.get(f"/api/v1/campaigns?page={MAX_PAGE + 1}").status_code == 422


def test_a_real_page_has_the_envelope_the_document_promises(spec, client):
    body = client.get("/api/v1/campaigns").get_json()
    required = spec["paths"]["/campaigns"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(required["required"]) <= set(body)


def test_the_reference_page_shows_every_operation_and_is_linked_from_the_footer(spec, client):
    home = client.get("/").get_data(as_text=True)
    assert 'href="/developers/api"' in home
    response = client.get("/developers/api")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert f'id="op-{operation["operationId"]}"' in html, f"{method} {path}"
    assert "≤ 100" in html  # per_page's rule, as the server enforces it
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "assets must be served from here"
    assert "<script" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("schema", "field", "rule"), [
    ("PaymentsPledgeInput", "amount", {"minimum": 1, "maximum": 10_000_000_000_00}),
    ("WalletsWithdrawalInput", "amount", {"minimum": 1, "maximum": 10_000_000_000_00}),
    ("InvestorsInvestorProfileInput", "annual_income", {"minimum": 0}),
    ("InvestorsInvestorProfileInput", "currency", {"enum": ["EUR", "RUB"]}),
    ("InvestorsErasure", "confirm", {"enum": [True]}),
])
def test_the_document_states_the_bounds_the_server_checks(spec, schema, field, rule):
    declared = spec["components"]["schemas"][schema]["properties"][field]
    assert rule.items() <= declared.items()
