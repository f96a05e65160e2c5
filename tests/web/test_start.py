"""The start page: a process started from the browser, and wrong input named."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect


def test_wrong_input_is_named_and_kept(page: Page, sign_in: Callable[..., None]) -> None:
    page.goto("/start")
    sign_in(page, "operator")
    page.get_by_label("Process id").fill("onboarding")
    page.get_by_label("Variables (a JSON object)").fill("[1, 2]")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("alert")).to_contain_text("Variables: must be a JSON object")
    expect(page.get_by_label("Variables (a JSON object)")).to_have_value("[1, 2]")
    page.get_by_label("Process id").fill("no-such-process")
    page.get_by_label("Variables (a JSON object)").fill('{"score": 720}')
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("alert")).to_contain_text("no-such-process")
    page.get_by_label("Process id").fill("onboarding")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("status")).to_contain_text("of 'onboarding'")
