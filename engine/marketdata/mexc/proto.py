"""MEXC's spot push messages, built at import time from a schema written here in Python.

Only the messages claire reads are declared, with the field numbers and types of MEXC's
official `.proto` files (github mexcdevelop/websocket-proto, as of its 2026-06 additions;
`tests/unit/test_mexc_wire_schema.py` pins them). The numbers are what goes on the wire;
the names are ours to choose. A field MEXC adds later is kept as an unknown field and
ignored, so a new field never breaks decoding. The file has its own package, `claire.mexc`,
and lives in a private descriptor pool, so it never clashes with another copy of MEXC's
schema loaded in the same process (ccxt bundles one).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool  # type: ignore[import-untyped]
from google.protobuf.message_factory import GetMessageClass  # type: ignore[import-untyped]

PACKAGE = "claire.mexc"
FILE_NAME = "claire/mexc/push.proto"

#: Numbers of the wrapper's body fields, by the name of the `oneof` member.
BODY_FIELDS = {"publicSpotKline": 308, "publicAggreDeals": 314, "publicAggreBookTicker": 315}

_Field = descriptor_pb2.FieldDescriptorProto
_STRING, _INT32, _INT64, _MESSAGE = _Field.TYPE_STRING, _Field.TYPE_INT32, _Field.TYPE_INT64, 11
_OPTIONAL, _REPEATED = _Field.LABEL_OPTIONAL, _Field.LABEL_REPEATED

#: (name, field number, type, message type or "", repeated) of each message's fields.
_MESSAGES: dict[str, list[tuple[str, int, int, str, bool]]] = {
    "PublicAggreDealsV3ApiItem": [
        ("price", 1, _STRING, "", False),
        ("quantity", 2, _STRING, "", False),
        ("tradeType", 3, _INT32, "", False),
        ("time", 4, _INT64, "", False),
        ("tradeId", 5, _STRING, "", False),  # added 2026-06
    ],
    "PublicAggreDealsV3Api": [
        ("deals", 1, _MESSAGE, "PublicAggreDealsV3ApiItem", True),
        ("eventType", 2, _STRING, "", False),
    ],
    "PublicSpotKlineV3Api": [
        ("interval", 1, _STRING, "", False),
        ("windowStart", 2, _INT64, "", False),  # seconds
        ("openingPrice", 3, _STRING, "", False),
        ("closingPrice", 4, _STRING, "", False),
        ("highestPrice", 5, _STRING, "", False),
        ("lowestPrice", 6, _STRING, "", False),
        ("volume", 7, _STRING, "", False),
        ("amount", 8, _STRING, "", False),
        ("windowEnd", 9, _INT64, "", False),  # seconds
    ],
    "PublicAggreBookTickerV3Api": [
        ("bidPrice", 1, _STRING, "", False),
        ("bidQuantity", 2, _STRING, "", False),
        ("askPrice", 3, _STRING, "", False),
        ("askQuantity", 4, _STRING, "", False),
        ("version", 5, _STRING, "", False),  # added 2026-06
        ("lastOrderCreateTime", 6, _INT64, "", False),  # added 2026-06, milliseconds
    ],
    "PushDataV3ApiWrapper": [
        ("channel", 1, _STRING, "", False),
        ("symbol", 3, _STRING, "", False),
        ("symbolId", 4, _STRING, "", False),
        ("createTime", 5, _INT64, "", False),  # milliseconds
        ("sendTime", 6, _INT64, "", False),  # milliseconds
    ],
}
_BODY_TYPES = {
    "publicSpotKline": "PublicSpotKlineV3Api",
    "publicAggreDeals": "PublicAggreDealsV3Api",
    "publicAggreBookTicker": "PublicAggreBookTickerV3Api",
}


def _add_field(
    message: Any, name: str, number: int, kind: int, type_name: str, *, repeated: bool
) -> Any:
    """Append one field to a DescriptorProto and return it."""
    field = message.field.add(name=name, number=number, type=kind)
    field.label = _REPEATED if repeated else _OPTIONAL
    if type_name:
        field.type_name = f".{PACKAGE}.{type_name}"
    return field


def build_file_descriptor() -> Any:
    """Return the FileDescriptorProto of the push messages (proto3)."""
    file_proto = descriptor_pb2.FileDescriptorProto(
        name=FILE_NAME, package=PACKAGE, syntax="proto3"
    )
    for message_name, fields in _MESSAGES.items():
        message = file_proto.message_type.add(name=message_name)
        for name, number, kind, type_name, repeated in fields:
            _add_field(message, name, number, kind, type_name, repeated=repeated)
    wrapper = next(m for m in file_proto.message_type if m.name == "PushDataV3ApiWrapper")
    wrapper.oneof_decl.add(name="body")
    for name, number in BODY_FIELDS.items():
        field = _add_field(wrapper, name, number, _MESSAGE, _BODY_TYPES[name], repeated=False)
        field.oneof_index = 0
    return file_proto


def _build_classes() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(build_file_descriptor())
    return {
        name: GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}")) for name in _MESSAGES
    }


_CLASSES = _build_classes()

#: The message classes; instances are protobuf messages (typed `Any`: they are built at runtime).
PushDataV3ApiWrapper: Any = _CLASSES["PushDataV3ApiWrapper"]
PublicAggreDealsV3Api: Any = _CLASSES["PublicAggreDealsV3Api"]
PublicAggreDealsV3ApiItem: Any = _CLASSES["PublicAggreDealsV3ApiItem"]
PublicSpotKlineV3Api: Any = _CLASSES["PublicSpotKlineV3Api"]
PublicAggreBookTickerV3Api: Any = _CLASSES["PublicAggreBookTickerV3Api"]


def parse_wrapper(data: bytes) -> Any:
    """Parse one binary frame into a PushDataV3ApiWrapper (raises protobuf's DecodeError)."""
    wrapper = PushDataV3ApiWrapper()
    wrapper.ParseFromString(data)
    return wrapper


def body_kind(wrapper: Any) -> str | None:
    """Return which body the wrapper carries (`publicAggreDeals`, ...) or None."""
    kind = wrapper.WhichOneof("body")
    return str(kind) if kind is not None else None
