"""Print the installed version of Python, prelabel and every requirement prelabel declares
(runtime and test extra), so a CI log shows exactly what a run was proved against."""

from __future__ import annotations

import platform
import re
from importlib.metadata import PackageNotFoundError, requires, version

names = sorted(
    {
        re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower()
        for req in requires("prelabel") or []
        if not req.startswith("prelabel")
    }
)
print(f"python {platform.python_version()}")
for name in ["prelabel", *names]:
    try:
        print(f"{name} {version(name)}")
    except PackageNotFoundError:
        pass  # a marker excluded it (tomli on 3.11+)
