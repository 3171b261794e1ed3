"""Local server management: Kafka, a MongoDB-compatible server, Redis and SMTP on loopback.

Nothing heavy is imported here, so ``merchant infra status`` starts fast; the client
libraries are imported inside the health checks that need them.
"""
