"""Email jobs: messages rendered from templates, sent over SMTP, once per job."""
