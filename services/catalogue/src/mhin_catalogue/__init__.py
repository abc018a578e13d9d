"""solution-catalogue: evidence-based solutions, the needs they address and MCDA
prioritisation rounds (DESIGN.md step 2).

api (gRPC translation) -> app (one transaction per use case) -> domain and mcda
(pure rules) with store (SQLAlchemy) and events (outbox publication; the need
events that keep the catalogue's copy of needs).
"""

SERVICE_NAME = "solution-catalogue"
