"""Imported by the forkserver last, after Prefect and the flow modules: what every flow-run process
would otherwise compute again. Holds no file or socket open and starts no thread.

- the settings Prefect was configured with (a child whose environment states the same keeps them);
- the SSL context Prefect's API clients verify the server with (built from the CA bundle once here,
  not for every client a flow run opens, see `flow_process.share_prefect_ssl_contexts`);
- the Ukrainian public calendar of this year and the next (due dates in business days; its `holidays`
  package imports ~300 modules, 9–17 MB that every approval run would otherwise hold privately);
- Prefect's pydantic models built (pydantic builds a model's validator on first use: once here
  instead of once per flow run);
- every object so far moved out of the garbage collector's sight (`gc.freeze`): a child's collections
  then do not write to the pages it shares with the forkserver, so they stay shared.
"""

from __future__ import annotations

import contextlib
import gc
import os
import ssl
import sys
from datetime import datetime

import certifi
import pydantic
from prefect.context import GLOBAL_SETTINGS_CONTEXT

from aikom.core.calendar import KYIV, load_public_calendars
from aikom.orchestration.flow_process import settings_env

# The settings the forkserver's Prefect was configured with, as a runner states them in the environment
# of a flow-run process (Prefect's view of its settings, overridden by the process's own variables).
FORKSERVER_SETTINGS_ENV: dict[str, str] = settings_env(
    {**GLOBAL_SETTINGS_CONTEXT.settings.to_environment_variables(exclude_unset=True), **os.environ}
)


def _build_models() -> int:
    """Build every pydantic model of the loaded Prefect and project modules; how many were built."""
    built = 0
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if not name.startswith(("prefect.", "aikom.")):
            continue
        for value in list(vars(module).values()):
            if (
                isinstance(value, type)
                and issubclass(value, pydantic.BaseModel)
                and value.__module__ == name
                and not value.__pydantic_complete__
            ):
                with contextlib.suppress(Exception):
                    built += bool(value.model_rebuild())
    return built


def _verified_ssl_contexts() -> dict[str, ssl.SSLContext]:
    """The context Prefect builds for its clients, for the CA bundle its settings name."""
    cafile = GLOBAL_SETTINGS_CONTEXT.settings.api.ssl_cert_file or certifi.where()
    return {cafile: ssl.create_default_context(cafile=cafile)}


VERIFIED_SSL_CONTEXTS = _verified_ssl_contexts()
MODELS_BUILT = _build_models()
_this_year = datetime.now(KYIV).year
load_public_calendars((_this_year, _this_year + 1))
gc.freeze()
