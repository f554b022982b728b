"""PostgreSQL: migrations, repositories, connection handling."""
