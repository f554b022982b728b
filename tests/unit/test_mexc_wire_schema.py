"""claire's MEXC push schema against MEXC's official `.proto` definitions, field by field.

The field list below is read from github.com/mexcdevelop/websocket-proto at commit
7b8ac7a6681f28551612a5a7cefbb7e09b56bb85 (2026-06-17, "增加推送字段 2026.6": `tradeId`,
`version`, `lastOrderCreateTime` added), files PushDataV3ApiWrapper.proto,
PublicAggreDealsV3Api.proto, PublicSpotKlineV3Api.proto and PublicAggreBookTickerV3Api.proto
(Apache-2.0). Frames are encoded with a schema built from that list alone (in a pool and
package of its own), or by hand, and decoded with claire's descriptors.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool  # type: ignore[import-untyped]
from google.protobuf.message_factory import GetMessageClass  # type: ignore[import-untyped]
from google.protobuf.unknown_fields import UnknownFieldSet  # type: ignore[import-untyped]

from engine.marketdata.mexc import proto
from engine.marketdata.mexc.convert import decode_frame

OFFICIAL_COMMIT = "7b8ac7a6681f28551612a5a7cefbb7e09b56bb85"
_F = descriptor_pb2.FieldDescriptorProto
STRING, INT32, INT64, MESSAGE = _F.TYPE_STRING, _F.TYPE_INT32, _F.TYPE_INT64, _F.TYPE_MESSAGE
PLAIN, REPEATED, OPTIONAL = "plain", "repeated", "optional"  # proto3 labels

#: message -> (name, number, type, message type, label), as the official files declare them.
OFFICIAL: dict[str, list[tuple[str, int, int, str, str]]] = {
    "PushDataV3ApiWrapper": [
        ("channel", 1, STRING, "", PLAIN),
        ("symbol", 3, STRING, "", OPTIONAL),
        ("symbolId", 4, STRING, "", OPTIONAL),
        ("createTime", 5, INT64, "", OPTIONAL),
        ("sendTime", 6, INT64, "", OPTIONAL),
        # oneof body: the members claire reads (301..313 are other channels' bodies)
        ("publicSpotKline", 308, MESSAGE, "PublicSpotKlineV3Api", PLAIN),
        ("publicAggreDeals", 314, MESSAGE, "PublicAggreDealsV3Api", PLAIN),
        ("publicAggreBookTicker", 315, MESSAGE, "PublicAggreBookTickerV3Api", PLAIN),
    ],
    "PublicAggreDealsV3Api": [
        ("deals", 1, MESSAGE, "PublicAggreDealsV3ApiItem", REPEATED),
        ("eventType", 2, STRING, "", PLAIN),
    ],
    "PublicAggreDealsV3ApiItem": [
        ("price", 1, STRING, "", PLAIN),
        ("quantity", 2, STRING, "", PLAIN),
        ("tradeType", 3, INT32, "", PLAIN),
        ("time", 4, INT64, "", PLAIN),
        ("tradeId", 5, STRING, "", PLAIN),  # 2026-06
    ],
    "PublicSpotKlineV3Api": [
        ("interval", 1, STRING, "", PLAIN),
        ("windowStart", 2, INT64, "", PLAIN),
        ("openingPrice", 3, STRING, "", PLAIN),
        ("closingPrice", 4, STRING, "", PLAIN),
        ("highestPrice", 5, STRING, "", PLAIN),
        ("lowestPrice", 6, STRING, "", PLAIN),
        ("volume", 7, STRING, "", PLAIN),
        ("amount", 8, STRING, "", PLAIN),
        ("windowEnd", 9, INT64, "", PLAIN),
    ],
    "PublicAggreBookTickerV3Api": [
        ("bidPrice", 1, STRING, "", PLAIN),
        ("bidQuantity", 2, STRING, "", PLAIN),
        ("askPrice", 3, STRING, "", PLAIN),
        ("askQuantity", 4, STRING, "", PLAIN),
        ("version", 5, STRING, "", PLAIN),  # 2026-06
        ("lastOrderCreateTime", 6, INT64, "", PLAIN),  # 2026-06
    ],
}
BODIES = {"publicSpotKline", "publicAggreDeals", "publicAggreBookTicker"}
#: A base value of each integer type that no default equals (an int64 beyond 32 bits).
INTEGERS = {INT32: 2, INT64: 1_781_234_567_890}


def official_classes() -> dict[str, Any]:
    """Message classes built from OFFICIAL alone, in a pool and package of their own."""
    package = "mexcofficial"
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="mexcofficial/push.proto", package=package, syntax="proto3"
    )
    for message_name, fields in OFFICIAL.items():
        message = file_proto.message_type.add(name=message_name)
        if message_name == "PushDataV3ApiWrapper":
            message.oneof_decl.add(name="body")
        for name, number, kind, type_name, label in fields:
            field = message.field.add(name=name, number=number, type=kind)
            field.label = _F.LABEL_REPEATED if label == REPEATED else _F.LABEL_OPTIONAL
            if type_name:
                field.type_name = f".{package}.{type_name}"
            if name in BODIES:
                field.oneof_index = 0
            elif label == OPTIONAL:  # proto3 `optional`: a synthetic oneof of its own
                field.proto3_optional = True
                field.oneof_index = len(message.oneof_decl)
                message.oneof_decl.add(name=f"_{name}")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return {
        name: GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}")) for name in OFFICIAL
    }


OFFICIAL_CLASSES = official_classes()


def claire_descriptor(message_name: str) -> Any:
    return getattr(proto, message_name).DESCRIPTOR


def filled(message: Any, message_name: str, tag: str) -> Any:
    """Set every scalar field of `message` (an official one) to a sample value; return it."""
    for name, number, kind, _, _ in OFFICIAL[message_name]:
        if kind == MESSAGE:
            continue
        value = f"{tag}.{name}" if kind == STRING else INTEGERS[kind] + number
        setattr(message, name, value)
    return message


def assert_same_values(official: Any, decoded: Any, message_name: str) -> None:
    for name, _, kind, _, _ in OFFICIAL[message_name]:
        if kind != MESSAGE:
            assert getattr(decoded, name) == getattr(official, name), f"{message_name}.{name}"


# -- the schema -------------------------------------------------------------------------------


@pytest.mark.parametrize("message_name", sorted(OFFICIAL))
def test_claire_schema_when_compared_then_each_field_has_the_official_number_and_type(
    message_name: str,
) -> None:
    claire = {field.name: field for field in claire_descriptor(message_name).fields}
    official = {
        name: (number, kind, label) for name, number, kind, _, label in OFFICIAL[message_name]
    }

    assert sorted(claire) == sorted(official), "claire reads every official field, no other"
    for name, (number, kind, label) in official.items():
        field = claire[name]
        assert (field.number, field.type) == (number, kind), name
        assert field.is_repeated == (label == REPEATED), name


def test_claire_wrapper_when_compared_then_bodies_are_one_oneof_of_the_official_types() -> None:
    descriptor = claire_descriptor("PushDataV3ApiWrapper")
    body = descriptor.oneofs_by_name["body"]
    assert {field.name: field.message_type.name for field in body.fields} == {
        name: type_name
        for name, _, _, type_name, _ in OFFICIAL["PushDataV3ApiWrapper"]
        if name in BODIES
    }


# -- frames encoded with the official schema --------------------------------------------------


@pytest.mark.parametrize("body", sorted(BODIES))
def test_official_frame_when_decoded_by_claire_then_every_field_reads_back(body: str) -> None:
    wrapper = filled(OFFICIAL_CLASSES["PushDataV3ApiWrapper"](), "PushDataV3ApiWrapper", "w")
    body_type = next(t for n, _, _, t, _ in OFFICIAL["PushDataV3ApiWrapper"] if n == body)
    content = getattr(wrapper, body)
    if body == "publicAggreDeals":
        filled(content, body_type, "d")
        for index in range(2):
            filled(content.deals.add(), "PublicAggreDealsV3ApiItem", f"deal{index}")
    else:
        filled(content, body_type, "b")

    decoded = decode_frame(wrapper.SerializeToString())

    assert decoded.WhichOneof("body") == body
    assert_same_values(wrapper, decoded, "PushDataV3ApiWrapper")
    assert_same_values(content, getattr(decoded, body), body_type)
    if body == "publicAggreDeals":
        for sent, read in zip(content.deals, decoded.publicAggreDeals.deals, strict=True):
            assert_same_values(sent, read, "PublicAggreDealsV3ApiItem")
    for message in (decoded, getattr(decoded, body), *decoded.publicAggreDeals.deals):
        assert len(UnknownFieldSet(message)) == 0, "claire reads every field MEXC sends"


def test_claire_frame_when_decoded_with_the_official_schema_then_it_reads_back() -> None:
    wrapper = proto.PushDataV3ApiWrapper(channel="c", symbol="BTCUSDT", sendTime=5)
    wrapper.publicAggreBookTicker.bidPrice = "1"
    wrapper.publicAggreBookTicker.version = "42"
    wrapper.publicAggreBookTicker.lastOrderCreateTime = 1_781_234_567_890

    official = OFFICIAL_CLASSES["PushDataV3ApiWrapper"].FromString(wrapper.SerializeToString())

    book = official.publicAggreBookTicker
    assert (official.channel, official.symbol, official.sendTime) == ("c", "BTCUSDT", 5)
    assert (book.bidPrice, book.version, book.lastOrderCreateTime) == ("1", "42", 1_781_234_567_890)


# -- the 2026 fields, and fields MEXC may add later, on the wire ------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _text(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _number(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def test_2026_fields_when_hand_encoded_then_claire_decodes_them() -> None:
    deal = _text(1, b"1") + _text(2, b"2") + _number(3, 1) + _number(4, 7) + _text(5, b"T-9")
    deals = _text(1, deal) + _text(2, b"e")
    book = (
        _text(1, b"10")
        + _text(2, b"1")
        + _text(3, b"11")
        + _text(4, b"2")
        + _text(5, b"12345")  # version
        + _number(6, 1_781_234_567_890)  # lastOrderCreateTime
    )
    head = _text(3, b"BTCUSDT")

    traded = decode_frame(head + _text(314, deals))
    quoted = decode_frame(head + _text(315, book))

    assert traded.publicAggreDeals.deals[0].tradeId == "T-9"
    ticker = quoted.publicAggreBookTicker
    assert (ticker.bidPrice, ticker.askPrice) == ("10", "11")
    assert (ticker.version, ticker.lastOrderCreateTime) == ("12345", 1_781_234_567_890)


def test_fields_unknown_to_claire_when_decoded_then_tolerated_and_the_rest_read() -> None:
    # Fields MEXC may add next: a string 7 and a varint 8 in the book ticker, an int64 99 in
    # the wrapper, a nested message 6 in a deal.
    book = _text(1, b"10") + _text(2, b"1") + _text(3, b"11") + _text(4, b"2")
    book += _text(7, b"future") + _number(8, 3)
    deal = _text(1, b"1") + _text(2, b"2") + _number(3, 2) + _number(4, 7) + _text(6, b"\x08\x01")
    head = _text(3, b"BTCUSDT") + _number(99, 1 << 40)

    quoted = decode_frame(head + _text(315, book))
    traded = decode_frame(head + _text(314, _text(1, deal)))

    assert quoted.symbol == "BTCUSDT"
    assert (quoted.publicAggreBookTicker.bidPrice, quoted.publicAggreBookTicker.askQuantity) == (
        "10",
        "2",
    )
    item = traded.publicAggreDeals.deals[0]
    assert (item.price, item.tradeType, item.time) == ("1", 2, 7)
    assert len(UnknownFieldSet(quoted.publicAggreBookTicker)) == 2  # kept, not read
