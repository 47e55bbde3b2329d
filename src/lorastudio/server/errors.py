"""One JSON error shape for every endpoint, pages and /v1 included:

    {"error": {"code": "not_found", "message": "...", "fix": "..." | null,
               "details": {"key": "not_found.dataset", "params": {...}, ...}}}

`code` is stable (a family: not_found, config_error, ...). `details.key` and `details.params`
name the message in the catalogue (locales/*.json, `error.<key>` and `error.<key>.fix`), so the
pages render it in their own language. `message` and `fix` are in the request's language
(Accept-Language or ?lang=zh-CN) when the catalogue has the message; a core error without a key
keeps its English text, and the pages put the headline of its code above it. The OpenAI client
reads `error.message` from this same shape, so /v1 needs no second one.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import i18n
from ..errors import ConfigError, DataError, ModelError, PlanRefused, RunError, StudioError
from ..serving.registry import NameTaken, NotFound


def request_lang(request: Request) -> str:
    return i18n.header_lang(request.query_params.get("lang") or request.headers.get("accept-language", ""))


def wants_zh(request: Request) -> bool:
    return request_lang(request) == "zh"


def text(key: str, lang: str, params: dict | None = None) -> str | None:
    """`error.<key>` in `lang`, or None when the catalogue has no such message."""
    full = f"error.{key}"
    return i18n.t(full, lang, surface="web", **(params or {})) if i18n.has(full, lang) else None


class ApiError(Exception):
    """An error the server itself raises, by catalogue key:

        ApiError(409, "conflict", key="conflict.run_exists", params={"name": name})

    The message is `error.<key>` (default: `error.<code>`) in the request's language; an English
    text given as well (`en`, `fix_en`) is kept for English requests, where it can say more than
    the page's wording (a CLI alternative, say). The older form with both texts written out and
    no key (`ApiError(409, "busy", en, zh, ...)`) is still accepted."""

    def __init__(self, status: int, code: str, en: str | None = None, zh: str | None = None, fix_en: str | None = None,
                 fix_zh: str | None = None, details: dict | None = None, *, key: str | None = None,
                 params: dict | None = None):
        self.key = key or (None if en is not None else code)
        self.params = params or {}
        super().__init__(en or text(self.key, "en", self.params) or code)
        self.status, self.code, self.en, self.zh = status, code, en, zh
        self.fix_en, self.fix_zh, self.details = fix_en, fix_zh, details or {}

    def render(self, lang: str) -> tuple[str, str | None, dict]:
        if self.key is None:  # the older, written-out form
            zh = lang == "zh"
            return (self.zh if zh else self.en), (self.fix_zh if zh else self.fix_en), self.details
        details = {**self.details, "key": self.key, "params": self.params}
        if lang == "en" and self.en:
            return self.en, self.fix_en, details
        return text(self.key, lang, self.params) or str(self), text(self.key + ".fix", lang, self.params), details


def body(code: str, message: str, fix: str | None = None, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fix": fix, "details": details or {}}}


def keyed_body(code: str, key: str, lang: str, params: dict | None = None, details: dict | None = None) -> dict:
    """The shape for a catalogue message, outside an exception handler (middleware, streams)."""
    params = params or {}
    return body(code, text(key, lang, params) or key, text(key + ".fix", lang, params),
                {**(details or {}), "key": key, "params": params})


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

# status -> (code, catalogue key, English text as before)
HTTP_CODES = {
    400: ("bad_request", "bad_request", "Bad request"),
    401: ("unauthorized", "unauthorized", "A valid token is required"),
    403: ("forbidden", "forbidden", "Forbidden"),
    404: ("not_found", "not_found.path", "Not found: {path}"),
    405: ("method_not_allowed", "method_not_allowed", "Method {method} is not allowed on {path}"),
    413: ("too_large", "too_large", "Request body too large"),
    415: ("unsupported_media_type", "unsupported_media_type", "Unsupported media type"),
}


def studio_details(e: StudioError) -> dict:
    d = e.to_dict()
    d.pop("message", None)
    d.pop("fix", None)
    if isinstance(e, PlanRefused):
        d["findings"] = [f.to_dict() if hasattr(f, "to_dict") else f for f in e.findings]
    if isinstance(e, ConfigError) and e.option:
        d["option"] = e.option
    if e.key:
        d["key"], d["params"] = e.key, e.params
    if getattr(e, "fields", None):
        d["fields"] = e.fields
    return d


def fields_text(fields: list[dict], lang: str) -> str:
    """「学习率」：必须是数字；… for the fields a config refused."""
    def one(f: dict) -> str:
        label = i18n.catalogue(lang).get(f"field.{f['field']}", f["field"])
        why = i18n.t(f"validation.{f['why']}", lang, surface="web", **(f.get("params") or {}))
        return i18n.t("validation.field", lang, surface="web", field=label, why=why)
    return ("；" if lang == "zh" else "; ").join(one(f) for f in fields)


def studio_body(e: StudioError, lang: str) -> tuple[int, dict]:
    """A core error: its English text, or the catalogue's in Chinese when it has a key."""
    status, code = next((s, c) for t, s, c in STUDIO_STATUS if isinstance(e, t))
    message, fix = e.message, e.fix
    if e.key and lang != "en":
        if getattr(e, "fields", None):
            e.params = {**e.params, "where": fields_text(e.fields, lang)}
        message = text(e.key, lang, e.params) or message
        fix = text(e.key + ".fix", lang, e.params) or (None if text(e.key, lang, e.params) else fix)
    elif isinstance(e, DataError) and lang != "en":
        message = text("data_error", lang, {"total": e.total}) or message
    return status, body(code, message, fix, studio_details(e))


def _clean_validation(errors: list[dict]) -> list[dict]:
    out = []
    for e in errors:
        out.append({"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, e: ApiError):
        message, fix, details = e.render(request_lang(request))
        return JSONResponse(body(e.code, message, fix, details), e.status)

    @app.exception_handler(StudioError)
    async def _studio(request: Request, e: StudioError):
        status, payload = studio_body(e, request_lang(request))
        return JSONResponse(payload, status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, e: RequestValidationError):
        errors = _clean_validation(e.errors())
        where = "; ".join(f"{'.'.join(x['loc'][1:]) or x['loc'][0] if x['loc'] else 'body'}: {x['msg']}" for x in errors[:5])
        lang = request_lang(request)
        return JSONResponse(keyed_body("invalid_request", "invalid_request.fields", lang, {"where": where},
                                       {"errors": errors}), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException):
        code, key, en = HTTP_CODES.get(e.status_code, ("http_error", "http_error", str(e.detail)))
        lang = request_lang(request)
        params = {"path": request.url.path, "method": request.method}
        message = en.format(**params) if lang == "en" else (text(key, lang, params) or en.format(**params))
        fix = None
        if e.status_code == 400:  # the framework could not read the body: say so, and what it takes
            message += f": {e.detail}" if e.detail and str(e.detail) != "Bad Request" else ""
            fix = text("bad_request.fix", lang)
        return JSONResponse(body(code, message, fix, {"status": e.status_code, "key": key, "params": params}),
                            e.status_code, headers=e.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception):
        lang = request_lang(request)
        return JSONResponse(keyed_body("internal_error", "internal_error", lang, {"detail": f"{type(e).__name__}: {e}"}), 500)
