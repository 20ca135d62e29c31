"""The jobs: `jobs` (named, idempotent job functions in one registry), `items` (jobs
split into leased items every replica works) and `scheduler` (APScheduler, once per
tick across replicas).
"""
