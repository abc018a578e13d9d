"""The topic the agent consumes (declared in topics.toml). Records are CloudEvents
with protobuf data, so keys and values stay raw bytes. The worker's output topics
are written by ``publisher.BatchPublisher``, not through faust topics."""

from __future__ import annotations

from mhin_aggregator.app import app, settings
from mhin_aggregator.settings import OBSERVATION_TOPIC

observations = app.topic(
    settings.topic_name(OBSERVATION_TOPIC), key_serializer="raw", value_serializer="raw"
)
