"""The chat example as the app takes it in: its model client for the app's lifetime, its route."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..feature import Feature
from .model import ChatModel, ChatSettings
from .router import router


@asynccontextmanager
async def open_chat_model(app: FastAPI, settings: ChatSettings) -> AsyncIterator[None]:
    app.state.chat_model = ChatModel(settings)
    try:
        yield
    finally:
        await app.state.chat_model.close()


FEATURE = Feature(routers=[router], resources=open_chat_model)
