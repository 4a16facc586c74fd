"""The process engine: the Prefect server, the runner serving every deployment, and the one adapter.

`adapter` is the only module that calls the Prefect API; `server` and `runner` start and stop the
two Prefect processes of the local stack.
"""
