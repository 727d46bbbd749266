"""Fixtures of the browser tests: chromium, and `cited serve` on a small corpus."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.helpers.cli import run_cited
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, Tab, new_tab
from tests.web.corpus import write_web_corpus
from tests.web.serving import serve_corpus


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"no chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)"
        if os.environ.get("CITED_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The web corpus ingested once by `cited ingest`; each server starts from a copy."""
    top = tmp_path_factory.mktemp("ingested")
    folder = write_web_corpus(top / "in")
    result = run_cited(top / "data", "ingest", str(folder))
    assert result.returncode == 0, result.stderr
    return top


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, ingested: Path) -> Iterator[SimpleNamespace]:
    """The server most page tests share."""
    yield from serve_corpus(ingested, tmp_path_factory.mktemp("site"))


@pytest.fixture
def tab(browser: Browser, site: SimpleNamespace, tmp_path: Path) -> Iterator[Tab]:
    """The page on a desktop screen, opened; fails the test on a script error or CSP
    violation."""
    context, tab = new_tab(browser, site.base, tmp_path)
    tab.open()
    yield tab
    tab.check()
    context.close()
