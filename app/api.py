"""The project's flask-smorest ``Api``, ``Blueprint``, ``Schema`` and pagination.

Differences from flask-smorest's defaults, all deliberate:
- errors are ``{code, message, errors?, request_id}`` with a string ``code`` (spec too);
- a JSON body sent with another content type is a 415, invalid JSON a 400 ``malformed_json``,
  JSON nested deeper than ``app.json_input.MAX_DEPTH`` a 400 ``json_too_deep``;
- a query parameter that takes one value, given twice, is a 422 naming it (not first-wins);
- a field refused only for bidi/zero-width characters is a 422 ``text_control_chars``;
- validation errors are keyed by field name, not by request location;
- pagination metadata lives in the body, and a ``page_size`` above the maximum is a 422.
"""
from __future__ import annotations

import http
import logging
from collections.abc import Callable
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import Response, jsonify, request
from flask_smorest import arguments as smorest_arguments
from flask_smorest.spec.plugins import integerconverter2paramschema
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from app import fields, json_input
from app.errors import ERRORS, ApiError, message_for
from app.request_context import request_id

log = logging.getLogger("app.errors")

HTTP_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    431: "headers_too_large",
    503: "unavailable",
}


class Schema(ma.Schema):
    """Base schema: unknown fields are errors naming the field."""

    class Meta:
        unknown = ma.RAISE


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable machine code", "example": "not_found"})
    message = fields.String(required=True, metadata={"description": "Chinese (or English) message"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "messages per field (dotted for nested fields)"},
    )
    request_id = fields.String(required=True)


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow nested messages → {"a.b.0": ["msg"]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_messages(value, name))
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            out[prefix or "_schema"] = list(messages)
        else:
            for m in messages:
                for k, v in flatten_messages(m, prefix).items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


REPEATED_PARAMETER_MESSAGE = "该参数只能提供一个值。"


class Parser(FlaskParser):
    """webargs parser raising project errors."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "querystring": ma.RAISE, "query": ma.RAISE,
    }

    def _raw_load_json(self, req: Any) -> Any:
        data = req.get_data(cache=True)
        if not data:
            return webargs_core.missing
        if not webargs_core.is_json(req.mimetype):
            raise ApiError("unsupported_media_type")
        try:
            return json_input.loads(data)
        except json_input.JsonTooDeep as exc:
            raise ApiError("json_too_deep") from exc
        except ValueError as exc:  # UnicodeDecodeError included
            raise ApiError("malformed_json") from exc

    def load_querystring(self, req: Any, schema: ma.Schema) -> Any:
        """The query string, refusing a parameter repeated where the schema takes one value."""
        proxy = super().load_querystring(req, schema)
        known = {f.data_key or name for name, f in schema.fields.items()}
        repeated = sorted(k for k, values in req.args.lists()
                          if len(values) > 1 and k in known and k not in proxy.multiple_keys)
        if repeated:
            raise ApiError("validation_error", errors={k: [REPEATED_PARAMETER_MESSAGE] for k in repeated})
        return proxy

    def handle_error(self, error: ma.ValidationError, req: Any, schema: Any, *,
                     error_status_code: int | None, error_headers: Any) -> Any:
        messages = error.messages
        if isinstance(messages, dict) and len(messages) == 1:
            (location, inner), = messages.items()
            if location in {"json", "query", "querystring", "form", "files", "headers", "view_args", "path"}:
                messages = inner
        errors = flatten_messages(messages)
        only_controls = all(m == fields.MISLEADING_CHARS_MESSAGE for msgs in errors.values() for m in msgs)
        raise ApiError("text_control_chars" if errors and only_controls else "validation_error", errors=errors)


def error_response(err: ApiError) -> Response:
    lang = "en" if request.accept_languages.best_match(["zh", "en"]) == "en" else "zh"
    body: dict[str, Any] = {
        "code": err.code,
        "message": err.message or message_for(err.code, lang),
        "request_id": request_id(),
    }
    if err.errors:
        body["errors"] = err.errors
    if err.detail:
        body.update(err.detail)
    resp = jsonify(body)
    resp.status_code = err.status
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp


def api_error_from_http(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    code = HTTP_STATUS_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    if status == 429 and exc.get_response().headers.get("Retry-After"):
        headers["Retry-After"] = exc.get_response().headers["Retry-After"]
    return ApiError(code, status=status if code in ERRORS else None, headers=headers)


class Int64Converter(IntegerConverter):
    """``<int:…>`` path segments that fit a 64-bit id: a bigger number is a 404, not a
    database overflow (a 500)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", fields.INT64_MAX)
        super().__init__(map, *args, **kwargs)


def install_int64_converter(app: Any, api: flask_smorest.Api) -> None:
    """Make ``int`` path converters 64-bit bounded, in routing and in the spec."""
    app.url_map.converters["int"] = Int64Converter
    api.register_converter(Int64Converter, integerconverter2paramschema)


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return error_response(api_error_from_http(error))

    def _register_error_handlers(self) -> None:
        app = self._app
        app.register_error_handler(HTTPException, self.handle_http_exception)
        app.register_error_handler(ApiError, error_response)
        app.register_error_handler(Exception, unhandled)


def unhandled(exc: Exception) -> Response:
    """A crash: logged with its traceback, answered 500 ``internal_error``."""
    log.exception("unhandled error", extra={"request_id": request_id()})
    return error_response(ApiError("internal_error"))


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Callable:
        """Also documents the 400/415 that a JSON body can produce. A schema class is instantiated
        here, once: webargs would build one per request (~0.1 ms; schemas keep no request state)."""
        if isinstance(schema, type):
            schema = schema()
        decorator = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return decorator

        def wrapper(func: Callable) -> Callable:
            func = decorator(func)
            responses = func._apidoc.setdefault("response", {}).setdefault("responses", {})
            for status in (400, 415):  # flask-smorest wants a list of response docs per status
                if status not in responses:
                    responses[status] = [{"description": http.HTTPStatus(status).phrase, "schema": ErrorSchema,
                                          "content_type": None}]
            return func

        return wrapper


smorest_arguments.ArgumentsMixin.ARGUMENTS_PARSER = Blueprint.ARGUMENTS_PARSER

# ---------------------------------------------------------------- pagination

MAX_PAGE_SIZE = 100


class PageArgs(Schema):
    page = fields.Integer(load_default=1, strict=False, validate=ma.validate.Range(min=1, max=100_000))
    page_size = fields.Integer(
        load_default=20, strict=False, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE)
    )


_page_schemas: dict[str, type[Schema]] = {}


def page_of(item_schema: type[ma.Schema], name: str | None = None) -> type[Schema]:
    """A response schema ``{items: [...], page, page_size, total}`` for ``item_schema``."""
    name = name or item_schema.__name__.removesuffix("Schema") + "PageSchema"
    if name not in _page_schemas:
        _page_schemas[name] = type(name, (Schema,), {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "page": fields.Integer(required=True),
            "page_size": fields.Integer(required=True),
            "total": fields.Integer(required=True),
        })
    return _page_schemas[name]


def paginate(session: Session, stmt: Select, args: dict[str, Any], *, rows: bool = False) -> dict[str, Any]:
    """Run ``stmt`` (already ordered) for one page and count the total. ``rows``: the page as
    rows (a query of columns) instead of its first column (a query of ORM objects)."""
    page, size = args["page"], args["page_size"]
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    limited = stmt.limit(size).offset((page - 1) * size)
    items = session.execute(limited).all() if rows else session.scalars(limited).all()
    return {"items": items, "page": page, "page_size": size, "total": total or 0}


__all__ = ["Api", "Blueprint", "PageArgs", "Schema", "fields", "page_of", "paginate"]
