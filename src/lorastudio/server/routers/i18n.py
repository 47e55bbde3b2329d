"""What the pages need to speak and check like the CLI: the message catalogue and the config schema."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from ... import i18n
from ...config import TrainConfig

router = APIRouter(tags=["pages"])


@router.get("/i18n/{lang}")
def catalogue(lang: str = PathParam(..., pattern=r"^(en|zh)([-_][A-Za-z]{2,4})?$",
                                    description="en or zh (zh-CN and the like are zh)")) -> JSONResponse:
    """Every message in one language (locales/{en,zh}.json): the same texts the CLI prints."""
    return JSONResponse(i18n.catalogue(i18n.normalize(lang)), headers={"Cache-Control": "no-cache"})


@router.get("/config/schema")
def config_schema() -> dict:
    """TrainConfig's JSON schema: each field's type and bounds, which the form checks before any request."""
    return TrainConfig.model_json_schema()
