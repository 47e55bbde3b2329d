"""The web studio: FastAPI app factory, routers per resource, job runner, static pages."""

from .app import create_app, serve

__all__ = ["create_app", "serve"]
