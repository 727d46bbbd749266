"""The chat page in Debian's chromium against `cited serve` on the squad_v1.1 index: how
fast the page loads and lists documents, and, for questions typed in it, the time from
Enter to the first streamed text, to the verified answer, and from a chip's click to its
highlighted quote (which fetches the document's text the first time). Times are taken in
the page (performance.now() at the key press or click, and when the page's DOM changes),
so Playwright's own round trips are not counted.
Results: bench/results/page.json.

    .venv/bin/python bench/page.py [--questions 40]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
from pathlib import Path

from corpora import ROOT, prepare
from playwright.sync_api import sync_playwright
from serve import percentiles, running

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMES = """
window.__t = {};
document.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) window.__t = { enter: performance.now() };
}, true);
document.addEventListener("click", (e) => {
  if (e.target.classList.contains("chip")) window.__t.chip = performance.now();
}, true);
new MutationObserver((records) => {
  for (const r of records) {
    if (r.type === "attributes" && r.target.classList.contains("answer")) {
      window.__t[r.target.dataset.state] ??= performance.now();
    }
    for (const node of r.addedNodes) {
      if (node.nodeType === 1 && node.querySelector("mark")) window.__t.mark = performance.now();
    }
  }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/page.json")
    args = parser.parse_args()

    corpus = prepare("squad_v1.1")
    questions = [q["text"] for q in corpus.queries]
    random.Random(5).shuffle(questions)
    log = ROOT / "bench/results/page.log"
    loads: list[dict[str, float]] = []
    first_text: list[float] = []
    settled: list[float] = []
    server_total: list[float] = []
    source: list[float] = []
    abstained = 0
    with running(corpus.settings.data_dir, log) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(5):  # cold loads: a new context each time, nothing cached
            context = browser.new_context()
            page = context.new_page()
            page.goto(base + "/")
            page.locator(".doc").first.wait_for()
            loads.append(
                page.evaluate(
                    """() => {
                        const nav = performance.getEntriesByType("navigation")[0];
                        const assets = performance.getEntriesByType("resource")
                            .filter((r) => r.name.includes("/static/"));
                        return {
                            dom_content_loaded_ms: nav.domContentLoadedEventEnd,
                            documents_listed_ms: performance.now(),
                            static_bytes: assets.reduce((n, r) => n + r.decodedBodySize, 0),
                            static_files: assets.length,
                        };
                    }"""
                )
            )
            context.close()
        context = browser.new_context()
        context.add_init_script(TIMES)
        page = context.new_page()
        page.goto(base + "/")
        for question in questions[: args.questions]:
            page.get_by_role("button", name="New chat").click()
            with page.expect_response(lambda r: r.url.endswith("/v1/ask")) as info:
                page.fill("#question", question)
                page.press("#question", "Enter")
            body = info.value.text()
            answer = page.locator(".answer").last
            answer.and_(page.locator("[data-state=verified], [data-state=abstained]")).wait_for()
            t = page.evaluate("window.__t")
            final = json.loads(body.split("event: final\ndata: ")[1].split("\n")[0])
            server_total.append(final["timings_ms"]["total"])
            if "drafting" in t:
                first_text.append(t["drafting"] - t["enter"])
            end = t.get("verified", t.get("abstained"))
            settled.append(end - t["enter"])
            if final["abstained"]:
                abstained += 1
                continue
            answer.locator(".verified .chip").first.click()
            page.locator("#source-passage mark").wait_for()
            t = page.evaluate("window.__t")
            source.append(t["mark"] - t["chip"])
            page.keyboard.press("Escape")
        browser.close()

    def median(key: str) -> float:
        values = sorted(load[key] for load in loads)
        return round(values[len(values) // 2], 1)

    output = {
        "index": "squad_v1.1",
        "questions": len(settled),
        "abstained": abstained,
        "page_load": {
            "dom_content_loaded_ms": median("dom_content_loaded_ms"),
            "documents_listed_ms": median("documents_listed_ms"),
            "static_bytes": loads[0]["static_bytes"],
            "static_files": loads[0]["static_files"],
        },
        "enter_to_first_text": percentiles(first_text),
        "enter_to_verified": percentiles(settled),
        "server_answer_total": percentiles(server_total),
        "chip_to_highlight": percentiles(source),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    args.out.write_text(json.dumps(output, indent=2) + "\n")
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
