"""Local infrastructure for development and tests: a real Kafka broker from Maven
jars, throwaway PostgreSQL clusters, code generation, and the pytest fixtures."""
