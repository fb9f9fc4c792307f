"""The station console: a small web application for gate guards and safety officers.

`gate-station console` serves it (gate-console.service). Server-rendered HTML (FastAPI +
Jinja2), one router per resource in `routers/`, accounts and sessions in their own SQLite file
(`accounts.py`), every page read from the ledger through a read-only connection, so the
console can never block or change what the gate writes. Texts come from the message catalogue
(`texts.py` registers the `console.*` keys).
"""
