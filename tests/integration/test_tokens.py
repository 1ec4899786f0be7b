"""Tokens at rest: rotation with resume, refresh races, expiry, and nothing in the logs."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from secrets import randbelow, token_urlsafe

import boto3
import pytest
from pydantic import SecretStr

from autopost.connecting.token_refresh import TokenRefresher
from autopost.domain.errors import TokenExpired
from autopost.domain.models import Account, ConnectionStatus, Credentials
from autopost.domain.platforms import Platform
from autopost.infra import runtime
from autopost.infra.crypto import TokenCipher
from autopost.infra.observability import logger as service_logger
from autopost.infra.secrets import token_cipher
from autopost.infra.settings import get_settings
from autopost.maintenance.rotation import Rotation
from autopost.providers.vk import VkProvider
from autopost.storage.connections import ConnectionRepository
from autopost.storage.errors import ConnectionChanged
from tests.conftest import TOKEN_SECRET

NEW_SECRET = SecretStr("rotated-secret-" + "z" * 40)


def store(
    repository, user, platform=Platform.RUTUBE, access="access-token-value", refresh="refresh-token-value"
):
    credentials = Credentials(SecretStr(access), SecretStr(refresh) if refresh else None)
    return repository.connect(user, platform, Account(account_id=user, name=user), credentials)


def test_rotation_reencrypts_every_row_and_resumes_after_a_crash(harness):
    settings = get_settings()
    old = TokenCipher(SecretStr(TOKEN_SECRET))
    for index in range(23):
        store(
            ConnectionRepository(settings, old),
            f"user-{index:02d}",
            access=f"access-{index}",
            refresh=f"refresh-{index}",
        )
    rotating = TokenCipher(NEW_SECRET, previous=[SecretStr(TOKEN_SECRET)])

    first = Rotation(settings, rotating).run(page_size=10, max_pages=1)  # then the process "dies"
    assert (first.rotated, first.finished, first.resumed) == (10, False, False)

    second = Rotation(settings, rotating).run(page_size=10)
    assert second.resumed is True
    assert second.finished is True
    assert second.rotated == 13  # the first page was not scanned again

    again = Rotation(settings, rotating).run(page_size=10)
    assert (again.rotated, again.skipped) == (0, 23)

    # The old key can go: every row opens with the new key alone.
    only_new = ConnectionRepository(settings, TokenCipher(NEW_SECRET))
    for index in range(23):
        _, credentials = only_new.credentials(f"user-{index:02d}", Platform.RUTUBE)
        assert credentials.access_token.get_secret_value() == f"access-{index}"
        assert credentials.refresh_token.get_secret_value() == f"refresh-{index}"


@pytest.fixture
def vk_connection(harness, platforms):
    settings = get_settings()
    repository = ConnectionRepository(settings, TokenCipher(SecretStr(TOKEN_SECRET)))
    access, refresh = platforms.vk.issue_token(device_id="dev-1")
    credentials = Credentials(
        SecretStr(access), SecretStr(refresh), account_id="1001", extra={"device_id": "dev-1"}
    )
    connection = repository.connect("user-1", Platform.VK, Account("1001", "VK id1001"), credentials)
    return repository, connection, credentials, VkProvider(settings)


def test_two_workers_refreshing_at_once_end_with_one_valid_pair(vk_connection, platforms):
    repository, connection, stale, provider = vk_connection
    results, errors = [], []
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        try:
            results.append(TokenRefresher(get_settings(), repository).refresh(provider, connection, stale))
        except TokenExpired as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    (_, first), (_, second) = results
    assert first.access_token.get_secret_value() == second.access_token.get_secret_value()
    stored_connection, stored = repository.credentials("user-1", Platform.VK)
    assert stored.access_token.get_secret_value() == first.access_token.get_secret_value()
    assert stored_connection.version == connection.version + 1
    assert stored_connection.status is ConnectionStatus.ACTIVE
    # The pair that was kept works on the platform.
    assert provider.check(stored).account_id == "1001"


def test_a_failed_refresh_marks_the_connection_expired_now(vk_connection, platforms):
    repository, connection, stale, provider = vk_connection
    platforms.vk.inject("oauth2/auth", "token_expired")
    before = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(TokenExpired) as caught:
        TokenRefresher(get_settings(), repository).refresh(provider, connection, stale)
    assert caught.value.message == "Токен истёк, переподключите платформу"
    expired = repository.get("user-1", Platform.VK)
    assert expired.status is ConnectionStatus.EXPIRED
    assert before <= expired.expires_at <= datetime.now(UTC)


def test_an_expired_connection_blocks_publishing_until_reconnected(vk_connection, harness, platforms):
    repository, connection, stale, provider = vk_connection
    platforms.vk.inject("oauth2/auth", "token_expired")
    with pytest.raises(TokenExpired):
        TokenRefresher(get_settings(), repository).refresh(provider, connection, stale)
    harness.ready_clip()
    response = harness.api("POST", "/clips/clip-1/publications", body={"platforms": ["vk"], "title": "t"})
    assert response.body["error"]["code"] == "CONNECTION_EXPIRED"


def bot_token() -> str:
    """A Bot API token's shape: the bot's numeric id, a colon, the secret part."""
    return f"{randbelow(9 * 10**9) + 10**9}:{token_urlsafe(27)}"


def test_no_token_reaches_any_log_line(harness, platforms, caplog, capfd, monkeypatch):
    """Every flow that handles tokens, with known values; no 8-character piece may appear."""
    caplog.set_level(logging.DEBUG)
    service_logger.setLevel("DEBUG")
    secrets = []
    try:
        # Telegram, own bot and the service's bot.
        bot = platforms.telegram.add_bot(token=bot_token())
        service_bot = platforms.telegram.add_bot("svc", token=bot_token())
        secrets += [bot, service_bot]
        platforms.telegram.add_channel("leak_channel", admin_bots=(bot, service_bot))
        harness.api("POST", "/connections/telegram", body={"channel": "@leak_channel", "botToken": bot})
        refused_bot = bot_token()
        secrets.append(refused_bot)
        harness.api(
            "POST", "/connections/telegram", body={"channel": "@leak_channel", "botToken": refused_bot}
        )
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", service_bot)
        webhook_secret = token_urlsafe(30)
        secrets.append(webhook_secret)
        monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", webhook_secret)
        runtime.reset()
        platforms.telegram.add_channel("leak_service_channel", admin_bots=(service_bot,))
        proof = harness.api(
            "POST", "/connections/telegram/proof", body={"channel": "@leak_service_channel"}, user="user-2"
        )
        post = platforms.telegram.post_in_channel("@leak_service_channel", proof.body["code"])
        harness.api(
            "POST",
            "/telegram/webhook",
            body=post,
            user=None,
            headers={"x-telegram-bot-api-secret-token": webhook_secret},
        )
        harness.api(
            "POST",
            "/telegram/webhook",
            body=post,
            user=None,
            headers={"x-telegram-bot-api-secret-token": "forged"},
        )
        # Rutube, accepted and refused.
        rutube = platforms.rutube.issue_token()
        secrets.append(rutube)
        harness.api("POST", "/connections/rutube", body={"token": rutube})
        refused_rutube = token_urlsafe(30)
        secrets.append(refused_rutube)
        harness.api("POST", "/connections/rutube", body={"token": refused_rutube})
        # Rutube by login and password (the password only passes through).
        from emulators.rutube import DEMO_LOGIN, DEMO_PASSWORD

        secrets.append(DEMO_PASSWORD)
        harness.api(
            "POST",
            "/connections/rutube",
            body={"login": DEMO_LOGIN, "password": DEMO_PASSWORD},
            user="user-3",
        )
        # Дзен's studio session, accepted and dead.
        session = platforms.dzen.issue_session()
        cookies = dict(part.split("=", 1) for part in session.split("; "))
        # The random parts (Session_id starts with a timestamp, which logs carry anyway).
        secrets += [cookies["Session_id"].rsplit(".", 1)[1], cookies["sessionid2"]]
        harness.api("POST", "/connections/dzen", body={"session": session}, user="user-4")
        platforms.dzen.end_session(session)
        harness.api("POST", "/connections/dzen", body={"session": session}, user="user-5")
        # VK through OAuth, then a refresh, then a refresh that fails.
        from tests.integration.test_connections_api import approve, authorize, complete

        _, returned = approve(authorize(harness, "vk"))
        secrets.append(returned["code"])  # short-lived, but a credential while it lives
        complete(harness, returned)
        secrets += list(platforms.vk.tokens) + list(platforms.vk.refresh_tokens)
        repository = ConnectionRepository(get_settings(), TokenCipher(SecretStr(TOKEN_SECRET)))
        connection, credentials = repository.credentials("user-1", Platform.VK)
        refresher, provider = TokenRefresher(get_settings(), repository), VkProvider(get_settings())
        connection, credentials = refresher.refresh(provider, connection, credentials)
        secrets += [credentials.access_token.get_secret_value(), credentials.refresh_token.get_secret_value()]
        platforms.vk.inject("oauth2/auth", "token_expired")
        with pytest.raises(TokenExpired):
            refresher.refresh(provider, connection, credentials)
        secrets.append(TOKEN_SECRET)
    finally:
        service_logger.setLevel("INFO")

    captured = capfd.readouterr()
    text = "\n".join([captured.out, captured.err, caplog.text, *(repr(r.__dict__) for r in caplog.records)])
    assert "platform connected" in text  # the flows did log
    for secret in secrets:
        for start in range(len(secret) - 7):
            piece = secret[start : start + 8]
            assert piece not in text, f"a piece of a token reached the logs: {piece[:2]}…"


class TestRotationThroughSecretsManager:
    """The token key as AWS keeps it: a Secrets Manager secret whose old value stays as the
    AWSPREVIOUS stage after `put-secret-value`."""

    OLD, NEW = "old-secret-" + "a" * 40, "new-secret-" + "b" * 40

    @pytest.fixture
    def secret(self, harness, monkeypatch):
        manager = boto3.client("secretsmanager", region_name="eu-central-1")
        arn = manager.create_secret(Name=f"tokens-{token_urlsafe(6)}", SecretString=self.OLD)["ARN"]
        monkeypatch.delenv("PLATFORM_TOKEN_SECRET", raising=False)
        monkeypatch.setenv("PLATFORM_TOKEN_SECRET_ARN", arn)
        monkeypatch.setenv("SECRETS_CACHE_SECONDS", "0")  # AWS: 5 minutes
        runtime.reset()
        return manager, arn

    def rotate(self, secret):
        manager, arn = secret
        manager.put_secret_value(SecretId=arn, SecretString=self.NEW)

    def key_of(self, user, platform=Platform.RUTUBE):
        from autopost.storage.tables import records

        row = records(get_settings()).connection.get(user, platform.value)
        return TokenCipher(SecretStr(self.NEW)).key_id_of(row.tokens.as_dict()["access"])

    def test_a_warm_environment_writes_with_the_new_key_once_it_is_current(self, secret):
        warm = ConnectionRepository(get_settings(), token_cipher)  # built before the rotation
        store(warm, "before")
        self.rotate(secret)
        store(warm, "after")
        assert self.key_of("after") == TokenCipher(SecretStr(self.NEW)).current_key_id
        # and it still reads the row written under the old key: AWSPREVIOUS is the previous key
        assert (
            warm.credentials("before", Platform.RUTUBE)[1].access_token.get_secret_value()
            == "access-token-value"
        )

    def test_a_row_written_under_the_new_key_opens_where_the_old_key_is_still_cached(
        self, secret, monkeypatch
    ):
        """Right after put-secret-value, an environment that has read the new key writes with
        it while another still holds the old keys in its cache (5 minutes in AWS): that one
        reads the keys again, rather than telling the user their token is broken."""
        monkeypatch.setenv("SECRETS_CACHE_SECONDS", "300")
        runtime.reset()
        stale = ConnectionRepository(get_settings(), token_cipher)
        store(stale, "before")  # this environment has the old key cached now
        self.rotate(secret)
        fresh = ConnectionRepository(get_settings(), TokenCipher(SecretStr(self.NEW)))
        store(fresh, "after", access="written-under-the-new-key")
        _, credentials = stale.credentials("after", Platform.RUTUBE)
        assert credentials.access_token.get_secret_value() == "written-under-the-new-key"
        # and the old row still opens (AWSPREVIOUS)
        assert stale.credentials("before", Platform.RUTUBE)[1].access_token.get_secret_value()

    def test_a_row_changed_during_its_reencryption_is_reencrypted_again(self, secret):
        settings = get_settings()
        old_writer = ConnectionRepository(settings, TokenCipher(SecretStr(self.OLD)))
        store(old_writer, "racer")
        self.rotate(secret)
        rotating = ConnectionRepository(settings, token_cipher)
        (row,) = [r for r in rotating.scan_page(None, 100)[0] if r.user_id == "racer"]
        # A worker that has not noticed the new key refreshes the row meanwhile.
        connection, _ = old_writer.credentials("racer", Platform.RUTUBE)
        old_writer.store_refreshed(
            connection, Credentials(SecretStr("refreshed-access"), SecretStr("refreshed-refresh"))
        )

        assert rotating.reencrypt(row) is True
        only_new = ConnectionRepository(settings, TokenCipher(SecretStr(self.NEW)))
        assert (
            only_new.credentials("racer", Platform.RUTUBE)[1].access_token.get_secret_value()
            == "refreshed-access"
        )

    def test_finished_only_after_a_pass_finds_no_old_key(self, secret):
        settings = get_settings()
        old_writer = ConnectionRepository(settings, TokenCipher(SecretStr(self.OLD)))
        for index in range(6):
            store(old_writer, f"user-{index}")
        self.rotate(secret)
        first = Rotation(settings, token_cipher()).run(page_size=3, max_pages=1)
        assert first.finished is False
        # A late writer puts a row under the old key behind the scan's position.
        store(old_writer, "user-0", access="late-access")
        report = Rotation(settings, token_cipher()).run(page_size=3)
        assert report.finished is True
        assert report.stragglers >= 1
        only_new = ConnectionRepository(settings, TokenCipher(SecretStr(self.NEW)))
        assert (
            only_new.credentials("user-0", Platform.RUTUBE)[1].access_token.get_secret_value()
            == "late-access"
        )

    def test_a_refresh_racing_the_rotation_then_the_old_key_removed(self, secret, platforms):
        """Workers keep refreshing a VK connection while the rotation runs; afterwards every
        connection opens with the new key alone."""
        settings = get_settings()
        warm = ConnectionRepository(settings, token_cipher)
        for index in range(40):
            store(warm, f"user-{index:02d}", access=f"access-{index}")
        access, refresh = platforms.vk.issue_token(device_id="dev-1")
        vk = Credentials(
            SecretStr(access), SecretStr(refresh), account_id="1001", extra={"device_id": "dev-1"}
        )
        warm.connect("refresher", Platform.VK, Account("1001", "VK"), vk)
        self.rotate(secret)
        stop, errors = threading.Event(), []

        def keep_refreshing():
            provider, refresher = VkProvider(settings), TokenRefresher(settings, warm)
            while not stop.is_set():
                try:
                    connection, credentials = warm.credentials("refresher", Platform.VK)
                    refresher.refresh(provider, connection, credentials)
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                    return

        racer = threading.Thread(target=keep_refreshing)
        racer.start()
        try:
            report = Rotation(settings, token_cipher()).run(page_size=5)
        finally:
            stop.set()
            racer.join()
        assert errors == []
        assert report.finished is True
        only_new = ConnectionRepository(settings, TokenCipher(SecretStr(self.NEW)))
        for index in range(40):
            assert only_new.credentials(f"user-{index:02d}", Platform.RUTUBE) is not None
        assert only_new.credentials("refresher", Platform.VK)[1].refresh_token is not None


def test_a_refresh_that_outlived_its_lease_does_not_free_the_next_holders(vk_connection, platforms):
    """Worker A's refresh is slow; its lease runs out and worker B takes the lease. When A
    is done it must not delete B's lease (B would then race a third worker)."""
    from datetime import timedelta as span

    from autopost.storage.tables import records

    repository, connection, stale, provider = vk_connection
    platforms.vk.inject("oauth2/auth", "slow", delay=1.5)
    slow = TokenRefresher(get_settings(), repository, lease=span(seconds=0.5))
    worker = threading.Thread(target=lambda: slow.refresh(provider, connection, stale))
    worker.start()
    control = records(get_settings()).control
    lease = "refresh#user-1#vk"
    # B takes the lease while A is inside VK's slow answer (A holds it by then, and it has
    # run out): not the moment it appears, when A's own write may not have returned yet.
    time_limit = datetime.now(UTC) + timedelta(seconds=5)
    while not platforms.vk.calls_to("oauth2/auth") and datetime.now(UTC) < time_limit:
        time.sleep(0.01)
    assert control.get(lease, consistent_read=True).payload != "worker-b"
    control(lease, payload="worker-b", expires_at=datetime.now(UTC) + timedelta(seconds=30)).save()
    worker.join()
    assert control.get(lease, consistent_read=True).payload == "worker-b"


class RefreshWith(VkProvider):
    """VK as it is, except that something else happens at our end while VK answers the
    refresh: after VK has spent the old refresh token and before we store the new pair."""

    def __init__(self, settings, meanwhile) -> None:
        super().__init__(settings)
        self._meanwhile = meanwhile

    def refresh(self, credentials):
        fresh = super().refresh(credentials)
        self._meanwhile()
        return fresh


def usable(repository, user, platforms) -> bool:
    """The stored refresh token is one VK still honours (single use: the live one)."""
    _, stored = repository.credentials(user, Platform.VK)
    return stored.refresh_token.get_secret_value() in platforms.vk.refresh_tokens


ROTATED_KEYS = [SecretStr(f"rotation-key-{n}-" + "k" * 40) for n in range(3)]


def cipher_for(current: int) -> TokenCipher:
    """Key `current` writes; every key of the test still reads (its previous keys)."""
    return TokenCipher(
        ROTATED_KEYS[current], previous=[k for i, k in enumerate(ROTATED_KEYS) if i != current]
    )


@pytest.mark.parametrize("meanwhile", ["rotation", "settings", "expired_by_a_stale_worker"])
def test_a_refresh_keeps_its_fresh_pair_when_the_row_is_rewritten_meanwhile(meanwhile, harness, platforms):
    """The interleaving that lost a user's tokens: VK spends the old refresh token and hands
    out a new pair, another writer rewrites the row, our conditional write then fails; the
    row (holding the dead refresh token) must not win over the only live pair."""
    settings = get_settings()
    worker = ConnectionRepository(settings, cipher_for(0))
    other = ConnectionRepository(settings, cipher_for(1))
    access, refresh = platforms.vk.issue_token(device_id="dev-1")
    vk = Credentials(SecretStr(access), SecretStr(refresh), account_id="1001", extra={"device_id": "dev-1"})
    worker.connect("racer", Platform.VK, Account("1001", "VK"), vk)
    connection, stale = worker.credentials("racer", Platform.VK)

    def rewrite() -> None:
        if meanwhile == "rotation":
            assert Rotation(settings, cipher_for(1)).run().rotated == 1
        elif meanwhile == "settings":
            current = other.get("racer", Platform.VK)
            other.set_extra(current, {"group_id": "77"})
        else:  # a worker with the old pair was refused at VK and marks the row expired
            assert other.mark_expired(other.get("racer", Platform.VK)) is True

    provider = RefreshWith(settings, rewrite)
    refreshed, fresh = TokenRefresher(settings, worker).refresh(provider, connection, stale)

    assert refreshed.status is ConnectionStatus.ACTIVE
    assert usable(worker, "racer", platforms)
    _, stored = worker.credentials("racer", Platform.VK)
    assert stored.refresh_token.get_secret_value() == fresh.refresh_token.get_secret_value()
    # and the next refresh works: the user is not sent to reconnect
    again, _ = TokenRefresher(settings, worker).refresh(VkProvider(settings), refreshed, fresh)
    assert again.generation == refreshed.generation + 1
    assert usable(worker, "racer", platforms)


def test_a_reconnect_during_a_refresh_wins_and_stays_usable(harness, platforms):
    """The user connected VK again while a worker refreshed the old grant: the new grant
    is what the user just approved, so it is kept, and the worker uses it."""
    settings = get_settings()
    repository = ConnectionRepository(settings, cipher_for(0))
    access, refresh = platforms.vk.issue_token(device_id="dev-1")
    old = Credentials(SecretStr(access), SecretStr(refresh), account_id="1001", extra={"device_id": "dev-1"})
    repository.connect("racer", Platform.VK, Account("1001", "VK"), old)
    connection, stale = repository.credentials("racer", Platform.VK)
    approved = {}

    def reconnect() -> None:
        access, refresh = platforms.vk.issue_token(device_id="dev-2")
        approved["refresh"] = refresh
        new = Credentials(
            SecretStr(access), SecretStr(refresh), account_id="1001", extra={"device_id": "dev-2"}
        )
        repository.connect("racer", Platform.VK, Account("1001", "VK"), new)

    _, used = TokenRefresher(settings, repository).refresh(
        RefreshWith(settings, reconnect), connection, stale
    )
    assert used.refresh_token.get_secret_value() == approved["refresh"]
    _, stored = repository.credentials("racer", Platform.VK)
    assert stored.refresh_token.get_secret_value() == approved["refresh"]
    assert usable(repository, "racer", platforms)


def test_a_disconnect_during_a_refresh_leaves_no_row(harness, platforms):
    settings = get_settings()
    repository = ConnectionRepository(settings, cipher_for(0))
    access, refresh = platforms.vk.issue_token(device_id="dev-1")
    vk = Credentials(SecretStr(access), SecretStr(refresh), account_id="1001", extra={"device_id": "dev-1"})
    repository.connect("racer", Platform.VK, Account("1001", "VK"), vk)
    connection, stale = repository.credentials("racer", Platform.VK)
    provider = RefreshWith(settings, lambda: repository.delete("racer", Platform.VK))
    with pytest.raises(TokenExpired):
        TokenRefresher(settings, repository).refresh(provider, connection, stale)
    assert repository.get("racer", Platform.VK) is None


def test_refreshes_against_rotations_reconnects_and_settings_lose_no_grant(harness, platforms):
    """Many interleavings, not one lucky one: workers keep refreshing three VK connections
    while key rotations, reconnects and settings changes rewrite the same rows. No refresh
    may fail, and afterwards every connection refreshes again."""
    settings = get_settings()
    users = [f"soak-{n}" for n in range(3)]
    workers = ConnectionRepository(settings, cipher_for(0))
    for user in users:
        access, refresh = platforms.vk.issue_token(device_id=user)
        vk = Credentials(SecretStr(access), SecretStr(refresh), account_id="1001", extra={"device_id": user})
        workers.connect(user, Platform.VK, Account("1001", "VK"), vk)
    stop, errors, counts = threading.Event(), [], {"refreshes": 0, "rotations": 0, "reconnects": 0}
    lock = threading.Lock()

    def guarded(name, body):
        def run() -> None:
            n = 0
            while not stop.is_set():
                try:
                    body(n)
                except Exception as exc:  # noqa: BLE001 - every failure is reported below
                    errors.append((name, repr(exc)))
                    return
                n += 1
                with lock:
                    counts[name] = counts.get(name, 0) + 1

        return threading.Thread(target=run, name=name)

    def refreshing(user):
        def body(_: int) -> None:
            connection, credentials = workers.credentials(user, Platform.VK)
            TokenRefresher(settings, workers).refresh(VkProvider(settings), connection, credentials)

        return body

    def rotating(n: int) -> None:
        Rotation(settings, cipher_for(1 + n % 2)).run(page_size=2)

    def reconnecting(n: int) -> None:
        user = users[n % len(users)]
        access, refresh = platforms.vk.issue_token(device_id=user)
        vk = Credentials(SecretStr(access), SecretStr(refresh), account_id="1001", extra={"device_id": user})
        ConnectionRepository(settings, cipher_for(2)).connect(user, Platform.VK, Account("1001", "VK"), vk)
        stop.wait(0.05)

    def changing_settings(n: int) -> None:
        user = users[n % len(users)]
        repository = ConnectionRepository(settings, cipher_for(1))
        with contextlib.suppress(ConnectionChanged):  # the user's page was stale: told to reload
            repository.set_extra(repository.get(user, Platform.VK), {"group_id": str(n)})

    threads = [guarded("refreshes", refreshing(user)) for user in users for _ in range(2)]
    threads += [
        guarded("rotations", rotating),
        guarded("reconnects", reconnecting),
        guarded("settings", changing_settings),
    ]
    for thread in threads:
        thread.start()
    stop.wait(12)
    stop.set()
    for thread in threads:
        thread.join()

    assert errors == []
    assert counts["refreshes"] >= 20 and counts["rotations"] >= 3 and counts["reconnects"] >= 3, counts
    for user in users:
        assert usable(workers, user, platforms), user
        connection, credentials = workers.credentials(user, Platform.VK)
        assert connection.status is ConnectionStatus.ACTIVE
        TokenRefresher(settings, workers).refresh(VkProvider(settings), connection, credentials)
        assert usable(workers, user, platforms), user


def make_endpoints(cipher, count=7):
    from autopost.storage.webhooks import WebhookRepository

    repository, made = WebhookRepository(get_settings(), cipher), {}
    for index in range(count):
        user = f"hook-user-{index % 3}"
        endpoint, secret = repository.create(user, f"https://hooks.example.com/{index}", ())
        made[(user, endpoint.endpoint_id)] = secret.get_secret_value()
    return made


def opens_with(cipher, made) -> bool:
    from autopost.storage.webhooks import WebhookRepository

    repository = WebhookRepository(get_settings(), cipher)
    return all(
        repository.with_secret(user, endpoint_id)[1].get_secret_value() == secret
        for (user, endpoint_id), secret in made.items()
    )


def test_webhook_secrets_rotate_under_their_own_key_and_resume_after_a_crash(harness):
    from autopost.maintenance.rotation import WEBHOOKS

    old, new = SecretStr("webhook-key-old-" + "o" * 40), SecretStr("webhook-key-new-" + "n" * 40)
    made = make_endpoints(TokenCipher(old))
    rotating = TokenCipher(new, previous=[old])
    first = Rotation(get_settings(), rotating, WEBHOOKS).run(page_size=2, max_pages=1)
    assert first.finished is False
    report = Rotation(get_settings(), rotating, WEBHOOKS).run(page_size=2)
    assert report.resumed is True and report.finished is True
    assert first.rotated + report.rotated == len(made)
    # The old key can go: every endpoint's secret opens with the new key alone.
    assert opens_with(TokenCipher(new), made)
    # A token rotation does not touch them, and the tokens' key never opened them.
    assert not Rotation(get_settings(), TokenCipher(SecretStr(TOKEN_SECRET))).run().rotated


def test_secrets_stored_under_the_token_key_move_to_the_webhook_key(harness):
    """Endpoints made before webhook secrets had a key of their own: the migration moves
    them, and from then on the webhook key alone opens them (the tokens' key does not)."""
    from autopost.infra.crypto import TokenDecryptError
    from autopost.infra.secrets import webhook_cipher
    from autopost.maintenance.migrations import move_webhook_secrets_to_their_key

    made = make_endpoints(token_cipher(), count=4)
    report = move_webhook_secrets_to_their_key(get_settings())
    assert (report.rotated, report.finished) == (4, True)
    assert opens_with(webhook_cipher(), made)
    webhook_key = TokenCipher(SecretStr(get_settings().webhook_secret_key.get_secret_value()))
    assert opens_with(webhook_key, made)
    with pytest.raises(TokenDecryptError):
        opens_with(TokenCipher(SecretStr(TOKEN_SECRET)), made)
    assert move_webhook_secrets_to_their_key(get_settings()).rotated == 0
