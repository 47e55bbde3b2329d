"""Shared dependencies, as `Annotated` types the routers put in their signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..serving.registry import Registry
from .jobs import JobRunner, JobStore
from .settings import Settings
from .state import EngineHolder, Studio
from .storage import DatasetStore, TokenizerCache


def get_studio(request: Request) -> Studio:
    return request.app.state.studio


def get_settings(request: Request) -> Settings:
    return request.app.state.studio.settings


def get_registry(request: Request) -> Registry:
    return request.app.state.studio.registry


def get_datasets(request: Request) -> DatasetStore:
    return request.app.state.studio.datasets


def get_tokenizers(request: Request) -> TokenizerCache:
    return request.app.state.studio.tokenizers


def get_jobs(request: Request) -> JobStore:
    return request.app.state.studio.jobs


def get_runner(request: Request) -> JobRunner:
    return request.app.state.studio.runner


def get_engine(request: Request) -> EngineHolder:
    return request.app.state.studio.engine


StudioDep = Annotated[Studio, Depends(get_studio)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
DatasetsDep = Annotated[DatasetStore, Depends(get_datasets)]
TokenizersDep = Annotated[TokenizerCache, Depends(get_tokenizers)]
JobsDep = Annotated[JobStore, Depends(get_jobs)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
EngineDep = Annotated[EngineHolder, Depends(get_engine)]
