"""Two people chat in headless Chromium: each signs in with the form and opens the same room."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.e2e.harness import Stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.redis]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TIMEOUT = 20


def chromium(profile: Path) -> WebDriver:
    """A headless Chromium with a profile of its own (its own cookies: its own user)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-dev-shm-usage",
                     f"--user-data-dir={profile}", "--window-size=1100,800"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


@pytest.fixture
def browsers(tmp_path: Path) -> Iterator[tuple[WebDriver, WebDriver]]:
    first = chromium(tmp_path / "profile-ada")
    try:
        second = chromium(tmp_path / "profile-bob")
        try:
            yield first, second
        finally:
            second.quit()
    finally:
        first.quit()


def sign_in_and_enter(browser: WebDriver, stack: Stack, name: str, room: str) -> None:
    """Sign in with the index page's form, then enter the room with the room-name form."""
    browser.get(stack.url("/chat/"))
    browser.find_element(By.ID, "login-username").send_keys(name)
    browser.find_element(By.ID, "login-password").send_keys("correct horse " + name)
    browser.find_element(By.ID, "login-submit").click()
    WebDriverWait(browser, TIMEOUT).until(
        lambda b: b.find_elements(By.ID, "current-user"), "never signed in"
    )
    assert browser.find_element(By.ID, "current-user").text == name
    browser.find_element(By.ID, "room-name-input").send_keys(room)
    browser.find_element(By.ID, "room-name-submit").click()
    WebDriverWait(browser, TIMEOUT).until(
        lambda b: b.find_element(By.ID, "status").text == "online",
        f"{name}'s room page never went online",
    )
    assert browser.current_url == stack.url(f"/chat/{room}/")


def say(browser: WebDriver, text: str) -> None:
    box = browser.find_element(By.ID, "chat-message-input")
    box.send_keys(text)
    browser.find_element(By.ID, "chat-message-submit").click()


def log_lines(browser: WebDriver) -> list[tuple[str, str]]:
    """``(user, text)`` of each line in the room's log."""
    lines = []
    for line in browser.find_elements(By.CSS_SELECTOR, "#chat-log .msg"):
        who = line.find_elements(By.CSS_SELECTOR, ".who")
        lines.append((who[0].text if who else "", line.find_element(By.CSS_SELECTOR, ".text").text))
    return lines


def wait_for_line(browser: WebDriver, line: tuple[str, str]) -> None:
    WebDriverWait(browser, TIMEOUT, poll_frequency=0.05).until(
        lambda b: line in log_lines(b), f"{line} never appeared in the log"
    )


def test_two_users_chat_in_two_browsers(
    honcho_stack: Stack, browsers: tuple[WebDriver, WebDriver], tmp_path: Path
) -> None:
    ada, bob = browsers
    sign_in_and_enter(ada, honcho_stack, "ada", "teatime")
    sign_in_and_enter(bob, honcho_stack, "bob", "teatime")

    say(ada, "Hello Bob, from Ada's browser")
    wait_for_line(bob, ("ada", "Hello Bob, from Ada's browser"))
    say(bob, "Hi Ada!")
    wait_for_line(ada, ("bob", "Hi Ada!"))
    wait_for_line(bob, ("bob", "Hi Ada!"))

    # The sender's own line is marked as theirs; the input was cleared for the next line.
    mine = bob.find_elements(By.CSS_SELECTOR, "#chat-log .msg.mine .text")
    assert [element.text for element in mine] == ["Hi Ada!"]
    assert bob.find_element(By.ID, "chat-message-input").get_attribute("value") == ""

    shot = tmp_path / "chat-bob.png"
    assert bob.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The conversation was saved: a third visitor (reloading Ada's page) gets it as history.
    ada.refresh()
    WebDriverWait(ada, TIMEOUT).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#chat-log .msg.history")) >= 2,
        "no history after a reload",
    )
    assert log_lines(ada)[-2:] == [("ada", "Hello Bob, from Ada's browser"), ("bob", "Hi Ada!")]
