"""No readline module, as on Windows' CPython: put this folder first on PYTHONPATH."""

raise ModuleNotFoundError("No module named 'readline'", name="readline")
