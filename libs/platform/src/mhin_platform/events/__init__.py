"""Events: the CloudEvents envelope on Kafka (``envelope``), the producer
(``producer``), the transactional outbox (``outbox``), idempotent consumers with
dead-letter topics (``consumer``, ``dead_letter``), and the declared topics
(``topics``).

A service publishes only through ``outbox.add_to_outbox`` (inside the transaction
that changes its state) and consumes only through ``consumer.EventConsumer``.
"""
