"""One router per resource: auth, gate (with the live feed and the kiosk display),
register, records, alarms, returning, stats, health, what-if."""
