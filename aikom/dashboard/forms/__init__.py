"""Start forms of the processes (a `ProcessSpec.form` names one): `render(person) -> dict | None`.

A form draws its fields inside its own `st.form` and returns the raw parameters when submitted (else
None); the start page validates them through the process's parameters model and starts the process.
"""
