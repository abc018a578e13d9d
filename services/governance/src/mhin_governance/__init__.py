"""governance: the network's bodies, members, meetings and decisions, and the log
of patient and public involvement (DESIGN.md section 1, governance).

api (gRPC translation) -> app (one transaction per use case) -> domain (pure
rules) with store (SQLAlchemy) and events (outbox publication); consumers holds the
consumer that puts selection proposals on the Executive's agenda.
"""

SERVICE_NAME = "governance"
