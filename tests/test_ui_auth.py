"""Sign-in: PAPERTRAIL_AUTH puts Gradio's login page in front of the UI (real browser)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from ui_fixtures import VIEWPORT, chromium, served

pytestmark = pytest.mark.browser

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("ui-auth")
    users = workdir / "users"
    users.write_text("alice:correct horse\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PAPERTRAIL_AUTH", f"@{users}")
        with served(workdir / "index", workdir / "serve.log") as url:
            yield url


def _sign_in(browser, url: str, user: str, password: str):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    return context, page


def test_a_wrong_password_is_rejected_and_the_right_one_lets_you_in(server: str) -> None:
    with chromium() as browser:
        context, page = _sign_in(browser, server, "alice", "wrong")
        expect(page.get_by_text("Incorrect Credentials")).to_be_visible(timeout=TIMEOUT)
        assert page.locator("#pt-question").count() == 0
        context.close()
        context, page = _sign_in(browser, server, "alice", "correct horse")
        expect(page.locator("#pt-question textarea")).to_be_visible(timeout=TIMEOUT)
        context.close()


def test_the_api_needs_a_session_too(server: str) -> None:
    import httpx

    response = httpx.post(f"{server}gradio_api/call/documents", json={"data": []}, timeout=10)
    assert response.status_code in (401, 403), response.text
