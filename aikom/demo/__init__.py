"""Demo mode: what lets anyone try the system locally — a test PKI and demo persons (`persons`), signing
with their demo keys, a demo process (`processes`, `flows`) and the local mailbox page. Registered only when
`AIKOM_DEMO_MODE` is on (the default for a local `aikom up`); production code never branches on it."""
