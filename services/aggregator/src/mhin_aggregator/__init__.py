"""stream-processors: faust workers that keep the network's aggregates (DESIGN.md
step 4).

Observations (``mhin.evaluation.observation``, keyed by measure) are rolled up
site -> ARC -> project -> national and over strata; each changed aggregate is
published to the restricted and the shared (disclosure-controlled) aggregate topics,
and special-cause variation to the SPC signal topic.

Pure rules: ``rollup`` (cells, exact sums, which aggregates a cell counts towards),
``publication`` (messages, disclosure control), ``series`` (SPC per series),
``observations`` (reading ObservationRecorded). Faust: ``app``, ``topics``,
``tables``, ``processor`` (one batch of events against the table), ``agents``.
``checker`` recomputes every aggregate from the observation log.
"""

SERVICE_NAME = "stream-processors"
