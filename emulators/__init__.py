"""Local emulators of the VK, Telegram, Rutube and Дзен APIs, speaking their wire formats.

Each is a small HTTP server on loopback that records what it received (so a test can count
posts and bytes), takes fault injection per endpoint, and answers in the platform's own
shapes (checked against tests/reference by tests/integration/providers/test_emulator_schemas.py).
Each module names the public client or document its wire format follows.
"""
