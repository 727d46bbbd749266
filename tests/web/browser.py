"""Debian's chromium driven by Playwright, and what the page tests share: a page that fails
its test on a script error or a Content-Security-Policy violation, the answer of the last
question read from the network, and the screenshot helper.

Never `playwright install`: the browser is /usr/bin/chromium from apt (.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Locator, Page, Response, Route

from tests.api.server import sse_events

CHROMIUM = Path(os.environ.get("CITED_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
SETTLED = ", ".join(
    f".answer[data-state={state}]" for state in ("verified", "abstained", "error", "stopped")
)

# Runs in the page before its scripts: records each answer's data-state as it changes, the
# length of the streamed draft as it grows, and every CSP violation.
WATCH = """
window.__states = [];
window.__draft = [];
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(
    `${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
});
new MutationObserver((records) => {
  for (const r of records) {
    if (r.type === "attributes" && r.target.classList.contains("answer")) {
      window.__states.push(r.target.dataset.state);
    }
    const draft = r.target.closest && r.target.closest(".draft");
    if (draft) window.__draft.push(draft.textContent.length);
    for (const node of r.addedNodes) {
      if (node.nodeType === 1 && node.querySelector && node.querySelector(".answer")) {
        window.__states.push(node.querySelector(".answer").dataset.state);
      }
    }
  }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
"""


@dataclass
class Tab:
    """A page of the app in its own browser context (its own sessionStorage)."""

    page: Page
    base: str
    shots: Path
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    found: list[dict[str, Any]] = field(default_factory=list)  # the last answer's passages

    def open(self) -> Tab:
        self.page.goto(self.base + "/")
        return self

    def ask(self, question: str) -> dict[str, Any]:
        """Type the question, press Enter, wait for the answer to settle; the final answer
        contract as the server sent it (its `passages` event in `found`)."""
        with self.page.expect_response(lambda r: r.url.endswith("/v1/ask")) as info:
            self.page.fill("#question", question)
            self.page.press("#question", "Enter")
        contract = final_event(info.value)
        events = sse_events(info.value.text().splitlines())
        self.found = next((data["passages"] for name, data in events if name == "passages"), [])
        self.settled().wait_for()
        return contract

    def settled(self) -> Locator:
        """The last answer, once it is no longer searching or drafting."""
        return self.page.locator(".answer").last.and_(self.page.locator(SETTLED))

    def states(self) -> list[str]:
        return list(self.page.evaluate("window.__states"))

    def screenshot(self, name: str) -> Path:
        """The page as a PNG in the test's folder; also copied to $CITED_SCREENSHOTS when
        set (`make screenshots` refreshes the README's picture that way)."""
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=path)
        wanted = os.environ.get("CITED_SCREENSHOTS")
        if wanted:
            Path(wanted).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(wanted) / path.name)
        return path

    def check(self) -> None:
        """No script error and no CSP violation happened on the page."""
        violations = self.page.evaluate("window.__violations || []")
        assert not self.errors, self.errors
        assert not violations, violations


def final_event(response: Response) -> dict[str, Any]:
    """The `final` event of a /v1/ask event stream."""
    for name, data in sse_events(response.text().splitlines()):
        if name == "final":
            return data  # type: ignore[no-any-return]
    raise AssertionError("no final event in: " + response.text()[:2000])


def new_tab(browser: Browser, base: str, shots: Path, **options: Any) -> tuple[BrowserContext, Tab]:
    context = browser.new_context(viewport=options.pop("viewport", DESKTOP), **options)
    context.set_default_timeout(20_000)
    context.add_init_script(WATCH)
    page = context.new_page()
    tab = Tab(page, base, shots)
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    page.on("request", lambda request: tab.requests.append(request.url))
    return context, tab


def refuse(route: Route) -> None:
    """A request that meets a server which is not there."""
    route.abort("connectionrefused")
