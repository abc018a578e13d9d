"""evaluation: measure definitions, the observations sites record against them, and
queries on the aggregates the stream processors compute (DESIGN.md step 4).

api (gRPC translation) -> app (one transaction per use case) -> domain (pure
rules, on top of mhin_measures) with store (SQLAlchemy) and events (outbox
publication; the project-sites and aggregates read models' consumers).
"""

SERVICE_NAME = "evaluation"
