"""Prints the OpenAPI document the API serves at /openapi.json (docs/openapi.json keeps a copy)."""

from __future__ import annotations

import json

from autopost.api.app import API_TITLE, API_VERSION, build_app


def document() -> dict:
    return json.loads(build_app().get_openapi_json_schema(title=API_TITLE, version=API_VERSION))


def main() -> None:
    print(json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
