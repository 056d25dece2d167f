"""Test support shared by every service's tests: real PostgreSQL, real Kafka, builders."""
