"""The town server: where the stations' records arrive and their signed bundle comes from.

- `db` — the database file: `db init`, `db upgrade`, the one transaction helper
- `store` — stations, tokens, sessions, records, the bundle, the audit table
- `records` — what a pushed record must look like (quarantine), "same content"
- `signing` — bundle keys, the bundle document and its signed envelope
- `auth` — FastAPI dependencies: station, admin, dashboard session
- `app` — the sync protocol's endpoints and the read API; `dashboard` — the HTML pages, docs
- `cli` — `town-server`; `texts` — every sentence the town shows a person
"""
