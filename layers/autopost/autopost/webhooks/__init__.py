"""Signed webhooks: a user registers up to five https endpoints and receives the publication
events they chose, each signed per the Standard Webhooks specification
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).

- `autopost.infra.webhook_signing`: the secret (`whsec_` + base64 of 32 random bytes) and
  the three headers (`webhook-id` = the event's id, stable across retries; `webhook-timestamp`;
  `webhook-signature` = `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`).
- `autopost.infra.webhook_targets`: where a request may go: https only, and in AWS never to
  a private, loopback, link-local, reserved, multicast or unspecified address (SSRF), checked
  on every resolved address, then connecting to the checked address itself (no second
  lookup to rebind).
- `dispatch`: the webhooks queue's consumer. An EventBridge event becomes one delivery
  message per subscribed endpoint; a failed attempt queues the next one on the spec's
  schedule (about 27 h in all; the attempt's number travels in the message), and after the
  last one the delivery is parked in the dead-letter queue.

The endpoints and deliveries themselves are `autopost.domain.webhooks`.
"""
