"""The declared topics file: what it declares, and what its validation refuses.
No broker: these are checks of the file and the parser only."""

from __future__ import annotations

import copy
import re

import pytest

from mhin_platform.events.topics import (
    TopicsFileError,
    TopicSpec,
    declared_topics,
    load_topics,
    parse_topics,
    topic,
)

SERVICES = {
    "needs-intake",
    "solution-catalogue",
    "project-tracking",
    "governance",
    "evaluation",
    "stream-processors",
    "web",
}

VALID = {
    "dead_letter": {"partitions": 1, "cleanup_policy": "delete", "retention_ms": -1},
    "topic": [
        {
            "name": "mhin.needs.need",
            "writer": "needs-intake",
            "readers": ["solution-catalogue"],
            "partitions": 3,
            "cleanup_policy": "delete",
            "retention_ms": -1,
            "dlq": True,
            "description": "needs",
        },
        {
            "name": "mhin.evaluation.aggregate",
            "writer": "stream-processors",
            "partitions": 6,
            "cleanup_policy": "compact",
            "retention_ms": -1,
            "description": "aggregates",
        },
    ],
}


def document(**changes_to_first_topic) -> dict:
    doc = copy.deepcopy(VALID)
    doc["topic"][0].update(changes_to_first_topic)
    return doc


# --------------------------------------------------------------------------- the file


def test_the_packaged_file_loads():
    specs = load_topics()
    assert specs == declared_topics()
    assert all(isinstance(s, TopicSpec) for s in specs)


def test_every_topic_has_one_known_writer_and_a_conventional_name():
    for spec in declared_topics(include_dlq=False):
        assert re.fullmatch(r"mhin\.[a-z]+\.[a-z-]+", spec.name), spec.name
        assert spec.writer in SERVICES, spec.name
        assert set(spec.readers) <= SERVICES, spec.name
        assert spec.description


def test_the_design_topics_are_declared():
    names = {s.name for s in declared_topics()}
    for expected in (
        "mhin.needs.need",
        "mhin.catalogue.solution",
        "mhin.catalogue.prioritisation-round",
        "mhin.projects.selection",
        "mhin.projects.project",
        "mhin.governance.decision",
        "mhin.governance.involvement",
        "mhin.evaluation.observation",
        "mhin.evaluation.aggregate",
        "mhin.evaluation.spc-signal",
    ):
        assert expected in names


def test_consumed_topics_have_a_dead_letter_topic_and_others_do_not():
    for spec in declared_topics(include_dlq=False):
        assert spec.dlq == bool(spec.readers), spec.name
        if spec.dlq:
            dead = topic(f"{spec.name}.dlq")
            assert dead.dead_letter_of == spec.name
            assert dead.retention_ms == -1  # nothing in a DLQ expires unseen
            assert dead.cleanup_policy == "delete"


def test_entity_histories_are_kept_forever_and_aggregates_compacted():
    assert topic("mhin.needs.need").retention_ms == -1
    assert topic("mhin.needs.need").cleanup_policy == "delete"
    aggregate = topic("mhin.evaluation.aggregate")
    assert aggregate.compacted and aggregate.topic_configs()["cleanup.policy"] == "compact"
    assert topic("mhin.evaluation.observation").partitions == 6
    assert aggregate.partitions == 6


def test_topic_lookup():
    assert topic("mhin.needs.need").writer == "needs-intake"
    assert topic("mhin.needs.need").dlq_name == "mhin.needs.need.dlq"
    with pytest.raises(KeyError, match="not declared"):
        topic("mhin.needs.nothing")


def test_declared_topics_without_dead_letters():
    specs = declared_topics(include_dlq=False)
    assert specs and not any(s.name.endswith(".dlq") for s in specs)


# --------------------------------------------------------------------------- validation


def test_a_valid_document_expands_dead_letter_topics():
    specs = parse_topics(VALID)
    assert [s.name for s in specs] == [
        "mhin.needs.need",
        "mhin.evaluation.aggregate",
        "mhin.needs.need.dlq",
    ]
    assert specs[2].partitions == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"partitions": 0}, "partitions"),
        ({"cleanup_policy": "keep"}, "cleanup_policy"),
        ({"retention_ms": 0}, "retention_ms"),
        ({"retention_ms": -5}, "retention_ms"),
        ({"name": "Mhin.Needs"}, "name"),
        ({"name": "mhin needs"}, "name"),
        ({"name": "mhin." + "x" * 250}, "name"),
        ({"writer": ""}, "writer"),
        ({"description": ""}, "description"),
        ({"colour": "blue"}, "colour"),
        ({"configs": {"cleanup.policy": "compact"}}, "own field"),
    ],
)
def test_a_bad_topic_is_refused_naming_it(change, message):
    with pytest.raises(TopicsFileError, match=rf"topic .*: .*{re.escape(message)}"):
        parse_topics(document(**change))


def test_a_missing_field_is_refused():
    doc = document()
    del doc["topic"][0]["partitions"]
    with pytest.raises(TopicsFileError, match="mhin.needs.need: partitions"):
        parse_topics(doc)


def test_duplicate_names_are_refused():
    doc = document()
    doc["topic"].append(copy.deepcopy(doc["topic"][0]))
    with pytest.raises(TopicsFileError, match="mhin.needs.need is declared more than once"):
        parse_topics(doc)


def test_names_that_kafka_would_confuse_are_refused():
    doc = document()
    other = copy.deepcopy(doc["topic"][1])
    other["name"] = "mhin.needs_need"
    doc["topic"].append(other)
    with pytest.raises(TopicsFileError, match="collides"):
        parse_topics(doc)


def test_dead_letter_topics_are_not_declared_by_hand():
    with pytest.raises(TopicsFileError, match="set dlq = true on mhin.needs.other"):
        parse_topics(document(name="mhin.needs.other.dlq"))


def test_a_declared_topic_cannot_clash_with_a_dead_letter_topic():
    doc = document()
    doc["topic"][1]["name"] = "mhin.needs.need-dlq"  # fine: not the .dlq name
    parse_topics(doc)
    doc["topic"][1]["name"] = "mhin.needs.need_dlq"  # '_' vs '.': collides with the DLQ
    with pytest.raises(TopicsFileError, match="collides"):
        parse_topics(doc)


def test_an_empty_or_unknown_document_is_refused():
    with pytest.raises(TopicsFileError, match="no \\[\\[topic\\]\\]"):
        parse_topics({})
    with pytest.raises(TopicsFileError, match="unknown top-level keys \\['topics'\\]"):
        parse_topics({"topics": []})
    with pytest.raises(TopicsFileError, match="dead_letter"):
        parse_topics({**VALID, "dead_letter": {"partitions": 0}})


def test_a_file_that_is_not_toml_is_refused(tmp_path):
    path = tmp_path / "topics.toml"
    path.write_text("[[topic]\nname = ")
    with pytest.raises(TopicsFileError, match="not valid TOML"):
        load_topics(path)


def test_the_dead_letter_table_refuses_a_retention_that_deletes_at_once():
    with pytest.raises(TopicsFileError, match=r"\[dead_letter\]: retention_ms: .*-1 \(forever\)"):
        parse_topics({"dead_letter": {"retention_ms": 0},
                      "topic": [{"name": "mhin.demo.thing", "writer": "demo", "partitions": 1,
                                 "cleanup_policy": "delete", "retention_ms": -1,
                                 "description": "demo"}]})
