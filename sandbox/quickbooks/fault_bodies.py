"""The error bodies QBO sends, copied from recorded traffic where a recording exists.

Sources: vcr/error/*.yml (400 ValidationFault with time; 401 lowercase `fault` wrapper with epoch-ms
time; code 500 "Unsupported Operation"; 2030 "Invalid ID" without time), vcr/batch/basic.yml (610 Object
Not Found), exquickbooks-json/api_query_error.json (4000 QueryParserError). Bodies with no public
recording (throttle, 403, system fault, minor version, CDC window) follow the same envelopes and
say so where they are built.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape


def fault(time_text: str | None, message: str, detail: str, code: str, *, element: str | None = None,
          fault_type: str = "ValidationFault") -> dict[str, Any]:
    error: dict[str, Any] = {"Message": message, "Detail": detail, "code": code}
    if element is not None:
        error["element"] = element
    body: dict[str, Any] = {"Fault": {"Error": [error], "type": fault_type}}
    if time_text is not None:
        body["time"] = time_text
    return body


def query_parser_error(time_text: str, detail: str) -> dict[str, Any]:
    return fault(time_text, "Error parsing query", detail, "4000")


def query_validation_error(time_text: str, detail: str) -> dict[str, Any]:
    return fault(time_text, "Invalid query", detail, "4001")


def object_not_found(time_text: str) -> dict[str, Any]:
    return fault(time_text, "Object Not Found",
                 "Object Not Found : Something you're trying to use has been made inactive. Check the fields "
                 "with accounts, customers, items, vendors or employees.", "610", element="")


def invalid_id(value: str) -> dict[str, Any]:
    # The recorded body has no `time` field.
    return fault(None, "Invalid ID", f"Id should be a valid number. Supplied value:{value}", "2030", element="Id")


def unsupported_operation(time_text: str, path: str, full_url: str) -> dict[str, Any]:
    return fault(time_text, "Unsupported Operation",
                 f"Operation Could not find resource for relative : {path} of full path: {full_url} "
                 "is not supported.", "500")


def minor_version_fault(time_text: str, supplied: str | None) -> dict[str, Any]:
    # Not a recorded body: QBO itself now serves minor versions below 75 as 75 (Intuit blog,
    # 2025-01-21). The simulator refuses them by default so that a client that forgets to pin
    # minorversion is caught in tests.
    shown = "(none)" if supplied is None else supplied
    return fault(time_text, "Request has invalid or unsupported property",
                 f"Unsupported minorversion {shown}: minor versions 1-74 were retired on 2025-08-01; "
                 "send minorversion=75 or later", "2010", element="minorversion")


def gateway_fault(millis: int, message: str, detail: str, code: str, fault_type: str) -> dict[str, Any]:
    """The API gateway's lowercase envelope (vcr/error/401.yml), with `time` in epoch milliseconds."""
    return {"warnings": None, "intuitObject": None,
            "fault": {"error": [{"message": message, "detail": detail, "code": code, "element": None}],
                      "type": fault_type},
            "report": None, "queryResponse": None, "batchItemResponse": [], "attachableResponse": [],
            "syncErrorResponse": None, "requestId": None, "time": millis, "status": None, "cdcresponse": []}


def authentication_failed(millis: int, detail: str) -> dict[str, Any]:
    return gateway_fault(millis, "message=AuthenticationFailed; errorCode=003200; statusCode=401", detail,
                         "3200", "AUTHENTICATION")


def authorization_failed(millis: int) -> dict[str, Any]:
    # Same gateway envelope as the recorded 401; message text as QBO users report it for 403/3100.
    return gateway_fault(millis, "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", "",
                         "3100", "AUTHORIZATION")


THROTTLE_MESSAGE = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
THROTTLE_DETAIL = "The request limit was reached. Please retry after 60 seconds."


def throttle_exceeded(time_text: str) -> dict[str, Any]:
    # No public recording of a JSON 429 exists (reference/README.md); the message is the one QBO
    # users quote, the "SERVICE" type follows the gateway's uppercase types (401 uses AUTHENTICATION).
    return fault(time_text, THROTTLE_MESSAGE, THROTTLE_DETAIL, "3001", fault_type="SERVICE")


def throttle_exceeded_xml(time_text: str) -> str:
    # QBO has been seen answering a throttled JSON request with this XML document.
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{escape(time_text)}">'
            '<Fault type="SERVICE"><Error code="3001">'
            f"<Message>{escape(THROTTLE_MESSAGE)}</Message><Detail>{escape(THROTTLE_DETAIL)}</Detail>"
            "</Error></Fault></IntuitResponse>")


def system_failure(time_text: str) -> dict[str, Any]:
    return fault(time_text, "An application error has occurred while processing your request",
                 "System Failure Error: An unexpected error occurred while accessing or saving your data. "
                 "Please wait a few minutes and try again. If the problem persists, contact customer support.",
                 "10000", fault_type="SystemFault")


SERVICE_UNAVAILABLE_HTML = ("<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
                            "<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>")

GATEWAY_TIMEOUT_HTML = ("<html><head><title>504 Gateway Time-out</title></head><body>"
                        "<center><h1>504 Gateway Time-out</h1></center></body></html>")
