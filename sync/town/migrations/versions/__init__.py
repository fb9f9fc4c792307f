"""One module per schema version: r0002 (the schema made before Alembic), r0003, …"""
