"""On the PYTHONPATH of a test Langflow older than 1.6 only (see tests/langflow_server.py).

What LANGFLOW_DISABLE_TRACK_APIKEY_USAGE=true does from 1.6 on, for the releases without that
setting: the API key's usage counter is not written. Up to 1.5, every request with a key starts
a task that writes it while the flow writes its messages; with SQLite that failed runs with
"database is locked" and could leave a half-written message that breaks every later listing
of the flow (seen on 1.1.1 in CI). It only feeds Langflow's own key list.
"""

import importlib.abc
import importlib.machinery
import sys

TARGET = "langflow.services.database.models.api_key.crud"


async def _not_counted(_api_key_id: object) -> None:
    return None


class _CounterOff(importlib.abc.MetaPathFinder):
    """Replaces update_total_uses right after Langflow's module defines it."""

    def find_spec(self, name: str, path: object, target: object = None) -> object:
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: object) -> None:
            run_module(module)
            module.update_total_uses = _not_counted

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _CounterOff())
