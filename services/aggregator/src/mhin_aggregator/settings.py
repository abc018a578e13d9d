"""Configuration of the stream processors from ``MHIN_*`` environment variables.

The tuning defaults were chosen by measurement (``bench/README.md``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field

from mhin_aggregator import SERVICE_NAME
from mhin_measures.disclosure import DEFAULT_THRESHOLD
from mhin_platform.events import topic_names
from mhin_platform.events.topics import TopicSpec, topic
from mhin_platform.settings import ProcessSettings, load_settings

OBSERVATION_TOPIC = topic_names.EVALUATION_OBSERVATION
AGGREGATE_TOPIC = topic_names.EVALUATION_AGGREGATE
RESTRICTED_AGGREGATE_TOPIC = topic_names.EVALUATION_AGGREGATE_RESTRICTED
SPC_SIGNAL_TOPIC = topic_names.EVALUATION_SPC_SIGNAL
CELLS_CHANGELOG_TOPIC = topic_names.EVALUATION_AGGREGATION_CELLS
TOPICS = (
    OBSERVATION_TOPIC,
    AGGREGATE_TOPIC,
    RESTRICTED_AGGREGATE_TOPIC,
    SPC_SIGNAL_TOPIC,
    CELLS_CHANGELOG_TOPIC,
)


class AggregatorSettings(ProcessSettings):
    """No gRPC server, no database, no tokens: only Kafka, its own folder and metrics."""

    service_name: str = SERVICE_NAME
    metrics_host: str = Field(
        default="127.0.0.1",
        description="where the Prometheus endpoint listens (0.0.0.0 in a container)")
    consumer_group: str = Field(
        default="mhin-stream-processors", min_length=1,
        description="faust app id: the Kafka consumer group all workers share",
    )
    topic_prefix: str = Field(
        default="", pattern=r"^[a-z0-9._-]*$",
        description="prepended to every topic name (tests and benchmarks use their own topics)",
    )
    data_dir: Path = Field(default=Path("stream-processors-data"),
                           description="faust's working folder")
    instance_id: str = Field(
        default="",
        description="static consumer group membership (stable per worker, e.g. the host "
        "name): a restarted worker takes its partitions back at once, without waiting for "
        "its old session to expire; '' = dynamic membership",
    )
    disclosure_threshold: int = Field(default=DEFAULT_THRESHOLD, ge=1)
    batch_size: int = Field(default=10_000, ge=1, description="most observations per batch")
    batch_wait_ms: int = Field(default=10, ge=1,
                               description="longest wait to fill a batch before processing it")
    catch_up_backlog: int = Field(
        default=1_000, ge=0,
        description="events on the broker behind a batch above which the worker is catching "
        "up: it applies the next batch before publishing, so each aggregate goes out once")
    catch_up_ms: int = Field(
        default=1_000, ge=0,
        description="longest a catching-up worker holds applied batches unpublished")
    catch_up_events: int = Field(
        default=10_000, ge=1,
        description="most events a catching-up worker holds unpublished")
    spc_interval_ms: int = Field(
        default=1000, ge=0,
        description="least time between the starts of two SPC rounds (later batches "
        "join the next round; after a quiet spell a round starts at once)")
    spc_max_pending: int = Field(
        default=50_000, ge=1,
        description="events waiting for an SPC round before the agent waits for it")
    stream_buffer_maxsize: int = Field(default=8192, ge=1)
    commit_interval_seconds: float = Field(default=1.0, gt=0)
    producer_max_batch_bytes: int = Field(
        default=262_144, ge=1024, description="largest record batch per topic partition")
    session_timeout_seconds: float = Field(default=30.0, ge=6)
    faust_cython_optimizations: bool = True

    def topic_name(self, declared: str) -> str:
        return self.topic_prefix + declared

    def topic_specs(self) -> list[TopicSpec]:
        """The declarations (topics.toml) of the topics the worker uses, under this
        prefix: what a test or a benchmark creates for its own run."""
        return [
            topic(name).model_copy(update={"name": self.topic_name(name)}) for name in TOPICS
        ]


@cache
def current() -> AggregatorSettings:
    """The process's settings, read from the environment once."""
    return load_settings(AggregatorSettings)
