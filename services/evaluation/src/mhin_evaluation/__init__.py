"""evaluation: measure definitions, the observations sites record against them, and
queries on the aggregates the stream processors compute (DESIGN.md step 4).

api (gRPC translation) -> app (one transaction per use case) -> domain (pure
rules, on top of mhin_measures) with store (SQLAlchemy), events (outbox
publication) and consumers (the measures, project-sites and aggregates read models).
"""

SERVICE_NAME = "evaluation"
