"""Persistence: SQL repositories (one module per repository), the unit of work, the
tables and their migrations, and the engine from DATABASE_URL.
"""
