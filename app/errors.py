"""The one registry of machine error codes and the exception every layer raises.

Every error body is ``{code, message, errors?, request_id}``. ``code`` is a stable string
from ``ERRORS``; ``message`` is Chinese unless the client prefers English.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorCode:
    status: int
    zh: str
    en: str


ERRORS: dict[str, ErrorCode] = {
    # generic
    "validation_error": ErrorCode(422, "请求参数有误", "The request has invalid fields."),
    "bad_request": ErrorCode(400, "请求无效", "Bad request."),
    "malformed_json": ErrorCode(400, "请求体不是有效的 JSON", "The request body is not valid JSON."),
    "unsupported_media_type": ErrorCode(415, "不支持的内容类型", "Unsupported media type."),
    "payload_too_large": ErrorCode(413, "请求内容过大", "Payload too large."),
    "unauthenticated": ErrorCode(401, "请先登录", "Authentication required."),
    "forbidden": ErrorCode(403, "无权执行此操作", "You may not do this."),
    "not_found": ErrorCode(404, "资源不存在", "Not found."),
    "method_not_allowed": ErrorCode(405, "不支持该请求方法", "Method not allowed."),
    "conflict": ErrorCode(409, "与当前状态冲突", "Conflict with the current state."),
    "precondition_failed": ErrorCode(412, "资源已被修改，请刷新后重试", "Precondition failed."),
    "precondition_required": ErrorCode(428, "缺少 If-Match 请求头", "If-Match is required."),
    "rate_limited": ErrorCode(429, "请求过于频繁，请稍后再试", "Too many requests."),
    "internal_error": ErrorCode(500, "服务器内部错误", "Internal server error."),
    "unavailable": ErrorCode(503, "服务暂不可用", "Service unavailable."),
    # idempotency
    "idempotency_in_progress": ErrorCode(
        409, "相同的请求正在处理中", "A request with this Idempotency-Key is in progress."
    ),
    "idempotency_key_reused": ErrorCode(
        422, "该幂等键已用于另一个请求", "This Idempotency-Key was used with another payload."
    ),
    # platform
    "not_ready": ErrorCode(503, "服务尚未就绪", "Not ready."),
    "outside_district": ErrorCode(422, "位置不在金山区范围内", "The location is outside Jinshan."),
    # storage (photo uploads)
    "image_invalid": ErrorCode(
        422, "图片已损坏、不完整或像素过多", "The image is corrupt, truncated or has too many pixels."
    ),
    "url_expired": ErrorCode(403, "链接已过期，请刷新后重试", "This link has expired; refresh for a new one."),
    # signed QR codes (qr/): 422 = the code itself is unacceptable; 409 = a valid code whose
    # state forbids it (already used, revoked); 503 = keys not initialised.
    "qr_malformed": ErrorCode(422, "二维码格式无效", "The code is malformed."),
    "qr_invalid_signature": ErrorCode(422, "二维码签名无效", "The code's signature is invalid."),
    "qr_unknown_key": ErrorCode(422, "二维码的签名密钥未知", "The code was signed with an unknown key."),
    "qr_wrong_type": ErrorCode(422, "这不是本系统的二维码", "This is not a code of ours."),
    "qr_expired": ErrorCode(422, "二维码已过期，请刷新", "The code has expired."),
    "qr_not_yet_valid": ErrorCode(422, "二维码尚未生效", "The code is not valid yet."),
    "qr_wrong_purpose": ErrorCode(422, "此处不受理该二维码", "This code is not accepted here."),
    "qr_replayed": ErrorCode(409, "二维码已被使用", "The code has already been used."),
    "qr_revoked": ErrorCode(409, "二维码已作废", "The code has been revoked."),
    "qr_no_signing_key": ErrorCode(503, "二维码签名密钥尚未初始化", "No QR signing key is initialised."),
}


def message_for(code: str, lang: str = "zh") -> str:
    entry = ERRORS[code]
    return entry.en if lang == "en" else entry.zh


class ApiError(Exception):
    """An error with a registered code; rendered by the handlers in ``app.api``.

    ``errors`` maps a field name (dotted for nested fields) to a list of messages.
    """

    def __init__(
        self,
        code: str,
        *,
        errors: Mapping[str, list[str]] | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        detail: Mapping[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        if code not in ERRORS:
            raise KeyError(f"unregistered error code {code!r}")
        super().__init__(code)
        self.code = code
        self.status = status or ERRORS[code].status
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers) if headers else {}
        self.detail = dict(detail) if detail else None
        self.message = message


def field_error(code: str, field: str, msg: str, **kw: Any) -> ApiError:
    """Shortcut for an error about one field."""
    return ApiError(code, errors={field: [msg]}, **kw)
