"""The event catalogue subscribers rely on: every event message is declared on a
topic, every declared type exists, and docs/events.md is current."""

from __future__ import annotations

import re
from pathlib import Path

from google.protobuf import descriptor_pool

from mhin_devkit import eventdocs, topicnames
from mhin_devkit.protogen import find_repo_root
from mhin_platform.events.topics import declared_topics, event_classes

ROOT = find_repo_root(Path(__file__).resolve().parent)
eventdocs.load_contracts(ROOT)


def event_messages() -> set[str]:
    """Every message of every protos/**/*events*.proto file."""
    found = set()
    for path in ROOT.glob("protos/mhin/*/v1/*events*.proto"):
        text = path.read_text()
        package = re.search(r"^package (\S+);", text, re.M).group(1)
        found |= {f"{package}.{name}" for name in re.findall(r"^message (\w+)", text, re.M)}
    return found


def test_every_event_message_is_declared_on_a_topic():
    declared = {e for spec in declared_topics(include_dlq=False) for e in spec.events}
    assert sorted(event_messages() - declared) == []


def test_every_declared_event_type_is_a_message_of_the_contracts():
    pool = descriptor_pool.Default()
    for spec in declared_topics(include_dlq=False):
        for event_type in spec.events:
            assert pool.FindMessageTypeByName(event_type).full_name == event_type


def test_the_catalogue_page_is_current():
    document = (ROOT / eventdocs.DOC).read_text(encoding="utf-8")
    assert eventdocs.updated(document) == document, (
        "docs/events.md is stale: run `python -m mhin_devkit.eventdocs write`")


def test_the_topic_name_constants_are_current():
    module = (ROOT / topicnames.MODULE).read_text(encoding="utf-8")
    assert module == topicnames.render(), (
        f"{topicnames.MODULE} is stale: run `python -m mhin_devkit.topicnames write`")


def test_a_topic_s_event_classes_are_its_declared_types():
    for spec in declared_topics(include_dlq=False):
        classes = event_classes(spec.name)
        assert [c.DESCRIPTOR.full_name for c in classes] == list(spec.events)
