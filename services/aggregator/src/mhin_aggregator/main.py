"""stream-processors process: ``mhin-aggregator`` (or ``python -m mhin_aggregator``)
runs one faust worker; configuration from ``MHIN_*`` variables. Start several (with
distinct ``MHIN_INSTANCE_ID``) to share the observation topic's partitions."""

from __future__ import annotations

import gc
import sys

from mhin_aggregator.settings import current
from mhin_platform.logging import configure_logging
from mhin_platform.metrics import start_metrics_server
from mhin_platform.settings import SettingsError


def main() -> None:
    try:
        settings = current()
    except SettingsError as exc:
        sys.exit(str(exc))
    configure_logging(settings.service_name, settings.log_level)
    if settings.metrics_port:
        start_metrics_server(settings.metrics_port, settings.metrics_host)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    import faust

    from mhin_aggregator.agents import app

    gc.freeze()  # what the imports built lives forever: no full collection walks it again

    worker = faust.Worker(  # logging is ours (JSON lines); no banner on stdout
        app, loglevel=settings.log_level, override_logging=False, redirect_stdouts=False,
        quiet=True,
    )
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
