"""The OpenAPI 3.1 description of the HTTP API; served at /openapi.json and kept in the repo as docs/openapi.json."""

from __future__ import annotations

from typing import Any

from maild.core.events import EventSource, Via

_str_or_null = {"type": ["string", "null"]}
_error = {"$ref": "#/components/schemas/Error"}
_unauthorized = {"description": "Missing or wrong bearer token", "content": {"application/json": {"schema": _error}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "maild read status API",
        "version": "1",
        "description": "JSON: per ticket, reply and recipient, whether mail was delivered, read, "
        "declined, delayed or bounced. Read information is hidden for departments with read receipts off. "
        "The one change it makes is the department switch (PUT /v1/departments/{name}).",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "the token in http.token_file"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
                "additionalProperties": True,
            },
            "Failure": {
                "type": ["object", "null"],
                "properties": {
                    "status": _str_or_null,
                    "reason": _str_or_null,
                    "hard": {"type": ["boolean", "null"]},
                    "diagnostic": _str_or_null,
                    "remote_mta": _str_or_null,
                    "source": {"type": "string", "examples": ["smtp", "dsn", "bounce"]},
                    "at": {"type": "string", "format": "date-time"},
                },
            },
            "Recipient": {
                "type": "object",
                "required": ["address", "kind", "state", "delivered_at", "read_at", "failure", "read_via", "evidence"],
                "properties": {
                    "address": {"type": "string"},
                    "kind": {"enum": ["to", "cc", "bcc"]},
                    "state": {
                        "enum": ["queued", "deferred", "delivered", "delayed", "read", "declined", "deleted_unread",
                                 "bounced", "failed"]
                    },
                    "delivered_at": _str_or_null,
                    "read_at": _str_or_null,
                    "failure": {"$ref": "#/components/schemas/Failure"},
                    "read_via": {"enum": ["mdn", "reply", "pixel", None], "description": "the signal read_at comes from"},
                    "evidence": {"type": "array", "items": {"$ref": "#/components/schemas/Evidence"}},
                },
            },
            "Evidence": {
                "type": "object",
                "description": "One read signal behind a recipient's state, counted or not.",
                "required": ["signal", "event", "at", "counted", "text", "agent", "author"],
                "properties": {
                    "signal": {"enum": ["mdn", "reply", "pixel"]},
                    "event": {"type": "string", "examples": ["displayed", "denied", "replied", "opened"]},
                    "at": {"type": "string", "format": "date-time"},
                    "counted": {"type": "boolean"},
                    "text": {"type": "string", "examples": ["MDN displayed — Thunderbird 128 — 10:43", "replied 11:02"]},
                    "agent": _str_or_null,
                    "author": _str_or_null,
                },
            },
            "ThirdPartyAnswer": {
                "type": "object",
                "description": "Someone who was not a recipient answered the reply: no one's read state.",
                "required": ["author", "at"],
                "properties": {"author": _str_or_null, "at": {"type": "string", "format": "date-time"}},
            },
            "Reply": {
                "type": "object",
                "required": ["message_id", "subject", "queued_at", "state", "bounce_label", "answered_by_third_party",
                             "recipients"],
                "properties": {
                    "message_id": _str_or_null,
                    "subject": _str_or_null,
                    "queued_at": {"type": "string", "format": "date-time"},
                    "state": {"enum": ["pending", "delivered", "read_by_cc", "read_by_to", "read", "failed"]},
                    "bounce_label": {"type": "boolean"},
                    "answered_by_third_party": {
                        "type": "array", "items": {"$ref": "#/components/schemas/ThirdPartyAnswer"}
                    },
                    "recipients": {"type": "array", "items": {"$ref": "#/components/schemas/Recipient"}},
                },
            },
            "Ticket": {
                "type": "object",
                "required": ["ticket", "department", "receipts_enabled", "replies"],
                "properties": {
                    "ticket": {"type": "string"},
                    "department": _str_or_null,
                    "receipts_enabled": {"type": "boolean"},
                    "replies": {"type": "array", "items": {"$ref": "#/components/schemas/Reply"}},
                },
            },
            "Message": {
                "allOf": [
                    {"$ref": "#/components/schemas/Reply"},
                    {
                        "type": "object",
                        "properties": {
                            "ticket": _str_or_null,
                            "department": _str_or_null,
                            "receipts_enabled": {"type": "boolean"},
                        },
                    },
                ]
            },
            "Event": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "description": "stable cursor: pass as `after`"},
                    "ticket": _str_or_null,
                    "message_id": _str_or_null,
                    "recipient": {"type": "string"},
                    "recipient_kind": {"enum": ["to", "cc", "bcc"]},
                    "kind": {"type": "string", "examples": ["accepted", "bounced", "displayed"]},
                    "at": {"type": "string", "format": "date-time"},
                    "recorded_at": {"type": "string", "format": "date-time"},
                    "source": {
                        "enum": [s.value for s in EventSource],
                        "description": "what the world said: our own SMTP delivery, a DSN, an MDN, a non-standard "
                        "bounce, an auto-reply, an ARF report, the recipient's reply, the open pixel, an admin",
                    },
                    "via": {
                        "enum": [*(v.value for v in Via), None],
                        "description": "how the report reached maild; null for our own acts (smtp, admin)",
                    },
                    "status": _str_or_null,
                    "action": _str_or_null,
                    "reason": _str_or_null,
                    "hard": {"type": ["boolean", "null"]},
                    "diagnostic": _str_or_null,
                    "remote_mta": _str_or_null,
                    "reply_code": {"type": ["integer", "null"]},
                    "reporting_mta": {**_str_or_null, "description": "the DSN's Reporting-MTA"},
                    "reporting_ua": {**_str_or_null, "description": "the MDN's Reporting-UA"},
                },
            },
            "Department": {
                "type": "object",
                "required": ["name", "receipts_enabled", "explicit"],
                "properties": {
                    "name": {"type": "string", "description": "as configured or first seen"},
                    "receipts_enabled": {"type": "boolean"},
                    "explicit": {"type": "boolean", "description": "false: follows the default"},
                    "replies": {"type": "integer", "description": "tracked messages that name it"},
                    "last_switch": {
                        "type": ["object", "null"],
                        "description": "the latest switch of its read receipts (null: never switched)",
                        "required": ["receipts_enabled", "at", "by", "via"],
                        "properties": {
                            "receipts_enabled": {"type": "boolean", "description": "what it was switched to"},
                            "at": {"type": "string", "description": "when (ISO 8601 UTC)"},
                            "by": {**_str_or_null, "description": "the panel user, 'api token', or the OS user "
                                   "running `maild departments` (null when unknown)"},
                            "via": {"type": "string", "enum": ["web", "api", "cli"]},
                        },
                    },
                },
            },
            "EventPage": {
                "type": "object",
                "required": ["events", "next", "more"],
                "properties": {
                    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                    "next": {"type": "integer", "description": "cursor for the next page (hidden events included)"},
                    "more": {"type": "boolean", "description": "the page was full: fetch again right away"},
                },
            },
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/healthz": {
            "get": {
                "summary": "Liveness: the database answers",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "ok")},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "security": [], "responses": {"200": _json({"type": "object"}, "ok")}}
        },
        "/v1/openapi.json": {
            "get": {"summary": "This document", "security": [], "responses": {"200": _json({"type": "object"}, "ok")}}
        },
        "/v1/tickets/{ticket}": {
            "get": {
                "summary": "Thread read info of one ticket (as `maild status TICKET --json`), 500 replies a page",
                "parameters": [
                    {"name": "ticket", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "after", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "default": 0},
                     "description": "the next_after of the previous page: replies after it (0: from the first)"},
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 500},
                     "description": "replies at most in this answer, in thread order"},
                ],
                "responses": {
                    "200": _json(
                        {"allOf": [
                            {"$ref": "#/components/schemas/Ticket"},
                            {"type": "object", "required": ["next_after"], "properties": {
                                "next_after": {"type": ["integer", "null"],
                                               "description": "more replies: ask again with ?after= this; "
                                               "null: this page ends the thread"}}},
                        ]},
                        "the ticket, or one page of its replies",
                    ),
                    "400": _json(_error, "not 1 to 64 ASCII letters, digits, '.', '_' or '-'; or a bad after or "
                                 "limit"),
                    "401": _unauthorized,
                    "404": _json(_error, "unknown ticket"),
                },
            }
        },
        "/v1/tickets": {
            "get": {
                "summary": "Thread read info of many tickets in one call (for a helpdesk's ticket list)",
                "parameters": [
                    {"name": "ticket", "in": "query", "required": True, "style": "form", "explode": True,
                     "schema": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 200},
                     "description": "repeat for each ticket: ?ticket=A&ticket=B (up to 200)"},
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["tickets"],
                            "properties": {
                                "tickets": {
                                    "type": "array",
                                    "description": "in the order asked; an unknown ticket is {ticket, error}",
                                    "items": {"oneOf": [{"$ref": "#/components/schemas/Ticket"}, _error]},
                                }
                            },
                        },
                        "the tickets",
                    ),
                    "400": _json(_error, "no ticket, or more than 200"),
                    "401": _unauthorized,
                },
            }
        },
        "/v1/departments": {
            "get": {
                "summary": "Every department with its read-receipt switch and how many replies name it",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["default", "departments"],
                            "properties": {
                                "default": {"type": "boolean", "description": "tracking.receipts_default"},
                                "departments": {"type": "array", "items": {"$ref": "#/components/schemas/Department"}},
                            },
                        },
                        "the departments",
                    ),
                    "401": _unauthorized,
                },
            }
        },
        "/v1/departments/{name}": {
            "put": {
                "summary": "Switch a department's read receipts on or off; applies at once (as `maild departments`)",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                                "description": "matched case-insensitively"}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["receipts_enabled"],
                        "properties": {"receipts_enabled": {"type": "boolean"}},
                    }}},
                },
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Department"}, "the department as switched"),
                    "400": _json(_error, "no JSON body with a boolean receipts_enabled"),
                    "401": _unauthorized,
                },
            }
        },
        "/v1/messages/{message_id}": {
            "get": {
                "summary": "One reply by its Message-ID (angle brackets optional, URL-encoded)",
                "parameters": [{"name": "message_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Message"}, "the reply"),
                    "401": _unauthorized,
                    "404": _json(_error, "unknown message"),
                },
            }
        },
        "/v1/events": {
            "get": {
                "summary": "Events in recording order, after a cursor",
                "parameters": [
                    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                    {"name": "ticket", "in": "query", "schema": {"type": "string"}},
                    {"name": "recipient", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/EventPage"}, "one page"),
                    "400": _json(_error, "bad after or limit"),
                    "401": _unauthorized,
                },
            }
        },
    },
}
