"""The ОІС access decision point: the HTTP service the central database's gateway asks whether an API
key may be used by an ОІС for a data set and an operation (see `aikom.gateway.app`)."""
