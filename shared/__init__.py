"""The contract and plumbing every merchant-backend process shares."""
