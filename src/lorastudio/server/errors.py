"""One JSON error shape for every endpoint, pages and /v1 included:

    {"error": {"code": "not_found", "message": "...", "fix": "..." | null, "details": {...}}}

`code` is stable (the pages translate it); `message` is in the request's language when the
server wrote it (Accept-Language or ?lang=zh-CN), and in English when it comes from the core
(a `StudioError`: the pages show a translated headline for its code above it). The OpenAI
client reads `error.message` from this same shape, so /v1 needs no second one.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ConfigError, DataError, ModelError, PlanRefused, RunError, StudioError
from ..serving.registry import NameTaken, NotFound


def wants_zh(request: Request) -> bool:
    lang = request.query_params.get("lang") or request.headers.get("accept-language", "")
    return lang.lower().startswith("zh")


class ApiError(Exception):
    """An error the server itself raises, worded in both languages."""

    def __init__(self, status: int, code: str, en: str, zh: str, fix_en: str | None = None,
                 fix_zh: str | None = None, details: dict | None = None):
        super().__init__(en)
        self.status, self.code, self.en, self.zh = status, code, en, zh
        self.fix_en, self.fix_zh, self.details = fix_en, fix_zh, details or {}


def body(code: str, message: str, fix: str | None = None, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fix": fix, "details": details or {}}}


# (status, code) per core error type; the first match wins, so subclasses come first.
STUDIO_STATUS: tuple[tuple[type, int, str], ...] = (
    (NotFound, 404, "not_found"),
    (NameTaken, 409, "conflict"),
    (PlanRefused, 422, "plan_refused"),
    (DataError, 422, "data_error"),
    (ConfigError, 422, "config_error"),
    (ModelError, 422, "model_error"),
    (RunError, 409, "run_error"),
    (StudioError, 400, "studio_error"),
)

HTTP_CODES = {
    400: ("bad_request", "Bad request", "请求有误"),
    401: ("unauthorized", "A valid token is required", "需要有效的令牌"),
    403: ("forbidden", "Forbidden", "禁止访问"),
    404: ("not_found", "Not found: {path}", "未找到：{path}"),
    405: ("method_not_allowed", "Method {method} is not allowed on {path}", "{path} 不支持 {method} 方法"),
    413: ("too_large", "Request body too large", "请求内容过大"),
    415: ("unsupported_media_type", "Unsupported media type", "不支持的内容类型"),
}


BAD_BODY_FIX = {
    False: "send a well-formed body: JSON in UTF-8 with Content-Type application/json (uploads: multipart/form-data "
           "with a 'file' part); the schema is at /docs",
    True: "请发送格式正确的请求体：UTF-8 编码的 JSON（Content-Type: application/json；上传文件用 multipart/form-data 的 file 字段）；"
          "接口说明见 /docs",
}


def studio_details(e: StudioError) -> dict:
    d = e.to_dict()
    d.pop("message", None)
    d.pop("fix", None)
    if isinstance(e, PlanRefused):
        d["findings"] = [f.to_dict() if hasattr(f, "to_dict") else f for f in e.findings]
    if isinstance(e, ConfigError) and e.option:
        d["option"] = e.option
    return d


def _clean_validation(errors: list[dict]) -> list[dict]:
    out = []
    for e in errors:
        out.append({"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, e: ApiError):
        zh = wants_zh(request)
        return JSONResponse(body(e.code, e.zh if zh else e.en, (e.fix_zh if zh else e.fix_en), e.details), e.status)

    @app.exception_handler(StudioError)
    async def _studio(request: Request, e: StudioError):
        status, code = next((s, c) for t, s, c in STUDIO_STATUS if isinstance(e, t))
        return JSONResponse(body(code, e.message, e.fix, studio_details(e)), status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, e: RequestValidationError):
        errors = _clean_validation(e.errors())
        where = "; ".join(f"{'.'.join(x['loc'][1:]) or x['loc'][0] if x['loc'] else 'body'}: {x['msg']}" for x in errors[:5])
        zh = wants_zh(request)
        msg = f"请求参数无效：{where}" if zh else f"invalid request: {where}"
        fix = "按提示修改后重试" if zh else "correct the fields named above and send again"
        return JSONResponse(body("invalid_request", msg, fix, {"errors": errors}), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException):
        code, en, zh = HTTP_CODES.get(e.status_code, ("http_error", str(e.detail), str(e.detail)))
        zh_wanted = wants_zh(request)
        text = (zh if zh_wanted else en).format(path=request.url.path, method=request.method)
        fix = None
        if e.status_code == 400:  # the framework could not read the body: say so, and what it takes
            text += f": {e.detail}" if e.detail and str(e.detail) != "Bad Request" else ""
            fix = BAD_BODY_FIX[zh_wanted]
        return JSONResponse(body(code, text, fix, {"status": e.status_code}), e.status_code, headers=e.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception):
        zh = wants_zh(request)
        msg = f"服务器内部错误：{type(e).__name__}: {e}" if zh else f"internal error: {type(e).__name__}: {e}"
        return JSONResponse(body("internal_error", msg, None, {}), 500)
