"""The seed's end-to-end scenarios, by a user in a real browser, on the local stack."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import httpx
from playwright.sync_api import Page, expect

from devstack.template import ROOT
from tests.support.videos import make_video, padded_video

MB = 1024 * 1024


def sign_in(page: Page, stack, user: str, plan: str = "pro") -> None:
    page.goto(f"{stack.info['api']}/console/")
    page.get_by_label("Пользователь").fill(user)
    page.get_by_label("Тариф").select_option(plan)
    page.get_by_role("button", name="Войти").click()
    expect(page.locator("#who")).to_contain_text(user)


def upload(stack, user: str, clip: str, data: bytes) -> None:
    stack.s3.put_object(Bucket=stack.info["bucket"], Key=f"clips/{user}/{clip}.mp4", Body=data)
    api = stack.api(user)
    import time

    deadline = time.monotonic() + 30
    while api.get(f"/clips/{clip}").json().get("status") != "ready":
        assert time.monotonic() < deadline, "clip not validated"
        time.sleep(0.3)


def telegram_channel(stack, name: str) -> str:
    telegram = stack.emulator("telegram")
    bot = httpx.post(f"{telegram}/_emulator/bot", json={"username": f"{name}_bot"}).json()["token"]
    httpx.post(
        f"{telegram}/_emulator/channel", json={"username": name, "title": "Канал", "admin_bots": [bot]}
    )
    return bot


def connect_telegram(page: Page, stack, name: str) -> None:
    bot = telegram_channel(stack, name)
    page.locator('[data-connect="telegram"]').click()
    page.get_by_label("Канал (@username или -100…)").fill(f"@{name}")
    page.get_by_label("Токен бота (необязательно: иначе бот сервиса)").fill(bot)
    page.locator("#connect-dialog").get_by_role("button", name="Подключить").click()
    expect(card(page, "telegram").locator(".status")).to_have_text("подключено")


def connect_rutube(page: Page) -> None:
    """With the demo login and password the dialog names locally."""
    page.locator('[data-connect="rutube"]').click()
    dialog = page.locator("#connect-dialog")
    login, password = re.search(
        r"логин (\S+), пароль (\S+?)\.", dialog.locator(".hint").first.inner_text()
    ).groups()
    page.get_by_label("Логин Rutube (e-mail)").fill(login)
    page.get_by_label("Пароль Rutube").fill(password)
    dialog.get_by_role("button", name="Подключить").click()
    expect(card(page, "rutube").locator(".status")).to_have_text("подключено")


def connect_vk(page: Page) -> None:
    """Through VK ID (regular videos): the dialog's second way."""
    page.locator('[data-connect="vk"]').click()
    page.locator('[data-oauth="vk"]').click()
    expect(page.get_by_role("link", name="Разрешить")).to_be_visible()  # the VK ID emulator's page
    page.get_by_role("link", name="Разрешить").click()
    expect(card(page, "vk").locator(".status")).to_have_text("подключено")


def test_a_channel_through_the_services_bot_is_proven_by_a_posted_code(page: Page, local_stack):
    telegram = local_stack.emulator("telegram")
    httpx.post(
        f"{telegram}/_emulator/channel",
        json={"username": "browser_proof", "title": "Канал с кодом", "admin_bots": ["@autopost_service_bot"]},
    ).raise_for_status()
    sign_in(page, local_stack, "browser-8")
    page.locator('[data-connect="telegram"]').click()
    page.get_by_label("Канал (@username или -100…)").fill("@browser_proof")
    page.locator("#connect-dialog").get_by_role("button", name="Подключить").click()
    code = page.locator("[data-proof-code]")
    expect(code).to_have_text(re.compile(r"autopost-[A-Z0-9]{8}"))
    # The channel's owner posts the code in the channel; Telegram sends it to our webhook.
    httpx.post(
        f"{telegram}/_emulator/channel_post", json={"channel": "@browser_proof", "text": code.inner_text()}
    )
    expect(card(page, "telegram").locator(".status")).to_have_text("подключено")
    expect(page.locator("#notice")).to_contain_text("Telegram подключён: Канал с кодом")


def in_a_month() -> str:
    """A datetime-local value 30 days ahead, in the browser's (Moscow) time."""
    moscow = datetime.now(UTC).astimezone(timezone(timedelta(hours=3))) + timedelta(days=30)
    return moscow.strftime("%Y-%m-%dT%H:%M")


def card(page: Page, platform: str):
    return page.locator(f'#platforms li[data-platform="{platform}"]')


def open_publish(page: Page, clip: str, title: str) -> None:
    page.locator(f'[data-publish="{clip}"]').click()
    page.get_by_label("Заголовок").fill(title)


def row(page: Page, clip: str):
    return page.locator("#publications tbody tr", has_text=clip)


def test_connect_vk_through_the_platforms_oauth_page(page: Page, local_stack):
    sign_in(page, local_stack, "browser-1")
    connect_vk(page)
    assert "connected" not in page.url  # the console cleaned its address


def test_publish_a_clip_and_watch_it_become_published_without_reloading(page: Page, local_stack):
    upload(local_stack, "browser-2", "sunset", make_video("mp4"))
    sign_in(page, local_stack, "browser-2")
    connect_telegram(page, local_stack, "browser_two")
    page.evaluate("window.__stillTheSamePage = true")

    open_publish(page, "sunset", "Закат")
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()

    expect(row(page, "sunset")).to_contain_text("опубликовано", timeout=30_000)
    assert page.evaluate("window.__stillTheSamePage") is True
    expect(row(page, "sunset").get_by_role("link", name="Открыть пост")).to_be_visible()
    expect(row(page, "sunset")).to_contain_text("Статистика недоступна")
    # The clip's own row says where it is published, not only «готов».
    summary = page.locator('#clips [data-clip="sunset"] [data-summary-platform="telegram"]')
    expect(summary).to_have_text("Telegram: опубликовано")


def test_schedule_then_cancel(page: Page, local_stack):
    upload(local_stack, "browser-3", "later", make_video("mp4"))
    sign_in(page, local_stack, "browser-3")
    connect_telegram(page, local_stack, "browser_three")
    open_publish(page, "later", "Позже")
    page.get_by_label("Время публикации (необязательно, ваш часовой пояс)").fill(in_a_month())
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()
    expect(row(page, "later")).to_contain_text("запланировано")
    expect(page.locator("#notice")).to_contain_text("Запланировано на")
    expect(page.locator('#clips [data-clip="later"] [data-clip-summary]')).to_have_text(
        "Telegram: запланировано"
    )

    # Asked first: said no, nothing happens; said yes, cancelled and said so.
    page.once("dialog", lambda dialog: dialog.dismiss())
    row(page, "later").get_by_role("button", name="Отменить").click()
    expect(row(page, "later")).to_contain_text("запланировано")
    page.once("dialog", lambda dialog: dialog.accept())
    row(page, "later").get_by_role("button", name="Отменить").click()
    expect(row(page, "later")).to_contain_text("отменено")
    expect(page.locator("#notice")).to_contain_text("Публикация «Позже» отменена")


def test_disconnect_asks_and_cancels_the_scheduled_publication(page: Page, local_stack):
    upload(local_stack, "browser-4", "planned", make_video("mp4"))
    sign_in(page, local_stack, "browser-4")
    connect_telegram(page, local_stack, "browser_four")
    open_publish(page, "planned", "План")
    page.get_by_label("Время публикации (необязательно, ваш часовой пояс)").fill(in_a_month())
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()
    expect(row(page, "planned")).to_contain_text("запланировано")

    page.locator('[data-disconnect="telegram"]').click()
    dialog = page.locator("#disconnect-dialog")
    expect(dialog).to_contain_text("Будет отменено запланированных публикаций: 1.")
    dialog.get_by_role("button", name="Отключить").click()

    expect(row(page, "planned")).to_contain_text("отменено")
    expect(card(page, "telegram")).to_contain_text("не подключено")
    # The old «Telegram подключён» is gone: the latest change is what the notice says.
    expect(page.locator("#notice")).to_have_text("Telegram отключён, отменено запланированных публикаций: 1")


def test_connect_attempts_left_are_shown_and_only_a_refused_password_uses_one(page: Page, local_stack):
    """No lockout by surprise: the dialogs say how many attempts are left this hour, a wrong
    password uses one, connecting and disconnecting do not."""
    sign_in(page, local_stack, "browser-11")
    page.locator('[data-connect="rutube"]').click()
    dialog = page.locator("#connect-dialog")
    attempts = dialog.locator("[data-connect-attempts]")
    expect(attempts).to_contain_text("осталось попыток подключения в этот час — 5 из 5")
    login = re.search(r"логин (\S+), пароль", dialog.locator(".hint").first.inner_text()).group(1)
    page.get_by_label("Логин Rutube (e-mail)").fill(login)
    page.get_by_label("Пароль Rutube").fill("not-the-password")
    dialog.get_by_role("button", name="Подключить").click()
    expect(dialog.locator("#connect-error")).to_be_visible()
    expect(attempts).to_contain_text("4 из 5")
    dialog.get_by_role("button", name="Отмена").click()

    connect_rutube(page)
    page.locator('[data-disconnect="rutube"]').click()
    disconnect = page.locator("#disconnect-dialog")
    expect(disconnect.locator("[data-connect-attempts]")).to_contain_text(
        "Подключить снова: осталось попыток подключения в этот час — 4 из 5"
    )


def test_too_large_for_telegram_says_so_and_still_publishes_to_vk(page: Page, local_stack):
    upload(local_stack, "browser-5", "big", padded_video(51 * MB))
    sign_in(page, local_stack, "browser-5")
    connect_telegram(page, local_stack, "browser_five")
    connect_vk(page)
    open_publish(page, "big", "Большой")
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()

    note = page.locator('[data-platform-error="telegram"]')
    expect(note).to_have_text("Файл слишком большой для Telegram (максимум 50 МБ)")
    page.locator('#publish-platforms input[value="telegram"]').uncheck()
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()
    expect(row(page, "big")).to_contain_text("опубликовано", timeout=60_000)


def test_a_failing_platform_ends_failed_with_its_message_and_retry_works(page: Page, local_stack):
    upload(local_stack, "browser-6", "stormy", make_video("mp4"))
    sign_in(page, local_stack, "browser-6")
    connect_vk(page)
    httpx.post(
        f"{local_stack.emulator('vk')}/_emulator/faults",
        json={"endpoint": "video.save", "kind": "http_500", "times": 4},
    )
    open_publish(page, "stormy", "Шторм")
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()

    expect(row(page, "stormy")).to_contain_text("ошибка", timeout=60_000)
    expect(row(page, "stormy")).to_contain_text("VK временно недоступен")
    row(page, "stormy").get_by_role("button", name="Повторить").click()
    expect(row(page, "stormy")).to_contain_text("опубликовано", timeout=30_000)


def test_a_dzen_post_to_make_by_hand_links_the_studio_and_says_so_once(page: Page, local_stack):
    upload(local_stack, "browser-12", "by-hand", make_video("mp4"))
    sign_in(page, local_stack, "browser-12")
    page.locator('[data-connect="dzen"]').click()
    page.locator("#connect-dialog").get_by_role("button", name="Подключить").click()
    expect(card(page, "dzen").locator(".status")).to_have_text("подключено")
    httpx.post(  # Дзен answers the final call with something other than OK
        f"{local_stack.emulator('dzen')}/_emulator/faults",
        json={"endpoint": "publish-answer", "kind": "not_ok", "times": 1},
    )
    page.locator('[data-publish="by-hand"]').click()
    page.locator("#publish-dialog").get_by_label("Заголовок").fill("Вручную")
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()

    failed = page.locator("#publications tbody tr[data-publication]", has_text="by-hand")
    expect(failed).to_contain_text("опубликуйте этот клип в студии Дзена вручную", timeout=60_000)
    expect(failed.get_by_role("link", name="Открыть студию Дзена")).to_have_attribute(
        "href", "https://dzen.ru/profile/editor"
    )
    failed.locator("[data-details-toggle]").click()
    timeline = page.locator("#publications tr.details .timeline")
    expect(timeline.locator('li[data-event="publication.failed"]')).to_contain_text("вручную", timeout=30_000)
    expect(timeline.locator("li", has_text="вручную")).to_have_count(1)  # said once, not twice


def test_the_console_for_the_readme(page: Page, local_stack):
    """Takes the screenshot shown in README.md (copied to docs/console.png)."""
    upload(local_stack, "browser-7", "demo-clip", make_video("mp4", seconds=3))
    sign_in(page, local_stack, "browser-7")
    connect_telegram(page, local_stack, "browser_seven")
    connect_vk(page)
    open_publish(page, "demo-clip", "Закат над Волгой")
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()
    expect(page.locator("#publications tbody tr[data-status=published]")).to_have_count(2, timeout=30_000)
    (ROOT / "test-results").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "test-results" / "console.png"), full_page=True)


def test_a_newcomer_connects_all_four_platforms_from_the_console_alone(page: Page, local_stack):
    """With only what the console says locally: VK and Дзен with the sessions their dialogs
    fill in, Telegram with the demo bot, Rutube with the demo login."""
    sign_in(page, local_stack, "newcomer-1")
    page.locator('[data-connect="vk"]').click()
    dialog = page.locator("#connect-dialog")
    expect(dialog).to_contain_text("Неофициальный способ")  # said before connecting
    dialog.get_by_role("button", name="Подключить").click()  # the session the dialog filled in
    expect(page.locator("#notice")).to_contain_text("VK подключён")
    expect(card(page, "vk").locator('[data-method="session"]')).to_contain_text("клипы")

    page.locator('[data-connect="telegram"]').click()
    hint = dialog.locator(".hint").first.inner_text()
    channel = re.search(r"канал (@\w+) с токеном бота (\S+?) —", hint)
    page.get_by_label("Канал (@username или -100…)").fill(channel.group(1))
    page.get_by_label("Токен бота (необязательно: иначе бот сервиса)").fill(channel.group(2))
    dialog.get_by_role("button", name="Подключить").click()
    expect(card(page, "telegram").locator(".status")).to_have_text("подключено")

    connect_rutube(page)

    page.locator('[data-connect="dzen"]').click()
    expect(dialog).to_contain_text("Неофициальный способ")
    dialog.get_by_role("button", name="Подключить").click()
    expect(card(page, "dzen").locator(".status")).to_have_text("подключено")


def test_the_services_bot_path_works_locally_with_the_emulators_button(page: Page, local_stack):
    sign_in(page, local_stack, "newcomer-2")
    page.locator('[data-connect="telegram"]').click()
    page.get_by_label("Канал (@username или -100…)").fill("@autopost_demo")
    page.locator("#connect-dialog").get_by_role("button", name="Подключить").click()
    page.get_by_role("button", name="Опубликовать код в канале (эмулятор)").click()
    expect(card(page, "telegram").locator(".status")).to_have_text("подключено")


def test_the_console_at_localhost_signs_in_and_connects_vk(page: Page, local_stack):
    """The same console by another name: the API on the same origin, VK back to it."""
    port = local_stack.info["api"].rsplit(":", 1)[1]
    page.goto(f"http://localhost:{port}/")
    assert page.url == f"http://localhost:{port}/console/"
    page.get_by_label("Пользователь").fill("newcomer-3")
    page.get_by_role("button", name="Войти").click()
    expect(page.locator("#who")).to_contain_text("newcomer-3")
    page.locator('[data-connect="vk"]').click()
    page.locator('[data-oauth="vk"]').click()
    page.get_by_role("link", name="Разрешить").click()
    expect(card(page, "vk").locator(".status")).to_have_text("подключено")
    assert page.url == f"http://localhost:{port}/console/"


def test_a_new_clip_appears_without_a_reload(page: Page, local_stack):
    sign_in(page, local_stack, "newcomer-4")
    expect(page.locator("#no-clips")).to_be_visible()
    page.evaluate("window.__stillTheSamePage = true")
    upload(local_stack, "newcomer-4", "fresh", make_video("mp4"))
    expect(page.locator('#clips tbody tr[data-clip="fresh"]')).to_contain_text("готов")
    assert page.evaluate("window.__stillTheSamePage") is True


def test_too_many_connects_say_when_to_try_again(page: Page, local_stack):
    sign_in(page, local_stack, "newcomer-5")
    for _ in range(5):
        local_stack.api("newcomer-5").post("/connections/rutube", json={"token": "0" * 40})
    page.locator('[data-connect="rutube"]').click()
    page.get_by_label("или API-токен Rutube").fill("1" * 40)
    page.locator("#connect-dialog").get_by_role("button", name="Подключить").click()
    # The hourly window may end within the minute: then the wait is said in seconds.
    expect(page.locator("#connect-error")).to_contain_text(re.compile(r"Попробуйте через \d+ (мин|с)"))


def test_the_console_fits_a_phone(browser, local_stack):
    upload(local_stack, "newcomer-6", "phone-clip", make_video("mp4"))
    api = local_stack.api("newcomer-6")
    bot = telegram_channel(local_stack, "phone_channel")
    api.post("/connections/telegram", json={"channel": "@phone_channel", "botToken": bot})
    api.post("/clips/phone-clip/publications", json={"platforms": ["telegram"], "title": "С телефона"})
    context = browser.new_context(locale="ru-RU", viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    try:
        sign_in(phone, local_stack, "newcomer-6")
        expect(row(phone, "phone-clip")).to_contain_text("опубликовано", timeout=30_000)
        # Each card names its fields (the table's header is hidden on a phone).
        expect(row(phone, "phone-clip").locator("td").nth(1)).to_have_attribute("data-label", "Платформа")
        expect(phone.locator("#publications thead")).to_be_hidden()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        open_publish(phone, "phone-clip", "Ещё раз")
        box = phone.locator("#publish-dialog").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    finally:
        context.close()


def test_the_publish_dialog_says_before_sending_that_telegram_will_shorten_the_caption(
    page: Page, local_stack
):
    upload(local_stack, "browser-9", "emoji", make_video("mp4"))
    sign_in(page, local_stack, "browser-9")
    connect_telegram(page, local_stack, "browser_nine")
    open_publish(page, "emoji", "Закат")
    warning = page.locator("[data-caption-warning]")
    expect(warning).to_be_hidden()
    page.get_by_label("Описание").fill("\U0001f305" * 520)  # 1,040 UTF-16 units
    expect(warning).to_contain_text("1047 знаков из 1024")
    page.locator('#publish-platforms input[value="telegram"]').uncheck()
    expect(warning).to_be_hidden()
    page.locator('#publish-platforms input[value="telegram"]').check()
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()
    # And the publication keeps saying it.
    expect(row(page, "emoji").locator("[data-publication-notice]")).to_contain_text("1047 знаков из 1024")


def test_a_rutube_video_in_moderation_says_so_and_figures_rutube_does_not_give_are_no_data(
    page: Page, local_stack
):
    upload(local_stack, "browser-10", "moderated", make_video("mp4"))
    sign_in(page, local_stack, "browser-10")
    connect_rutube(page)

    open_publish(page, "moderated", "На модерации")
    # Only what can be published now is offered; VK's format only while VK is chosen.
    expect(page.locator('#publish-platforms input[value="vk"]')).to_be_disabled()
    expect(page.locator("#publish-platforms")).to_contain_text("VK — не подключено")
    expect(page.locator("#publish-vk-format")).to_be_hidden()
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()

    expect(row(page, "moderated").locator("[data-moderation]")).to_have_text("на модерации", timeout=60_000)
    # Rutube gives views only: likes and comments are no data, never 0 (the stats run every 20 s).
    expect(row(page, "moderated")).to_contain_text("лайки нет данных", timeout=90_000)


def test_on_a_phone_the_plan_is_named_buttons_do_not_touch_and_a_repost_is_not_the_main_choice(
    page: Page, local_stack
):
    page.set_viewport_size({"width": 390, "height": 844})
    upload(local_stack, "browser-13", "phone", make_video("mp4"))
    sign_in(page, local_stack, "browser-13", plan="free")
    # What the free plan lacks says which plan has it.
    expect(card(page, "rutube").locator("[data-plan-needed]")).to_have_text(
        "Недоступно на вашем тарифе (есть на тарифе business, pro)"
    )
    connect_vk(page)
    disconnect = card(page, "vk").get_by_role("button", name="Отключить").bounding_box()
    destination = card(page, "vk").get_by_role("button", name="Куда публиковать").bounding_box()
    apart = (
        destination["x"] - (disconnect["x"] + disconnect["width"]),
        destination["y"] - (disconnect["y"] + disconnect["height"]),
    )
    assert max(apart) >= 4, (disconnect, destination)  # side by side or one under the other, not touching

    open_publish(page, "phone", "С телефона")
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()
    published = row(page, "phone")
    expect(published).to_contain_text("опубликовано", timeout=30_000)
    link = published.get_by_role("link", name="Открыть пост")
    line = link.evaluate(
        "a => parseFloat(getComputedStyle(a).lineHeight) || 1.2 * parseFloat(getComputedStyle(a).fontSize)"
    )
    assert link.bounding_box()["height"] < 1.5 * line  # one line: «Открыть пост», not «Открыт / ь пост»

    # Publishing it again asks first, and the repost is the secondary choice, not a second blue button.
    open_publish(page, "phone", "С телефона")
    page.get_by_role("button", name="Опубликовать", exact=True).last.click()
    repost = page.locator("#publish-repost")
    expect(repost).to_be_visible()
    background = repost.evaluate("b => getComputedStyle(b).backgroundColor")
    main = page.locator("#publish-dialog").get_by_role("button", name="Опубликовать", exact=True)
    assert background == "rgb(255, 255, 255)"
    assert main.evaluate("b => getComputedStyle(b).backgroundColor") != background
