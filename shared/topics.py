"""Kafka topic names: the domain streams others build on (ARCHITECTURE.md)."""

PRODUCTS = "products.events"
ORDERS = "orders.events"
MERCHANTS = "merchants.events"
REPORTS = "reports.events"

DOMAIN_TOPICS = (PRODUCTS, ORDERS, MERCHANTS, REPORTS)
DOMAIN_TOPIC_PARTITIONS = 6

# Which topic carries an aggregate type's events.
TOPIC_BY_AGGREGATE = {"product": PRODUCTS, "order": ORDERS, "merchant": MERCHANTS, "report": REPORTS}
