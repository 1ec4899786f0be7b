"""The least environment a Settings needs, for tests that touch no table."""

REQUIRED = {
    "CLIPS_TABLE": "c",
    "PUBLICATIONS_TABLE": "p",
    "CONNECTIONS_TABLE": "n",
    "CONTROL_TABLE": "x",
    "CLIPS_BUCKET": "b",
}
