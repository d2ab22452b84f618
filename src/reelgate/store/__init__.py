"""The task store: the only package with SQL. The tasks table is the queue."""
