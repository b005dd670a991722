"""The Python's own readline module, loaded by a shim of the same name that stands in front of it."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType


def load(shim_folder: str) -> ModuleType:
    """The readline module the Python would import without the shim's folder on its path."""
    shim = sys.modules["readline"]
    path = [entry for entry in sys.path if os.path.abspath(entry or ".") != os.path.abspath(shim_folder)]
    spec = importlib.machinery.PathFinder.find_spec("readline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["readline"] = shim  # loading an extension module registers it under the same name
    return module
