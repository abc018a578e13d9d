"""solution-catalogue: evidence-based solutions, the needs they address and MCDA
prioritisation rounds (DESIGN.md step 2).

api (gRPC translation) -> app (one transaction per use case) -> domain and mcda
(pure rules) with store (SQLAlchemy), events (outbox publication) and consumers
(the need events that keep the catalogue's copy of needs).
"""

SERVICE_NAME = "solution-catalogue"
