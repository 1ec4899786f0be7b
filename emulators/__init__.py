"""Local emulators of the VK, Telegram, Rutube and Дзен APIs, speaking their wire formats.

Each is a small HTTP server on loopback that records what it received (so a test can count
posts and bytes), takes fault injection per endpoint, and answers in the platform's own
shapes (checked against ../shared/reference by tests/unit/test_emulator_schemas.py).
"""
