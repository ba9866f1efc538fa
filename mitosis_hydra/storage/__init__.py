"""The trials database: imports only core."""
