"""CloudEvents Kafka binary binding: pure unit tests, no I/O."""

from __future__ import annotations

from datetime import datetime

import pytest
from google.protobuf.wrappers_pb2 import Int64Value, StringValue

from mhin_platform.events.envelope import EnvelopeError, event_from_record, new_event


def roundtrip(event):
    return event_from_record(event.topic, event.key.encode(), event.data, event.headers())


def test_headers_follow_the_kafka_binary_binding():
    event = new_event(topic="mhin.needs.need", key="need-1", source="/mhin/needs-intake",
                      message=StringValue(value="x"), subject="need-1", correlation_id="c-1")
    headers = dict(event.headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"google.protobuf.StringValue"
    assert headers["ce_source"] == b"/mhin/needs-intake"
    assert headers["ce_subject"] == b"need-1"
    assert headers["ce_correlationid"] == b"c-1"
    assert headers["content-type"] == b"application/protobuf"
    assert headers["ce_time"].decode().endswith("Z")
    assert headers["ce_id"] == event.id.encode()


def test_an_event_survives_the_roundtrip():
    event = new_event(topic="t", key="k", source="/s", message=Int64Value(value=12))
    back = roundtrip(event)
    assert back == event
    assert back.decode(Int64Value).value == 12


@pytest.mark.parametrize("dropped", ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time"])
def test_a_missing_required_header_is_named(dropped):
    event = new_event(topic="t", key="k", source="/s", message=Int64Value(value=1))
    headers = [(n, v) for n, v in event.headers() if n != dropped]
    with pytest.raises(EnvelopeError, match=dropped):
        event_from_record("t", b"k", event.data, headers)


def test_wrong_spec_version_content_type_and_missing_key_are_rejected():
    event = new_event(topic="t", key="k", source="/s", message=Int64Value(value=1))
    swap = lambda name, value: [(n, value if n == name else v) for n, v in event.headers()]  # noqa: E731
    with pytest.raises(EnvelopeError, match="ce_specversion"):
        event_from_record("t", b"k", event.data, swap("ce_specversion", b"0.3"))
    with pytest.raises(EnvelopeError, match="content-type"):
        event_from_record("t", b"k", event.data, swap("content-type", b"application/json"))
    with pytest.raises(EnvelopeError, match="ce_time"):
        event_from_record("t", b"k", event.data, swap("ce_time", b"yesterday"))
    with pytest.raises(EnvelopeError, match="key"):
        event_from_record("t", None, event.data, event.headers())


def test_data_of_the_wrong_type_or_unparseable_is_an_envelope_error():
    event = new_event(topic="t", key="k", source="/s", message=Int64Value(value=1))
    with pytest.raises(EnvelopeError, match="expected 'google.protobuf.StringValue'"):
        roundtrip(event).decode(StringValue)
    broken = event_from_record("t", b"k", b"\xff\xff\xff", event.headers())
    with pytest.raises(EnvelopeError, match="does not parse"):
        broken.decode(Int64Value)


def test_event_time_must_be_timezone_aware():
    event = new_event(topic="t", key="k", source="/s", message=Int64Value(value=1))
    naive = type(event)(**{**event.__dict__, "time": datetime(2026, 1, 1)})
    with pytest.raises(ValueError, match="timezone"):
        naive.headers()
    assert roundtrip(event).time.utcoffset().total_seconds() == 0


def test_an_event_needs_a_key():
    with pytest.raises(ValueError, match="aggregate id"):
        new_event(topic="t", key="", source="/s", message=Int64Value(value=1))
