"""The schema revision this version of jupyter-mlops writes, with no import behind it.

Kept apart from ``migrate`` (which needs SQLAlchemy and, to upgrade, Alembic) so an
up-to-date store is recognised with one read of ``alembic_version`` and nothing heavy
imported. Keep in step with the newest file in migrations/versions (a test checks it).
"""

HEAD_REVISION = "0011"
