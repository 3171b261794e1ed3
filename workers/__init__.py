"""Workers: FastStream consumers for email, SMS, reports, analytics, audit, cache warm-up."""
