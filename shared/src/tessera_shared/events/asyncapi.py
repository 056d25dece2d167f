"""The AsyncAPI 3 document of the event contract, built from the same pydantic models.

Channels are the four topics (Kafka bindings: topic, partitions, key); each producing
service has a ``send`` operation, each consuming service a ``receive`` operation with its
consumer group and the types it handles.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tessera_shared.events.envelope import PRODUCERS, dataschema_for, topic_for
from tessera_shared.events.schemas import all_schemas, producers_of

KAFKA_BINDING = "0.5.0"


@dataclass(frozen=True)
class Consumer:
    service: str
    group_id: str
    topics: tuple[str, ...]  # producing services whose topics it reads
    handles: tuple[str, ...]  # event types it reacts to


def _camel(name: str) -> str:
    parts = name.replace(".", "-").replace("_", "-").split("-")
    return parts[0] + "".join(p.title() for p in parts[1:])


def _hoist(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Move a schema's ``$defs`` into components/schemas and point its refs there."""
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", {})
    schema.pop("$schema", None)

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
                node["$ref"] = "#/components/schemas/" + node["$ref"].removeprefix("#/$defs/")
            return {k: fix(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    for name, sub in defs.items():
        components[name] = fix(sub)
    fixed: dict[str, Any] = fix(schema)
    return fixed


def _source(event_type: str) -> dict[str, Any]:
    producers = producers_of(event_type)
    if len(producers) == 1:
        return {"const": f"/crm/{producers[0]}"}
    return {"enum": [f"/crm/{p}" for p in producers]}


def _envelope(event_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "CloudEvents 1.0, structured mode",
        "required": ["specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "description": "unique per source; deduplicate by (source, id)"},
            "source": _source(event_type),
            "type": {"const": event_type},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string", "description": "the customer id (the message key)"},
            "datacontenttype": {"const": "application/json"},
            "dataschema": {
                "type": "string",
                "format": "uri",
                "description": "absolute URL of the data's JSON Schema, served by the gateway "
                "without a token (its public URL, TESSERA_PUBLIC_GATEWAY_URL), "
                f"e.g. {dataschema_for(event_type)}",
            },
            "traceparent": {"type": "string", "description": "W3C trace context"},
            "data": {"$ref": f"#/components/schemas/{event_type}"},
        },
    }


def build_document(consumers: list[Consumer], *, partitions: int = 6) -> dict[str, Any]:
    schemas = all_schemas()
    components_schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, schema in schemas.items():
        components_schemas[event_type] = _hoist(schema, components_schemas)
        messages[event_type] = {
            "name": event_type,
            "title": event_type,
            "summary": (schema.get("description") or event_type).split("\n")[0],
            "contentType": "application/cloudevents+json",
            "headers": {"type": "object", "properties": {"content-type": {"const": "application/cloudevents+json"}}},
            "payload": _envelope(event_type),
            "bindings": {
                "kafka": {
                    "key": {
                        "type": "string",
                        "format": "uuid",
                        "description": "customer id (lead id for unconverted leads)",
                    },
                    "bindingVersion": KAFKA_BINDING,
                }
            },
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for service in PRODUCERS:
        topic = topic_for(service)
        channel_id = _camel(topic)
        produced = [t for t in schemas if service in producers_of(t)]
        channels[channel_id] = {
            "address": topic,
            "title": f"Facts published by the {service} service",
            "messages": {_camel(t): {"$ref": f"#/components/messages/{t}"} for t in produced},
            "bindings": {"kafka": {"topic": topic, "partitions": partitions, "bindingVersion": KAFKA_BINDING}},
        }
        operations[f"{_camel(service)}Publishes"] = {
            "action": "send",
            "title": f"The {service} service publishes its facts (transactional outbox, idempotent producer)",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{_camel(t)}"} for t in produced],
        }
    for consumer in consumers:
        for producer in consumer.topics:
            topic = topic_for(producer)
            channel_id = _camel(topic)
            handled = [t for t in consumer.handles if t in schemas and producer in producers_of(t)]
            if not handled:
                continue
            name = _camel(producer)
            operations[f"{_camel(consumer.service)}Consumes{name[0].upper()}{name[1:]}"] = {
                "action": "receive",
                "title": f"The {consumer.service} service reacts to {producer} facts",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{_camel(t)}"} for t in handled],
                "bindings": {
                    "kafka": {
                        "groupId": {"type": "string", "enum": [consumer.group_id]},
                        "bindingVersion": KAFKA_BINDING,
                    }
                },
            }
    return {
        "asyncapi": "3.1.0",
        "info": {
            "title": "Tessera CRM events",
            "version": "1.0.0",
            "description": (
                "Facts the Tessera services publish, one topic per producing service, keyed by customer id. "
                "Delivery is at least once: deduplicate by (source, id). Generated from the pydantic "
                "contracts by `make asyncapi`; see docs/events.md."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "the single-node broker `make run` starts",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": components_schemas, "messages": messages},
    }
