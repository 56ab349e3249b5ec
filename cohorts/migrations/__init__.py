"""Alembic migrations of the community store (``nbcohort upgrade-db`` runs them)."""
