"""No import cycles: between the Python modules, nor between the C++ delegate's folders.

tools/check_import_cycles.py finds them; these tests run it on the repository,
and on small trees with a planted cycle so that a checker that finds nothing
cannot pass unnoticed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
CHECKER = REPO / "tools" / "check_import_cycles.py"


def _checker() -> ModuleType:
    loaded = importlib.util.spec_from_file_location("check_import_cycles", CHECKER)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def test_no_python_import_cycles() -> None:
    check = _checker()
    graph = check.python_graph()
    # The scan saw the packages (an empty graph would pass vacuously).
    assert "patternlite.metadata" in graph and "benchmarks.run" in graph
    assert "patternlite._contract" in graph["patternlite.metadata"]
    found = [check.describe(graph, c) for c in check.cycles(graph)]
    assert not found, "import cycles between Python modules:\n" + "\n".join(found)


def test_no_cxx_folder_include_cycles() -> None:
    check = _checker()
    graph = check.cxx_folder_graph()
    assert {"abi", "metadata", "packing", "kernels", "runtime", "opencl"} <= set(graph)
    assert "kernels" in graph["runtime"]
    found = [check.describe(graph, c) for c in check.cycles(graph)]
    assert not found, "include cycles between the folders of delegate/:\n" + "\n".join(found)


def test_the_script_exits_zero_on_the_repository() -> None:
    run = subprocess.run([sys.executable, str(CHECKER)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_a_planted_python_cycle_is_found(tmp_path: Path) -> None:
    """Function-level and relative imports count: a cycle they hide only waits for the call."""
    check = _checker()
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def f():\n    from pkg.sub import b\n    return b\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/b.py": "from .. import a\n",
            "pkg/c.py": "import pkg.a\n",
        },
    )
    graph = check.python_graph(tmp_path, {"pkg": "pkg"})
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert check.cycles(graph) == [["pkg.a", "pkg.sub.b"]]


def test_a_planted_folder_cycle_is_found(tmp_path: Path) -> None:
    check = _checker()
    _write(
        tmp_path,
        {
            "delegate/contract_generated.h": "",
            "delegate/runtime/node.h": '#include "delegate/contract_generated.h"\n#include "delegate/opencl/cl.h"\n',
            "delegate/opencl/cl.h": '#include "delegate/runtime/node.h"\n',
            "delegate/kernels/k.cc": '#include "delegate/kernels/k.h"\n',
        },
    )
    graph = check.cxx_folder_graph(tmp_path)
    assert graph == {"kernels": set(), "opencl": {"runtime"}, "runtime": {"opencl"}}
    assert check.cycles(graph) == [["opencl", "runtime"]]
    assert check.describe(graph, ["opencl", "runtime"]) == "opencl -> runtime, runtime -> opencl"
