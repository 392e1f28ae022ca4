"""What every API handler answers the same way: JSON with `Cache-Control: no-store`, a JSON 500
with the request id instead of API Gateway's bare 502, and a 404 that lists the routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response


def json_response(
    status_code: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    # The resources behind these APIs change under the client's feet: no cache may keep them.
    return Response(
        status_code=status_code,
        content_type="application/json",
        body=dict(body),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def install_common_handlers(
    app: APIGatewayRestResolver,
    logger: Logger,
    *,
    routes: str,
    configuration_error: type[Exception],
) -> None:
    """Register the answers for a misconfigured function, an unexpected error and an unknown
    route (`routes` is how the 404 lists the API's routes)."""

    @app.exception_handler(configuration_error)
    def _misconfigured(error: Exception) -> Response:
        logger.error("Function misconfigured", extra={"reason": str(error)})
        return json_response(500, {"error": "ConfigurationError", "message": str(error)})

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        # The traceback goes to the log under the same request id the client gets.
        logger.exception("Unhandled error")
        request_id = getattr(app.lambda_context, "aws_request_id", None)
        return json_response(500, {"error": "InternalError", "requestId": request_id})

    @app.not_found
    def _no_route(_: Exception) -> Response:
        event = app.current_event
        return json_response(
            404,
            {
                "error": "NotFound",
                "message": f"No route for {event.http_method} {event.path}. Routes: {routes}.",
            },
        )


#: The parts of a REST proxy event that are objects (or null) whenever API Gateway sends it.
_OBJECT_PARTS: tuple[str, ...] = (
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "requestContext",
)


def malformed_event(event: object) -> dict[str, Any] | None:
    """A JSON 400 naming the part of the event that is not the shape API Gateway sends (a list
    where the headers object belongs, say), before any code reads it; None for a well-formed
    event. Only a hand-made or corrupted event gets here: the answer names the part so its
    sender can fix it, instead of a 500 from deep inside the router."""
    import json

    if not isinstance(event, Mapping):
        problem = {"field": "event", "expected": "an API Gateway REST proxy event (an object)"}
    else:
        bad = next(
            (
                part
                for part in _OBJECT_PARTS
                if event.get(part) is not None and not isinstance(event.get(part), Mapping)
            ),
            None,
        )
        if bad is None:
            return None
        problem = {"field": bad, "expected": "an object or null, as API Gateway sends it"}
    return {
        "statusCode": 400,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        # The shape of every other refusal (task_model.ValidationError.to_dict).
        "body": json.dumps(
            {
                "error": "InvalidRequest",
                **problem,
                "message": f"{problem['field']}: expected {problem['expected']}",
            }
        ),
        "isBase64Encoded": False,
    }
