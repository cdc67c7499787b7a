"""Fixtures for alert tests: a real SMTP server, and the ``lakehouse`` log records."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from alert_support import Collect, Inbox, free_port


@pytest.fixture()
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture()
def lakehouse_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record of the ``lakehouse`` loggers while the test runs (fields included)."""
    handler = Collect()
    logger = logging.getLogger("lakehouse")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
