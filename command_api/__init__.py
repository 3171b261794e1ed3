"""The write side: endpoints → commands → handlers → domain → event store → Kafka."""
