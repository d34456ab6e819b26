"""The lab: a local game-day environment on real components.

Two PostgreSQL clusters ("legacy" and "cloud") with logical replication of a synthetic EHR, a
small HTTP service answering like the help desk and Prometheus, and faults to inject. Only the
lab's own setup and fault code writes to the lab databases; the cockpit reads them through its
usual read-only sessions (the heartbeat table excepted, as everywhere).
"""
