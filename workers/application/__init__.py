"""What the workers do: jobs and how they travel (``jobs``), the delivery policy (timeout,
retries with backoff, dead letters), domain events → jobs (``dispatch``), and one module
per job kind (``email``, ``sms``, ``reports``, ``analytics``, ``audit``, ``warmup``). The
handlers reach senders and stores through ``ports`` only."""
