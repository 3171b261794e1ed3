"""HTTP plumbing shared by the command and query APIs: errors, JSON bodies, auth, health."""
