"""needs-intake: collects unmet mental health needs (DESIGN.md step 1).

api (gRPC translation) -> app (one transaction per use case) -> domain (pure
rules) with store (SQLAlchemy) and events (outbox publication).
"""

SERVICE_NAME = "needs-intake"
