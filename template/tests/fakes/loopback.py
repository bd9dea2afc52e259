"""Serve a fake's ASGI app on a free loopback port from a background thread (for tests)."""

import socket
import threading
import time
from typing import Literal, Self

import uvicorn
from fastapi import FastAPI


class LoopbackServer:
    """uvicorn in a daemon thread, on a socket bound before start (so the port is known)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        # Idle connections stay open as long as providers' front ends keep them (about a
        # minute), not uvicorn's 5 s: a server that closes a connection the client is about
        # to reuse makes a request fail with "could not be reached". The SDKs retry that in
        # production (MODEL_MAX_RETRIES); the suite runs them with no retries.
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_keep_alive=75)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> Literal[False]:
        self.stop()
        return False
