"""Watching a browser page for Content-Security-Policy violations and script errors."""

from __future__ import annotations

from typing import Any

WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
    `at ${event.sourceFile}:${event.lineNumber}`);
});
"""


class Watcher:
    """Collects CSP violations (DOM events and console reports) and script errors."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.context.add_init_script(WATCH_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.problems.append(f"console: {message.text}")

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (path, response)
        self.page.wait_for_load_state("networkidle")
        self.check(path)

    def check(self, where: str) -> None:
        found = self.page.evaluate("window.__cspViolations || []")
        problems, self.problems = [*self.problems, *found], []
        assert not problems, f"{where}: {problems}"
