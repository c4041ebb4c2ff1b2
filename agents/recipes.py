"""Recipes: the YAML a recipe is written in, its schema, and the parse that names a bad line.

A recipe definition (YAML, one document):

    name: weekly-seo-report          # optional; the recipe's name is authoritative
    description: What it does.       # optional
    inputs:                          # optional: name → {type, required, description}
      site: {type: string, required: true}
    steps:                           # at least one, at most 100
      - id: crawl                    # unique in the recipe: [a-z0-9_-]{1,64}
        action: tool                 # tool | prompt | recipe | wait | branch
        tool: web.crawl              # for action tool
        with: {url: "{{ inputs.site }}"}
        needs: []                    # ids of earlier steps
        timeout_seconds: 600         # optional, 1..86400
        retries: 0                   # optional, 0..10
    outputs: {report: "{{ steps.write.output }}"}   # optional

A bad document is a 400 whose message names the line (and column) of the fault.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import yaml

from agents.errors import invalid

MAX_SOURCE_CHARS = 100_000
STEP_ID = r"^[a-z0-9_-]{1,64}$"

RECIPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["steps"],
    "properties": {
        "name": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 5000},
        "inputs": {
            "type": "object",
            "maxProperties": 100,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["type"],
                "properties": {
                    "type": {"enum": ["string", "integer", "number", "boolean", "object", "array"]},
                    "required": {"type": "boolean"},
                    "description": {"type": "string", "maxLength": 1000},
                    "default": {},
                },
            },
        },
        "steps": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "action"],
                "properties": {
                    "id": {"type": "string", "pattern": STEP_ID},
                    "action": {"enum": ["tool", "prompt", "recipe", "wait", "branch"]},
                    "tool": {"type": "string", "maxLength": 64},
                    "prompt": {"type": "string", "maxLength": 20000},
                    "recipe": {"type": "string", "maxLength": 200},
                    "with": {"type": "object"},
                    "needs": {
                        "type": "array",
                        "items": {"type": "string", "pattern": STEP_ID},
                        "maxItems": 100,
                    },
                    "when": {"type": "string", "maxLength": 1000},
                    "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 86400},
                    "retries": {"type": "integer", "minimum": 0, "maximum": 10},
                },
                "allOf": [
                    {"if": {"properties": {"action": {"const": "tool"}}}, "then": {"required": ["tool"]}},
                    {"if": {"properties": {"action": {"const": "prompt"}}}, "then": {"required": ["prompt"]}},
                ],
            },
        },
        "outputs": {"type": "object", "maxProperties": 100},
    },
}


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers each mapping's and sequence's line (for error messages)."""


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    value = _LineDict({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
    value.line = node.start_mark.line + 1
    value.key_lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    return value


def _sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list[Any]:
    value = _LineList(loader.construct_sequence(node, deep=True))
    value.line = node.start_mark.line + 1
    value.item_lines = [item.start_mark.line + 1 for item in node.value]
    return value


class _LineDict(dict[str, Any]):
    line = 0
    key_lines: dict[str, int]


class _LineList(list[Any]):
    line = 0
    item_lines: list[int]


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def _line_of(document: Any, path: list[Any]) -> int:
    """The line of the deepest node on `path` whose line is known."""
    line = getattr(document, "line", 1)
    node = document
    for part in path:
        if isinstance(node, _LineDict) and str(part) in node.key_lines:
            line = node.key_lines[str(part)]
        elif isinstance(node, _LineList) and isinstance(part, int) and part < len(node.item_lines):
            line = node.item_lines[part]
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    return line


def _plain(value: Any) -> Any:
    """The parsed document as plain JSON types (what is stored)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_recipe(source: str) -> dict[str, Any]:
    """Parse and validate a recipe's YAML; a 400 naming the line of the first fault."""
    if len(source) > MAX_SOURCE_CHARS:
        raise invalid("definition", f"A recipe is at most {MAX_SOURCE_CHARS} characters.")
    try:
        document = yaml.load(source, Loader=_LineLoader)  # noqa: S506  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown line"
        raise invalid(
            "definition", f"YAML error at {where}: {exc.problem or exc.context}.", code="invalid_yaml"
        ) from exc
    except yaml.YAMLError as exc:
        raise invalid("definition", f"YAML error: {exc}.", code="invalid_yaml") from exc
    if not isinstance(document, dict):
        raise invalid(
            "definition", "Line 1: a recipe is a mapping with at least `steps`.", code="invalid_recipe"
        )
    try:
        jsonschema.validate(document, RECIPE_SCHEMA)
    except jsonschema.ValidationError as exc:
        path = list(exc.absolute_path)
        where = ".".join(str(p) for p in path) or "the document"
        line = _line_of(document, path)
        raise invalid("definition", f"Line {line}: {where}: {exc.message}", code="invalid_recipe") from exc
    seen: set[str] = set()
    for index, step in enumerate(document["steps"]):
        line = _line_of(document, ["steps", index])
        for need in step.get("needs", []):
            if need not in seen:
                raise invalid(
                    "definition",
                    f"Line {line}: step {step['id']!r} needs {need!r}, not an earlier step.",
                    code="invalid_recipe",
                )
        if step["id"] in seen:
            raise invalid(
                "definition", f"Line {line}: step id {step['id']!r} is used twice.", code="invalid_recipe"
            )
        seen.add(step["id"])
    return _plain(document)
