"""Fixtures for browser tests: the dev server, JupyterLab and Chromium, once per module."""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from .lab import CHROMIUM, CHROMIUM_ARGS, REPO, Lab, start_lab

USER = "reporter"


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (Debian package chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright Python package is not installed"
    if importlib.util.find_spec("jupyterlab") is None:
        return "jupyterlab is not installed (tellakit[lab])"
    return None


@pytest.fixture(scope="module")
def devserver_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """A development server with a user for the app, as `tellakit lab` would start it."""
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from tellakit.devserver import DevServer

    password = secrets.token_urlsafe(18)
    srv = DevServer(tmp_path_factory.mktemp("browser-devserver"), users={USER: password})
    srv.start()
    try:
        yield srv, password
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def lab(devserver_lab: tuple[Any, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab with the app notebook, its kernels pointed at the development server."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    srv, password = devserver_lab
    scratch = tmp_path_factory.mktemp("jupyterlab")
    env = {
        "TELLAKIT_DEVSERVER_URL": srv.url,
        "TELLAKIT_DEVSERVER_USER": USER,
        "TELLAKIT_DEVSERVER_PASSWORD": password,
        "TELLAKIT_LAB_HOME": str(scratch / "lab-home"),
    }
    # TELLAKIT_TEST_KERNEL_PYTHON: check another kernel environment (say, one with ipykernel 6).
    running = start_lab(
        scratch,
        env,
        [REPO / "notebooks" / "01-field-reports.ipynb"],
        kernel_python=os.environ.get("TELLAKIT_TEST_KERNEL_PYTHON"),
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(lab: Lab) -> Iterator[Any]:
    """Debian's Chromium, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, lab: Lab) -> Iterator[Any]:
    """A fresh page; kernels of earlier tests are stopped first."""
    lab.shutdown_kernels()
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        context.close()
