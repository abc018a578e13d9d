"""needs-intake's store on a real database, SQLite and PostgreSQL: a bulk load
(add_many, what the growth benchmark uses) stores what a submission stores, so
reads and list filters see bulk-loaded needs like submitted ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mhin_devkit.harness import migrated_database
from mhin_needs import domain, store
from mhin_needs.main import DEFINITION
from mhin_platform.reference import Arc, OrganisationType

pytestmark = pytest.mark.integration

SUBMITTED = datetime(2021, 4, 1, tzinfo=UTC)


@pytest.fixture
def database(database_url):
    with migrated_database(DEFINITION, database_url) as database:
        yield database


def need(arc: Arc, minutes: int, *sources: domain.NeedSource) -> domain.Need:
    draft = domain.NeedDraft(
        submitter=domain.Organisation(name="Pennine Care NHS FT",
                                      type=OrganisationType.NHS_TRUST),
        arc=arc, title="Crisis support for young people out of hours",
        description="No out-of-hours crisis line for under-18s in the area.",
        sources=list(sources) or [domain.ScopingExerciseSource(response_ref="SE-2021-017")],
    )
    return domain.submit(draft, str(uuid.uuid4()), SUBMITTED + timedelta(minutes=minutes))


def test_bulk_loaded_needs_are_read_and_filtered_like_submitted_ones(database):
    study = domain.PriorStudySource(citation="Smith et al.", year=2019)
    loaded = [need(Arc.GREATER_MANCHESTER, 1), need(Arc.YORKSHIRE_AND_HUMBER, 2, study),
              need(Arc.GREATER_MANCHESTER, 3, study)]
    with database.transaction() as session:
        store.documents.add_many(session, loaded)
        store.documents.add(session, need(Arc.GREATER_MANCHESTER, 4))
        store.documents.add_many(session, [])
    with database.read() as session:
        assert store.documents.get(session, loaded[1].id) == loaded[1]
        everything = store.list_needs(session, domain.NeedFilter(), None, 10)
        in_gm = store.list_needs(session, domain.NeedFilter(arc=Arc.GREATER_MANCHESTER), None, 10)
        from_studies = store.list_needs(
            session, domain.NeedFilter(source_kind=domain.SourceKind.PRIOR_STUDY), None, 10)
    assert everything[:3] == loaded and len(everything) == 4
    assert [n.id for n in in_gm] == [loaded[0].id, loaded[2].id, everything[3].id]
    assert from_studies == loaded[1:]
