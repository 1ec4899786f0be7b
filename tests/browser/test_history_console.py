"""A publication's history and statistics chart, and webhooks, in the console (issue 16), by
a user in a real browser on the local stack."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import boto3
import httpx
from playwright.sync_api import Browser, Page, expect
from standardwebhooks import Webhook

from autopost.infra.settings import Settings
from autopost.storage.history import HistoryRepository
from devstack import demo
from devstack.process import Running, wait_until
from tests.browser.conftest import RESULTS
from tests.browser.test_console import sign_in, telegram_channel
from tests.support.https_receiver import Receiver
from tests.support.settings import REQUIRED

MOSCOW = timezone(timedelta(hours=3))  # the browser's time zone (conftest's `page`)


def ready_with_telegram(stack, user: str, clip: str) -> httpx.Client:
    stack.upload_ready_clip(user, clip)
    api = stack.api(user)
    channel = user.replace("-", "_")
    bot = telegram_channel(stack, channel)
    assert (
        api.post("/connections/telegram", json={"channel": f"@{channel}", "botToken": bot}).status_code == 201
    )
    return api


def ready_with_vk(stack, user: str, clip: str, vk_user: int) -> httpx.Client:
    stack.upload_ready_clip(user, clip)
    api = stack.api(user)
    assert demo.connect_vk(api, vk_user=vk_user).status_code == 201
    return api


def publish(api: httpx.Client, clip: str, platform: str, **extra) -> str:
    answer = api.post(f"/clips/{clip}/publications", json={"platforms": [platform], "title": clip, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()["items"][0]["id"]


def wait_published(api: httpx.Client, publication: str) -> None:
    def done() -> bool:
        return api.get(f"/publications/{publication}").json()["status"] == "published"

    wait_until(done, 30, f"{publication} published")


def publication_row(page: Page, publication: str):
    return page.locator(f'#publications tr[data-publication="{publication}"]')


def open_details(page: Page, publication: str):
    toggle = page.locator(f'[data-details-toggle="{publication}"]')
    toggle.click()
    expect(page.locator(f'[data-details-toggle="{publication}"]')).to_have_attribute("aria-expanded", "true")
    return page.locator(f'#publications tr.details[data-details="{publication}"]')


def moscow(iso: str, pattern: str = "%d.%m.%Y, %H:%M:%S") -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(MOSCOW).strftime(pattern)


def test_the_timeline_of_a_published_publication_ends_with_a_link_to_the_post(page: Page, local_stack):
    api = ready_with_telegram(local_stack, "history-1", "told")
    publication = publish(api, "told", "telegram")
    sign_in(page, local_stack, "history-1")
    expect(publication_row(page, publication)).to_have_attribute("data-status", "published", timeout=30_000)

    details = open_details(page, publication)
    events = details.locator(".timeline li")
    expect(events.first).to_contain_text("Создана", timeout=30_000)
    expect(events.last).to_have_attribute("data-event", "publication.published", timeout=15_000)
    expect(events.last).to_contain_text("Опубликовано")
    post = publication_row(page, publication).get_by_role("link", name="Открыть пост").get_attribute("href")
    expect(events.last.get_by_role("link", name="Открыть пост")).to_have_attribute("href", post)
    # Each event at its time, in the user's own (Moscow) time.
    at = events.first.locator("time")
    expect(at).to_have_text(moscow(at.get_attribute("datetime")))
    # Telegram gives no statistics: the chart's place says so.
    expect(details.locator("[data-stats-unavailable]")).to_contain_text("Статистика недоступна")
    expect(details.locator("svg")).to_have_count(0)


def test_the_timeline_follows_a_failure_and_a_retry_without_a_reload(page: Page, local_stack):
    api = ready_with_vk(local_stack, "history-2", "bumpy", vk_user=31_002)
    httpx.post(
        f"{local_stack.emulator('vk')}/_emulator/faults",
        json={"endpoint": "video.save", "kind": "http_500", "times": 4},
    )
    publication = publish(api, "bumpy", "vk")
    sign_in(page, local_stack, "history-2")
    page.evaluate("window.__stillTheSamePage = true")
    details = open_details(page, publication)  # while it is still being published
    events = details.locator(".timeline li")
    expect(events.first).to_contain_text("Создана", timeout=30_000)

    failed = details.locator('li[data-event="publication.failed"]')
    expect(failed).to_contain_text("Не удалось опубликовать: VK временно недоступен", timeout=60_000)
    expect(details.locator('li[data-event="publication.attempt_failed"]').first).to_contain_text(
        "Попытка не удалась: VK временно недоступен"
    )
    publication_row(page, publication).get_by_role("button", name="Повторить").click()
    expect(events.last).to_have_attribute("data-event", "publication.published", timeout=30_000)
    texts = events.all_inner_texts()
    failed_at = next(i for i, text in enumerate(texts) if "Не удалось опубликовать" in text)
    # The user's retry comes after the failure (automatic retries may come before it).
    assert any(re.search(r"Повторная попытка №\d+", text) for text in texts[failed_at + 1 : -1]), texts
    expect(events.last.get_by_role("link", name="Открыть пост")).to_have_attribute(
        "href", re.compile("^https://")
    )
    assert page.evaluate("window.__stillTheSamePage") is True
    # Published on VK, synced once at most: no series yet, and a message says so, not a chart.
    expect(details.locator("[data-chart-empty]")).to_be_visible()
    expect(details.locator("svg")).to_have_count(0)


def test_the_timeline_of_a_cancelled_publication(page: Page, local_stack):
    api = ready_with_telegram(local_stack, "history-3", "never")
    later = (datetime.now(UTC) + timedelta(days=30)).replace(second=0, microsecond=0)
    description = "Закат над Волгой\n<b>как есть</b>"
    publication = publish(api, "never", "telegram", scheduledAt=later.isoformat(), description=description)
    sign_in(page, local_stack, "history-3")
    details = open_details(page, publication)
    # What will be posted is readable before it goes out, as text (a tag stays a tag).
    expect(details.locator("[data-post-title]")).to_have_text("never")
    expect(details.locator("[data-post-description]")).to_have_text(description)
    expect(details.locator("[data-post-description] b")).to_have_count(0)
    events = details.locator(".timeline li")
    # Another day than the event's: the date is said too, in Moscow time.
    expect(events.first).to_contain_text(
        f"Создана (запланирована на {moscow(later.isoformat(), '%d.%m.%Y %H:%M')})", timeout=30_000
    )
    expect(events).to_have_count(1)

    page.once("dialog", lambda dialog: dialog.accept())  # cancelling is asked first
    publication_row(page, publication).get_by_role("button", name="Отменить").click()
    expect(events.last).to_have_attribute("data-event", "publication.cancelled")
    expect(events.last).to_have_text(re.compile(r"Отменена$"))
    expect(events).to_have_count(2)
    # Closed and opened again: the same two, read afresh.
    page.locator(f'[data-details-toggle="{publication}"]').click()
    expect(details).to_have_count(0)
    expect(open_details(page, publication).locator(".timeline li")).to_have_count(2)


def history_of(stack) -> HistoryRepository:
    """The local stack's history table, written with the project's own repository."""
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.info["s3"], region_name=stack.info["region"])
    table = next(name for name in dynamodb.list_tables()["TableNames"] if name.endswith("-HistoryTable"))
    settings = Settings.model_validate(
        {
            **REQUIRED,
            "AWS_ENDPOINT_URL": stack.info["s3"],
            "AWS_REGION": stack.info["region"],
            "HISTORY_TABLE": table,
        }
    )
    return HistoryRepository(settings)


def test_the_statistics_chart_draws_the_views_series(page: Page, local_stack):
    api = ready_with_vk(local_stack, "history-4", "charted", vk_user=31_004)
    publication = publish(api, "charted", "vk")
    sign_in(page, local_stack, "history-4")
    details = open_details(page, publication)
    # The stack's stats sync takes the first sample soon after publishing; the details,
    # open all along, show it: one point is a message and the figures, not a chart.
    expect(details.locator("[data-chart-empty]")).to_contain_text("Пока одна точка", timeout=60_000)
    expect(details.locator("[data-legend]")).to_contain_text("Просмотры")
    expect(details.locator("svg")).to_have_count(0)

    # Three days of figures before it, and the sync's own sample with figures of ours (the
    # next sync is an hour away), written by the project's history repository.
    history = history_of(local_stack)
    ((synced, _),) = history.samples(publication)
    figures = [(3, 0, 0), (2, 400, 10), (1, 1100, 30), (0, 1500, 42)]
    history.add_samples(
        (
            publication,
            synced - timedelta(days=days),
            {"views": views, "likes": likes, "comments": 3, "reposts": 1},
        )
        for days, views, likes in figures
    )
    assert [item["views"] for item in api.get(f"/publications/{publication}/stats").json()["items"]] == [
        0,
        400,
        1100,
        1500,
    ]

    page.locator(f'[data-details-toggle="{publication}"]').click()  # closed, opened: read afresh
    details = open_details(page, publication)
    chart = details.get_by_role("img")
    expect(chart).to_have_attribute("aria-label", re.compile(r"^Просмотры: 0 → 1\s500 за 3 дня$"))
    assert len(chart.locator("polyline").get_attribute("points").split()) == 4
    expect(chart.locator("circle")).to_have_count(4)
    expect(details.locator("[data-legend]")).to_contain_text(
        re.compile(r"Просмотры 1\s500 · лайки 42 · комментарии 3 · репосты 1")
    )
    expect(details.locator("[data-chart-empty]")).to_have_count(0)


def test_a_refused_webhook_address_says_why_in_russian(page: Page, local_stack):
    sign_in(page, local_stack, "history-6")
    section = page.locator("#webhooks-section")
    # The first read of a fresh stack's webhooks may wait for a cold function.
    expect(section.locator("#no-webhooks")).to_be_visible(timeout=30_000)
    section.get_by_label("Адрес (https://…)").fill("http://example.com/hook")
    section.get_by_role("button", name="Добавить вебхук").click()
    error = section.locator("#webhook-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(re.compile("[а-яА-Я]"))
    expect(error).not_to_contain_text("Ошибка сервера")
    expect(section.locator("#webhook-secret")).to_be_hidden()
    for box in section.locator("#webhook-events input").all():
        box.uncheck()
    section.get_by_label("Адрес (https://…)").fill("https://example.com/hook")
    section.get_by_role("button", name="Добавить вебхук").click()
    expect(error).to_have_text("Выберите хотя бы одно событие")


def test_the_details_and_webhooks_fit_a_phone(browser, local_stack):
    api = ready_with_telegram(local_stack, "history-7", "pocket")
    publication = publish(api, "pocket", "telegram")
    wait_published(api, publication)
    context = browser.new_context(locale="ru-RU", viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    try:
        sign_in(phone, local_stack, "history-7")
        details = open_details(phone, publication)
        expect(details.locator(".timeline li").last).to_have_attribute("data-event", "publication.published")
        expect(phone.locator("#webhook-events input")).to_have_count(10)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_a_webhook_is_added_its_secret_shown_once_its_deliveries_listed_and_deleted(
    browser: Browser, local_stack: Running, webhook_receiver: Receiver
):
    stack, receiver = local_stack, webhook_receiver
    # The first attempt is refused, the retry (seconds later) delivered: both are listed.
    receiver.answers = [(500, {}, b"temporarily broken"), (200, {}, b"ok")]
    api = ready_with_telegram(stack, "history-8", "hooked")
    context = browser.new_context(
        locale="ru-RU", timezone_id="Europe/Moscow", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, stack, "history-8")
        section = page.locator("#webhooks-section")
        expect(section.locator("#no-webhooks")).to_have_text("Вебхуков пока нет.", timeout=30_000)
        boxes = section.locator("#webhook-events input[type=checkbox]")
        expect(boxes).to_have_count(10)
        for box in boxes.all():
            expect(box).to_be_checked()  # every event by default
        for name in ("Создана", "Публикация началась", "Отменена"):
            section.get_by_role("checkbox", name=re.compile(f"^{name} ")).uncheck()
        section.get_by_label("Адрес (https://…)").fill(receiver.url("/hook"))
        section.get_by_role("button", name="Добавить вебхук").click()

        shown = section.locator("#webhook-secret")
        expect(shown).to_be_visible(timeout=30_000)  # a fresh stack's functions start cold
        expect(shown).to_contain_text("Сохраните секрет: он показывается один раз")
        expect(shown.locator("[data-secret]")).to_have_text(re.compile(r"^whsec_\S+$"))
        secret = shown.locator("[data-secret]").inner_text()
        endpoint = section.locator("li[data-webhook]")
        expect(endpoint).to_have_count(1)
        expect(endpoint).to_contain_text(receiver.url("/hook"))
        expect(endpoint).to_contain_text("События: Попытка не удалась, Платформа просит подождать")
        expect(endpoint).to_contain_text("Доставок пока не было.")
        expect(section.get_by_label("Адрес (https://…)")).to_have_value("")  # ready for another
        # Once saved, the secret is gone from the page, and the API never shows it again.
        section.get_by_role("button", name="Я сохранил секрет").click()
        expect(shown).to_be_hidden()
        assert secret not in page.content()
        page.reload()
        expect(section.locator("li[data-webhook]")).to_contain_text(receiver.url("/hook"))
        assert secret not in page.content()

        publication = publish(api, "hooked", "telegram")
        wait_published(api, publication)
        rows = section.locator("li[data-webhook] table.deliveries tbody tr")
        expect(rows).to_have_count(2, timeout=45_000)  # newest first: the retry, then the refusal
        expect(rows.nth(0).locator("td")).to_have_text(
            [
                re.compile(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d:\d\d"),
                re.compile("^Опубликовано"),
                "2",
                "200",
                "доставлено",
            ]
        )
        # Each delivery names what it was about: the clip and the platform.
        expect(rows.nth(0).locator("[data-delivery-about]")).to_have_text("клип hooked · Telegram")
        expect(rows.nth(1).locator("td").nth(2)).to_have_text("1")
        expect(rows.nth(1).locator("td").nth(3)).to_have_text("500")
        expect(rows.nth(1).locator("td").nth(4)).to_contain_text("ошибка")
        # The secret the console showed is the one the requests are signed with.
        payload = Webhook(secret).verify(receiver.requests[-1].body, receiver.requests[-1].headers)
        assert payload["type"] == "publication.published"
        assert payload["data"]["publicationId"] == publication
        # A test event on request: signed, said at once, and listed first.
        section.locator("li[data-webhook]").get_by_role("button", name="Отправить тестовое событие").click()
        expect(section.locator("[data-test-result]")).to_have_text("Тестовое событие доставлено (код 200)")
        expect(rows).to_have_count(3)
        expect(rows.nth(0).locator("td").nth(1)).to_have_text("Тестовое событие")
        tested = Webhook(secret).verify(receiver.requests[-1].body, receiver.requests[-1].headers)
        assert tested["type"] == "webhook.test"

        section.locator("li[data-webhook]").get_by_role("button", name="Удалить").click()
        dialog = page.locator("#webhook-delete-dialog")
        expect(dialog).to_contain_text(f"Запросы на {receiver.url('/hook')} больше не будут отправляться.")
        dialog.get_by_role("button", name="Удалить").click()
        expect(section.locator("li[data-webhook]")).to_have_count(0)
        expect(section.locator("#no-webhooks")).to_be_visible()
        assert api.get("/webhooks").json()["items"] == []
    except BaseException:
        RESULTS.mkdir(exist_ok=True)  # as conftest's `page` does for its pages
        page.screenshot(path=str(RESULTS / "test_a_webhook_is_added.png"), full_page=True)
        raise
    finally:
        context.close()
