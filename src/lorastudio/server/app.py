"""The app factory and `serve`: the web studio's pages, its JSON API and the OpenAI-compatible /v1.

    app = create_app(engine=FakeEngine(), home=tmp)     # tests: in-process, no weights
    serve(model="smollm2-135m", host="127.0.0.1", port=8000)

Binding off loopback needs a token: `serve` generates and prints one if none is given. With a
token set, every call and page needs it: `Authorization: Bearer T` (what the OpenAI client
sends with api_key=T), an `X-Studio-Token` header, or the cookie set by opening `/?token=T`.
"""

from __future__ import annotations

import json
import secrets
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from .. import i18n as i18n_lang
from . import errors
from .routers import adapters, chat, datasets, doctor, expand, exports, i18n, jobs, models, openai, plan, tune
from .routers import engine as engine_routes
from .settings import Settings, is_loopback
from .state import make_studio

STATIC = Path(__file__).parent / "static"
COOKIE = "lorastudio_token"
OPEN_PATHS = ("/api/health",)


def _send_json(status: int, payload: dict, extra_headers: list | None = None):
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return [{"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])},
            {"type": "http.response.body", "body": body}]


def _lang(scope) -> str:
    """The language of a raw ASGI request (middleware answers before FastAPI parses it)."""
    headers = dict(scope.get("headers", []))
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
    return i18n_lang.header_lang((query.get("lang") or [""])[0] or headers.get(b"accept-language", b"").decode(errors="replace"))


class TokenAuth:
    """Every request must carry the token (header, bearer or cookie) when one is set."""

    def __init__(self, app, token: str | None):
        self.app, self.token = app, token

    def _presented(self, scope) -> tuple[str | None, bool]:
        headers = {k.decode().lower(): v.decode(errors="replace") for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        if "x-studio-token" in headers:
            return headers["x-studio-token"], False
        for part in headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == COOKIE:
                return value, False
        query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
        if "token" in query:
            return query["token"][0], True
        return None, False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.token or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        given, from_query = self._presented(scope)
        if given is not None and secrets.compare_digest(given.encode(), self.token.encode()):
            if from_query and scope["method"] == "GET" and not scope["path"].startswith(("/api/", "/v1/")):
                # a page opened with ?token=: remember it in a cookie, and drop it from the address bar
                cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()
                for message in _send_json(303, {"redirect": scope["path"]}, [(b"location", scope["path"].encode()),
                                                                              (b"set-cookie", cookie)]):
                    await send(message)
                return
            return await self.app(scope, receive, send)
        payload = errors.keyed_body("unauthorized", "unauthorized", _lang(scope))
        for message in _send_json(401, payload, [(b"www-authenticate", b"Bearer")]):
            await send(message)


class BodyLimit:
    """Refuse request bodies over the upload limit: by Content-Length before reading, and by
    counting for chunked bodies (the app's answer is then replaced by a 413)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self, scope) -> list:
        mb = float(f"{self.max_bytes / (1024 * 1024):g}")
        return _send_json(413, errors.keyed_body("too_large", "too_large", _lang(scope), {"mb": mb},
                                                 {"limit_bytes": self.max_bytes}))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            for message in self._too_large(scope):
                await send(message)
            return
        seen, over = 0, False

        async def counted():
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        replaced = False

        async def guarded_send(message):
            nonlocal replaced
            if over:
                if not replaced:
                    replaced = True
                    for m in self._too_large(scope):
                        await send(m)
                return
            await send(message)

        await self.app(scope, counted, guarded_send)


def create_app(engine=None, home: str | Path | None = None, token: str | None = None, model: str | None = None,
               max_upload_mb: float | None = None, engine_loader: Callable | None = None,
               device: str | None = None, start_runner: bool = True) -> FastAPI:
    """The studio app. `engine`: a ChatEngine (or anything with its interface) to serve; when
    None, `model` is loaded on first use. `home`: the studio home (default: studio_home())."""
    settings = Settings.make(home, token, model or (getattr(engine, "model_name", None) if engine else None), max_upload_mb)
    studio = make_studio(settings, engine=engine, loader=engine_loader, device=device)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_runner:
            studio.runner.start()
        yield
        studio.runner.stop()

    app = FastAPI(title="LoRA Studio", version=__version__, lifespan=lifespan,
                  description="Fine-tune chat models with LoRA, watch them train, prove they learned, chat with them.")
    app.state.studio = studio
    errors.install(app)
    for module in (datasets, expand, plan, models, jobs, tune, adapters, exports, chat, doctor, engine_routes, i18n):
        app.include_router(module.router, prefix="/api")
    app.include_router(openai.router, prefix="/v1")

    @app.get("/api/health", tags=["engine"])
    def health() -> dict:
        return {"ok": True, "version": __version__, "max_upload_mb": settings.max_upload_mb, "auth": bool(settings.token)}

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes + 64 * 1024)
    app.add_middleware(TokenAuth, token=settings.token)
    return app


def serve(model: str | None = None, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
          home: str | Path | None = None, max_upload_mb: float | None = None) -> None:
    """Run the studio with uvicorn until Ctrl-C. Training jobs keep running after it stops.

    The address is printed once the socket accepts connections (after the app's start-up), so
    a script or a user who opens it at once is never refused."""
    import os

    import uvicorn

    if home:
        os.environ["LORASTUDIO_HOME"] = str(Path(home).expanduser().resolve())
    if not is_loopback(host) and not token:
        token = secrets.token_urlsafe(18)
    app = create_app(home=home, token=token, model=model, max_upload_mb=max_upload_mb)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"

    def announce() -> None:
        print(f"LoRA Studio {__version__}: {url}{'?token=' + token if token else ''}", flush=True)
        if token and not is_loopback(host):
            print(f"listening on {host}: every page and API call needs the token (API: 'Authorization: Bearer {token}')",
                  flush=True)
        print(f"studio home: {app.state.studio.settings.home}", flush=True)

    _announcing_server()(uvicorn.Config(app, host=host, port=port, log_level="warning"), announce).run()


def _announcing_server():
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        """uvicorn's server, calling `announce` once its sockets listen (start-up done)."""

        def __init__(self, config, announce: Callable[[], None]):
            super().__init__(config)
            self.announce = announce

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                self.announce()

    return AnnouncingServer
