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


def _ticket_values() -> list[str]:
    """Tickets a random draw seldom makes, by class: each printable ASCII character alone and leading a number,
    each leading digit, the tickets that exist, non-ASCII digits and lengths around any limit."""
    printable = [chr(c) for c in range(0x20, 0x7F)]
    return sorted({
        *printable, *(c + "1234" for c in printable), *(d * 6 for d in "0123456789"),
        "1", "2", "\u0661\u0662\u0663", "\uff11\uff12", "9" * 64, "9" * 65, "1" * 1000, "1\u00e9", "",
    })


def test_every_ticket_class_is_answered_without_a_server_error(live) -> None:  # noqa: ANN001
    """Random requests miss a fault that only a class of tickets hits (say every ticket starting with "9"), so each
    class is requested explicitly, on every operation that takes a ticket, with and without the token."""
    maild, token = live
    base = f"http://127.0.0.1:{maild.http_port}"
    config = schemathesis.Config.from_dict({"base-url": base})
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", config=config)
    operations = {op.path: op for op in (result.ok() for result in schema.get_all_operations())}
    by_path = operations["/v1/tickets/{ticket}"]
    many, events = operations["/v1/tickets"], operations["/v1/events"]
    for headers in ({"Authorization": f"Bearer {token}"}, {}):
        for ticket in _ticket_values():
            cases = [many.Case(query={"ticket": [ticket, "1"]}), events.Case(query={"ticket": ticket})]
            if ticket:  # an empty path segment is another route
                cases.append(by_path.Case(path_parameters={"ticket": ticket}))
            for case in cases:
                case.call_and_validate(headers=headers, checks=CHECKS)
