"""Shared plumbing for MHIN services, written once.

- ``settings``: environment configuration (``MHIN_`` prefix) checked at start-up.
- ``logging``: JSON structured logs with service name and correlation ids.
- ``db``: SQLAlchemy engines (SQLite by default, PostgreSQL by URL) and Alembic.
- ``events``: CloudEvents envelope, producer, transactional outbox, idempotent
  consumer and dead-letter topics; the declared topics.
- ``grpc``: server bootstrap (health, reflection, interceptors, graceful shutdown).
- ``auth``: bearer tokens naming a role and an ARC.
- ``metrics``: the Prometheus endpoint.
"""
