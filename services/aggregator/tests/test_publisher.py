"""The stream processors put each record where Kafka's default partitioner would, so any
other client writing the same key (the Java client, kafka-python) lands on the same
partition of a compacted topic."""

from __future__ import annotations

import random

from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from mhin_aggregator.publisher import default_partition

# murmur2 of these keys as the Java client computes them (Kafka's own UtilsTest).
JAVA_MURMUR2 = {b"21": -973932308, b"foobar": -790332482,
                b"a-little-bit-long-string": -985981536,
                b"a-little-bit-longer-string": -1486304829,
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
                b"abc": 479470107}


def java_partition(key: bytes, partitions: int) -> int:
    """Utils.toPositive(Utils.murmur2(key)) % partitions, as the Java client does."""
    return (JAVA_MURMUR2[key] & 0x7FFFFFFF) % partitions


def test_keys_go_where_the_java_client_puts_them():
    for partitions in (1, 3, 6, 12, 50):
        for key in JAVA_MURMUR2:
            assert default_partition(key, partitions) == java_partition(key, partitions)


def test_keys_go_where_kafka_python_puts_them():
    rng = random.Random(20261204)
    keys = [b"", b"m1|NATIONAL|national|2024-01|"] + [
        rng.randbytes(rng.randrange(1, 80)) for _ in range(2_000)]
    for partitions in (3, 6, 12):
        for key in keys:
            expected = (kafka_python_murmur2(key) & 0x7FFFFFFF) % partitions
            assert default_partition(key, partitions) == expected
