"""pytest plugin (registered through the ``pytest11`` entry point).

Brings the session-wide infrastructure fixtures into every test run of the
workspace: a real Kafka broker and real databases. Nothing here mocks them.
"""

from mhin_devkit.kafka_fixture import *  # noqa: F403
from mhin_devkit.postgres_fixture import *  # noqa: F403
