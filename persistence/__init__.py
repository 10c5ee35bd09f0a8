"""SQLAlchemy models, the commit path for state changes, loading after restart, and migrations."""
