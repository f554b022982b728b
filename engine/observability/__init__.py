"""What an engine process tells its operator: Prometheus metrics and a health verdict."""
