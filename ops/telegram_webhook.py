"""Point the service bot's updates at the API, once after deploying:

    make telegram-webhook API_URL=https://<api id>.execute-api.<region>.amazonaws.com

Reads TELEGRAM_BOT_TOKEN (the service bot) and TELEGRAM_WEBHOOK_SECRET (the template's
`TelegramWebhookSecret`: `aws secretsmanager get-secret-value --secret-id …`) from the
environment. Telegram then sends the bot's channel posts to `/telegram/webhook` with that
secret in `X-Telegram-Bot-Api-Secret-Token`; that is how a channel owner's posted code
reaches us (README, "Telegram through the service's bot").
"""

from __future__ import annotations

import os
import sys

from pydantic import SecretStr

from autopost.domain.errors import PlatformError
from autopost.domain.models import Credentials
from autopost.providers.telegram import TelegramProvider
from ops.live import need, settings


def main(arguments: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if arguments is None else arguments
    api_url = (arguments[0] if arguments else os.environ.get("API_URL", "")).rstrip("/")
    if not api_url.startswith("https://") and not api_url.startswith("http://127.0.0.1"):
        raise SystemExit("give the API's https URL: make telegram-webhook API_URL=https://…")
    token, secret = need("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")
    provider = TelegramProvider(settings())
    try:
        provider.set_webhook(Credentials(SecretStr(token)), f"{api_url}/telegram/webhook", SecretStr(secret))
    except PlatformError as exc:
        print(f"✗ Telegram: {exc.message}", file=sys.stderr)
        return 1
    print(f"the service bot's channel posts now go to {api_url}/telegram/webhook")
    return 0


if __name__ == "__main__":
    sys.exit(main())
