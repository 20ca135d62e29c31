"""`oscbot run`: the HTTP server and the scheduler in one process."""

from __future__ import annotations

import logging
import os

import uvicorn

from bot.ports import Clock
from bot.settings import Settings
from handlers.console.chat import ConsoleChat
from handlers.context import production_context
from handlers.http.app import create_app
from schedules.scheduler import build_scheduler


def serve(settings: Settings, *, clock: Clock) -> None:
    """Run until interrupted."""
    from rich.console import Console

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    chat = ConsoleChat(console=Console(), name_for=lambda email: email)
    ctx = production_context(config_path=settings.config_path,
                             database_url=settings.database_url, env=dict(os.environ),
                             clock=clock, chat=chat,
                             google_key=settings.google_application_credentials,
                             public_url=settings.public_url)
    scheduler = build_scheduler(ctx)
    scheduler.start()
    try:
        secret = settings.lead_webhook_secret
        app = create_app(ctx, lead_secret=secret.get_secret_value() if secret else None)
        uvicorn.run(app, host="0.0.0.0", port=settings.port, log_level="info")
    finally:
        scheduler.shutdown(wait=False)
