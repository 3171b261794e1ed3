"""Sales reports: CSV and PDF from the orders read model, stored for download."""
