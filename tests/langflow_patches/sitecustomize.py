"""On the PYTHONPATH of a test Langflow that needs a fix (see _patches_env in tests/langflow_server.py).

TEST_LANGFLOW_PATCHES names the fixes this server gets, comma-separated:

- "apikey-usage" (releases before 1.6): what LANGFLOW_DISABLE_TRACK_APIKEY_USAGE=true does from
  1.6 on: the API key's usage counter is not written. Up to 1.5, every request with a key starts
  a task that writes it while the flow writes its messages; with SQLite that failed runs with
  "database is locked" and could leave a half-written message that breaks every later listing
  of the flow (seen on 1.1.1 in CI). It only feeds Langflow's own key list.
- "agent-checkpoint" (1.11 to 1.13 at least): an Agent whose tool needs approval pauses every
  time, not about one run in four. Its checkpoint saver (lfx's JobCheckpointSaver) keeps only the
  latest LangGraph checkpoint, and LangGraph saves that checkpoint in the background while it
  writes the interrupt for it: when the interrupt is written first (usual with SQLite), it lands
  on the previous checkpoint and is then overwritten, so the run completes with an empty reply
  instead of asking. The fix waits (up to 5 s) for the checkpoint the writes belong to.
"""

import asyncio
import importlib.abc
import importlib.machinery
import os
import sys

ENABLED = set(filter(None, os.environ.get("TEST_LANGFLOW_PATCHES", "").split(",")))


async def _not_counted(_api_key_id: object) -> None:
    return None


def _counter_off(module: object) -> None:
    module.update_total_uses = _not_counted


def _writes_after_their_checkpoint(module: object) -> None:
    saver = module.JobCheckpointSaver
    write = saver.aput_writes

    async def aput_writes(self, config, writes, task_id, task_path=""):
        wanted = (config.get("configurable") or {}).get("checkpoint_id")
        for _ in range(100):
            if not wanted or (await self._read()).get("checkpoint_id") == wanted:
                break
            await asyncio.sleep(0.05)
        return await write(self, config, writes, task_id, task_path)

    saver.aput_writes = aput_writes


PATCHES = {
    "apikey-usage": ("langflow.services.database.models.api_key.crud", _counter_off),
    "agent-checkpoint": (
        "lfx.components.models_and_agents.agent_helpers.job_checkpoint_saver",
        _writes_after_their_checkpoint,
    ),
}


class _Patcher(importlib.abc.MetaPathFinder):
    """Applies a fix to a Langflow module right after the module has run."""

    def __init__(self, targets: dict) -> None:
        self.targets = targets

    def find_spec(self, name: str, path: object, target: object = None) -> object:
        fix = self.targets.pop(name, None)
        if fix is None:
            return None
        if not self.targets:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: object) -> None:
            run_module(module)
            fix(module)

        spec.loader.exec_module = exec_module
        return spec


_targets = dict(PATCHES[name] for name in ENABLED if name in PATCHES)
if _targets:
    sys.meta_path.insert(0, _Patcher(_targets))
