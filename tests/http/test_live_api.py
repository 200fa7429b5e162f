"""The /v1 API of a running `maild run`, exercised from its own OpenAPI document: the document is a valid OpenAPI 3.1
description (openapi-spec-validator), and property-based requests (schemathesis) never get a 5xx and every response
matches the schema. Both with the bearer token and without it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.daemon.conftest import MaildProcess, wait_for
from tests.daemon.test_service import send

REPO = Path(__file__).resolve().parents[2]
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def live(maild: MaildProcess, sink) -> Iterator[tuple[MaildProcess, str]]:  # noqa: ANN001
    maild.start()
    for i in (1, 2):  # a ticket or two, so that 200 answers with content are generated too
        send(maild.smtp_port, i)
    wait_for(lambda: len(sink.received) == 2, what="two copies at the upstream")
    token = (maild.config.parent / "var" / "api.token").read_text().strip()
    yield maild, token
    assert maild.terminate() == 0


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def test_the_served_and_the_committed_documents_are_valid_openapi(live) -> None:  # noqa: ANN001
    maild, _ = live
    served = _get(f"http://127.0.0.1:{maild.http_port}/openapi.json")
    validate(served)  # raises with the first violation
    validate(json.loads((REPO / "docs" / "openapi.json").read_text()))


def _property(op, headers: dict[str, str]):  # noqa: ANN001, ANN202
    @given(case=op.as_strategy())
    @settings(max_examples=25, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def call(case) -> None:  # noqa: ANN001
        case.call_and_validate(headers=headers, checks=CHECKS)

    return call


def test_every_operation_never_fails_and_matches_its_schema(live) -> None:  # noqa: ANN001
    maild, token = live
    base = f"http://127.0.0.1:{maild.http_port}"
    config = schemathesis.Config.from_dict({"base-url": base})
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/tickets/{ticket}", "/v1/messages/{message_id}", "/v1/events"}
    for op in operations:
        for headers in ({"Authorization": f"Bearer {token}"}, {}, {"Authorization": "Bearer wrong-token-of-some-length"}):

            _property(op, headers)()
