"""web process: `mhin-web` (configuration from MHIN_* variables). Serves the pages on
MHIN_HTTP_HOST:MHIN_HTTP_PORT and follows the shared topics to keep them live."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator

import uvicorn
from prometheus_client import Gauge
from pydantic import Field
from starlette.applications import Starlette

from mhin_platform.logging import configure_logging
from mhin_platform.metrics import start_metrics_server
from mhin_platform.processes import PLATFORM
from mhin_platform.settings import ProcessSettings, SettingsError, load_settings
from mhin_web import SERVICE_NAME
from mhin_web.api import create_app
from mhin_web.app import Services
from mhin_web.events import Hub, TopicFollower

log = logging.getLogger(__name__)
OPEN_PAGES = Gauge("mhin_web_open_pages", "Pages following a series over server-sent events")
_DEFAULT = {spec.name: f"127.0.0.1:{spec.grpc_port}" for spec in PLATFORM if spec.grpc_port}


class WebSettings(ProcessSettings):
    service_name: str = SERVICE_NAME
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    metrics_port: int = Field(default=9457, ge=0, le=65535)
    # Where the services' gRPC APIs are (the same variables the CLI reads).
    needs_intake_address: str = _DEFAULT["needs-intake"]
    solution_catalogue_address: str = _DEFAULT["solution-catalogue"]
    project_tracking_address: str = _DEFAULT["project-tracking"]
    governance_address: str = _DEFAULT["governance"]
    evaluation_address: str = _DEFAULT["evaluation"]

    def addresses(self) -> dict[str, str]:
        return {name: getattr(self, name.replace("-", "_") + "_address") for name in _DEFAULT}


def build(settings: WebSettings) -> Starlette:
    """The ASGI app with its lifespan: channels opened, topics followed; a follower
    that dies stops the process (health first), as a dead consumer stops a service."""
    hub = Hub()
    OPEN_PAGES.set_function(lambda: hub.open_pages)
    follower = TopicFollower(settings.kafka_bootstrap_servers, hub)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # gRPC's asyncio channels belong to the loop that serves: opened here.
        services = app.state.services = Services(settings.addresses())
        task = asyncio.create_task(follower.run(), name="topic-follower")

        def stop_if_dead(done: asyncio.Task) -> None:
            if not done.cancelled() and done.exception() is not None:
                log.error("the topic follower died: %r; stopping", done.exception())
                follower.ready.clear()
                server = getattr(app.state, "server", None)
                if server is not None:
                    server.should_exit = True

        task.add_done_callback(stop_if_dead)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await services.close()

    return create_app(hub, follower.ready.is_set, lifespan=lifespan)


def main() -> None:
    try:
        settings = load_settings(WebSettings)
    except SettingsError as error:
        sys.exit(str(error))
    configure_logging(settings.service_name, settings.log_level)
    if settings.metrics_port:
        start_metrics_server(settings.metrics_port, settings.http_host)
    app = build(settings)
    server = uvicorn.Server(uvicorn.Config(
        app, host=settings.http_host, port=settings.http_port, log_config=None,
        proxy_headers=True, timeout_graceful_shutdown=5))
    app.state.server = server
    server.run()
    if not app.state.follower_ready():
        sys.exit(1)


if __name__ == "__main__":
    main()
