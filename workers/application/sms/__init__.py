"""SMS jobs: short notices through a provider interface, sent once per job."""
