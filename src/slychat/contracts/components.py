"""JSON Schemas of pydantic models, collected into one `components/schemas` table."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from slychat.protocol.types import Json

REF = "#/components/schemas/{model}"


def model_schema(model: type[BaseModel]) -> Json:
    """The model's JSON Schema, its nested models referenced under components/schemas."""
    return model.model_json_schema(ref_template=REF)


class Components:
    """Every schema a document refers to, by name; a name never stands for two schemas."""

    def __init__(self) -> None:
        self.schemas: Json = {}

    def ref(self, model: type[BaseModel]) -> Json:
        """A `$ref` to the model's schema, which is added (with its nested models)."""
        schema = self.inline(model)
        self._add(model.__name__, schema)
        return {"$ref": REF.format(model=model.__name__)}

    def inline(self, model: type[BaseModel]) -> Json:
        """The model's own schema, its nested models added here and referenced."""
        schema = model_schema(model)
        for name, nested in schema.pop("$defs", {}).items():
            self._add(name, nested)
        return schema

    def _add(self, name: str, schema: Json) -> None:
        known = self.schemas.get(name)
        if known is not None and known != schema:
            raise ValueError(f"two different schemas are both named {name!r}")
        self.schemas[name] = schema

    def sorted(self) -> Json:
        return {name: self.schemas[name] for name in sorted(self.schemas)}


def plain_discriminators(node: Any) -> Any:
    """AsyncAPI's Schema Object names a discriminator by its property alone, where
    pydantic writes OpenAPI's `{propertyName, mapping}` object."""
    if isinstance(node, dict):
        found = node.get("discriminator")
        out = {k: plain_discriminators(v) for k, v in node.items()}
        if isinstance(found, dict):
            out["discriminator"] = found["propertyName"]
        return out
    if isinstance(node, list):
        return [plain_discriminators(v) for v in node]
    return node


def without_null(schema: Json) -> Json:
    """A field's schema where null is not sendable (a query parameter, a form field): a
    missing value stands for null, so the null branch and a null default go."""
    schema = copy.deepcopy(schema)
    if schema.get("default", 0) is None:
        del schema["default"]
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1:
            del schema["anyOf"]
            schema = kept[0] | schema
        else:
            schema["anyOf"] = kept
    return schema
