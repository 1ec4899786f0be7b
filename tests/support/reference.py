"""Validators built from tests/reference (copies of the official VK API JSON schema and the
Telegram Bot API spec, see its README). Tests check the emulators' answers and our clients'
requests with them, so emulators and clients speak the platforms' real formats."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from devstack.template import ROOT

REFERENCE = ROOT / "tests" / "reference"
VK = REFERENCE / "vk-api-schema"
TELEGRAM = REFERENCE / "telegram-bot-api.json"
BASE_URI = "https://vk-schema.local/"


def _hoist_required(node: Any) -> Any:
    """The VK schema marks required properties draft-3 style (`"required": true` on the
    property); JSON Schema draft 7 wants a list on the object."""
    if isinstance(node, list):
        return [_hoist_required(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _hoist_required(value) for key, value in node.items()}
    properties = node.get("properties")
    if isinstance(properties, dict):
        required = [
            name
            for name, spec in properties.items()
            if isinstance(spec, dict) and spec.get("required") is True
        ]
        for spec in properties.values():
            if isinstance(spec, dict) and isinstance(spec.get("required"), bool):
                del spec["required"]
        if required:
            node["required"] = sorted(
                set(required)
                | set(node.get("required", []) if isinstance(node.get("required"), list) else [])
            )
    return node


@functools.cache
def _vk_registry() -> Registry:
    resources = []
    for path in VK.rglob("*.json"):
        contents = _hoist_required(json.loads(path.read_text()))
        contents.pop("$schema", None)
        uri = BASE_URI + path.relative_to(VK).as_posix()
        resources.append((uri, Resource.from_contents(contents, default_specification=DRAFT7)))
    return Registry().with_resources(resources)


def vk_problems(instance: Any, file: str, definition: str) -> list[str]:
    """Schema violations of `instance` against `file#/definitions/definition`."""
    validator = Draft7Validator(
        {"$ref": f"{BASE_URI}{file}#/definitions/{definition}"}, registry=_vk_registry()
    )
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def vk_error_codes() -> set[int]:
    return {entry["code"] for entry in json.loads((VK / "errors.json").read_text())["errors"].values()}


@functools.cache
def _telegram() -> dict[str, Any]:
    return json.loads(TELEGRAM.read_text())


def telegram_method_returns(method: str) -> list[str]:
    return _telegram()["methods"][method]["returns"]


def telegram_problems(value: Any, type_name: str, path: str = "result") -> list[str]:
    """Violations of the Bot API type `type_name`: unknown or missing fields, wrong types."""
    spec = _telegram()
    if type_name.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: expected an array"]
        return [
            p for i, item in enumerate(value) for p in telegram_problems(item, type_name[9:], f"{path}[{i}]")
        ]
    scalar = {"Integer": int, "String": str, "Boolean": bool, "Float": (int, float), "True": bool}
    if type_name in scalar:
        ok = isinstance(value, scalar[type_name]) and not (type_name == "Integer" and isinstance(value, bool))
        return [] if ok else [f"{path}: expected {type_name}, got {type(value).__name__}"]
    kind = spec["types"][type_name]
    if kind.get("subtypes"):
        results = [telegram_problems(value, sub, path) for sub in kind["subtypes"]]
        return [] if any(not r for r in results) else [f"{path}: matches no subtype of {type_name}"]
    if not isinstance(value, dict):
        return [f"{path}: expected an object {type_name}"]
    fields = {f["name"]: f for f in kind.get("fields", [])}
    problems = [f"{path}.{name}: not a field of {type_name}" for name in value if name not in fields]
    for name, field in fields.items():
        if name not in value:
            if field["required"]:
                problems.append(f"{path}.{name}: required by {type_name}")
            continue
        options = [telegram_problems(value[name], t, f"{path}.{name}") for t in field["types"]]
        if all(options):
            problems.extend(options[0])
    return problems


def vk_method_parameters(method: str) -> set[str]:
    """The parameter names the schema documents for a VK method (e.g. `video.save`)."""
    section = method.split(".")[0]
    methods = json.loads((VK / section / "methods.json").read_text())["methods"]
    (found,) = [m for m in methods if m["name"] == method]
    return {parameter["name"] for parameter in found.get("parameters", [])}


def telegram_method_fields(method: str) -> set[str]:
    return {field["name"] for field in _telegram()["methods"][method].get("fields", [])}
