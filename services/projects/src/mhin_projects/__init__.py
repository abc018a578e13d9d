"""project-tracking: ARC selection and the projects that implement solutions
(DESIGN.md step 3).

api (gRPC translation) -> app (one transaction per use case) -> domain (pure
rules) with store (SQLAlchemy) and events (outbox publication); consumers apply
catalogue solution events (a read model) and governance decisions (the selection
saga's last step).
"""

SERVICE_NAME = "project-tracking"
