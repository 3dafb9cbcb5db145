"""The three build descriptions of the delegate list the same sources and ISA flags.

delegate/sources.cmake holds the lists; CMakeLists.txt and the Android demo's
CMakeLists.txt include it, and BUILD (Bazel, which cannot read it) repeats
them. The expected differences between platforms are spelled out here:

* every build has the core sources;
* x86-64 (desktop CMake, Bazel --cpu=k8) adds the AVX2 and AVX-512 kernels,
  each with its own flags, and no NEON;
* arm64 (desktop CMake on aarch64, Bazel --cpu=aarch64 or arm64-v8a, the
  Android demo) adds the NEON kernel and no AVX.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES_CMAKE = REPO / "delegate" / "sources.cmake"
ROOT_CMAKE = REPO / "CMakeLists.txt"
ANDROID_CMAKE = REPO / "android_demo" / "app" / "src" / "main" / "cpp" / "CMakeLists.txt"
BAZEL_BUILD = REPO / "BUILD"

LISTS = ("PL_CORE_SOURCES", "PL_AVX2_SOURCES", "PL_AVX512_SOURCES", "PL_NEON_SOURCES")


def _strip_cmake_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def cmake_sets() -> dict[str, list[str]]:
    """The set(NAME items...) calls of delegate/sources.cmake, the only commands it may hold."""
    text = _strip_cmake_comments(SOURCES_CMAKE.read_text())
    calls = re.findall(r"(\w+)\s*\(([^)]*)\)", text)
    assert calls, "delegate/sources.cmake sets nothing"
    out: dict[str, list[str]] = {}
    for command, args in calls:
        assert command == "set", f"delegate/sources.cmake may only set() lists, found {command}()"
        name, *items = args.split()
        out[name] = items
    return out


class _Select:
    """A Starlark select(): the dict of branches, plus list items added around it."""

    def __init__(self, branches: dict[str, list[str]], before: list[str] | None = None) -> None:
        self.branches = branches
        self.before = before or []

    def __radd__(self, other: list[str]) -> _Select:
        return _Select(self.branches, other + self.before)

    def resolve(self, condition: str) -> list[str]:
        return self.before + self.branches.get(condition, self.branches["//conditions:default"])


def bazel_targets() -> dict[str, dict[str, Any]]:
    """The rules of BUILD by name, from running it with recording stand-ins for Bazel's functions."""
    targets: dict[str, dict[str, Any]] = {}

    def rule(kind: str) -> Any:
        def record(name: str, **attrs: Any) -> None:
            targets[name] = {"kind": kind, **attrs}

        return record

    def glob(patterns: list[str]) -> list[str]:
        return sorted({str(p.relative_to(REPO)) for pat in patterns for p in REPO.glob(pat)})

    namespace: dict[str, Any] = {
        "package": lambda **_: None,
        "glob": glob,
        "select": _Select,
        **{k: rule(k) for k in ("cc_library", "cc_binary", "cc_test", "config_setting", "alias")},
    }
    exec(compile(BAZEL_BUILD.read_text(), str(BAZEL_BUILD), "exec"), namespace)  # noqa: S102 (our own file)
    targets["__COPTS__"] = {"value": namespace["COPTS"]}
    return targets


def resolved(value: Any, condition: str) -> list[str]:
    return value.resolve(condition) if isinstance(value, _Select) else list(value)


def test_sources_cmake_lists_every_delegate_source_once() -> None:
    sets = cmake_sets()
    assert set(LISTS) <= set(sets)
    listed = [src for name in LISTS for src in sets[name]]
    assert len(listed) == len(set(listed)), "a source is in two lists"
    on_disk = sorted(str(p.relative_to(REPO)) for p in (REPO / "delegate").rglob("*.cc"))
    assert sorted(listed) == on_disk, "delegate/sources.cmake and the .cc files under delegate/ differ"
    assert all("avx" in Path(s).name for s in sets["PL_AVX2_SOURCES"] + sets["PL_AVX512_SOURCES"])
    assert all("neon" in Path(s).name for s in sets["PL_NEON_SOURCES"])
    assert not any(re.search("avx|neon", Path(s).name) for s in sets["PL_CORE_SOURCES"])


def test_root_cmake_takes_its_sources_from_sources_cmake() -> None:
    text = _strip_cmake_comments(ROOT_CMAKE.read_text())
    assert re.search(r"include\(\s*delegate/sources\.cmake\s*\)", text)
    assert not re.findall(r"delegate/\S+\.cc", text), "CMakeLists.txt names sources itself"
    x86 = re.search(r'if\(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64[^"]*"\)(.*?)elseif', text, re.S)
    arm = re.search(r'elseif\(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64[^"]*"\)(.*?)endif', text, re.S)
    assert x86 and arm, "the per-architecture branches of CMakeLists.txt moved"
    assert re.findall(r"\$\{(PL_\w+_SOURCES)\}", x86.group(1)) == ["PL_AVX2_SOURCES", "PL_AVX512_SOURCES"]
    assert re.findall(r"\$\{(PL_\w+_SOURCES)\}", arm.group(1)) == ["PL_NEON_SOURCES"]
    assert "${PL_CORE_SOURCES}" in text
    # The per-ISA flags come from sources.cmake too.
    assert re.search(r"set_source_files_properties\(\$\{PL_AVX2_SOURCES\}.*\$\{PL_AVX2_FLAGS\}", text)
    assert re.search(r"set_source_files_properties\(\$\{PL_AVX512_SOURCES\}.*\$\{PL_AVX512_FLAGS\}", text)


def test_android_cmake_builds_core_and_neon_only() -> None:
    text = _strip_cmake_comments(ANDROID_CMAKE.read_text())
    assert re.search(r"include\(\$\{ROOT\}/delegate/sources\.cmake\)", text)
    assert re.findall(r"\$\{(PL_\w+_SOURCES)\}", text) == ["PL_CORE_SOURCES", "PL_NEON_SOURCES"]
    assert not re.findall(r"delegate/\S+\.cc", text), "the Android CMakeLists.txt names delegate sources itself"
    assert "GLOB" not in text
    assert "PL_HAVE_NEON=1" in text and "AVX" not in text.upper()
    root = ANDROID_CMAKE.parent / "../../../../.."
    assert (root.resolve() / "delegate" / "sources.cmake").is_file(), "${ROOT} does not reach the repository"


@pytest.mark.parametrize(
    ("condition", "kernels"),
    [
        (":x86_64", ["PL_AVX2_SOURCES", "PL_AVX512_SOURCES"]),
        (":aarch64", ["PL_NEON_SOURCES"]),
        (":android_arm64", ["PL_NEON_SOURCES"]),
        ("//conditions:default", []),
    ],
)
def test_bazel_builds_the_same_sources(condition: str, kernels: list[str]) -> None:
    sets, targets = cmake_sets(), bazel_targets()
    core = targets["delegate_core"]
    assert sorted(core["srcs"]) == sorted(sets["PL_CORE_SOURCES"])
    built = list(core["srcs"])
    for dep in resolved(core["deps"], condition):
        lib = targets[dep.lstrip(":")]
        built += resolved(lib.get("srcs", []), condition)
    expected = sets["PL_CORE_SOURCES"] + [s for name in kernels for s in sets[name]]
    assert sorted(built) == sorted(expected)
    defines = resolved(targets["headers"]["defines"], condition)
    want = {":x86_64": ["PL_HAVE_X86=1"], "//conditions:default": []}.get(condition, ["PL_HAVE_NEON=1"])
    assert defines == want


def test_bazel_neon_library_is_empty_off_arm64() -> None:
    # So that `bazel build //...` works on x86-64.
    assert resolved(bazel_targets()["kernels_neon"]["srcs"], ":x86_64") == []


def test_bazel_isa_flags_match_cmake() -> None:
    sets, targets = cmake_sets(), bazel_targets()
    copts = targets["__COPTS__"]["value"]
    for target, sources, flags in [
        ("kernels_avx2", "PL_AVX2_SOURCES", "PL_AVX2_FLAGS"),
        ("kernels_avx512", "PL_AVX512_SOURCES", "PL_AVX512_FLAGS"),
        ("kernels_neon", "PL_NEON_SOURCES", None),
    ]:
        lib = targets[target]
        assert resolved(lib["srcs"], ":x86_64" if "avx" in target else ":aarch64") == sets[sources]
        assert lib["copts"][: len(copts)] == copts
        assert lib["copts"][len(copts) :] == (sets[flags] if flags else [])
    assert targets["delegate_core"]["copts"] == copts


def test_bazel_declares_every_header_and_include() -> None:
    headers = bazel_targets()["headers"]
    on_disk_h = sorted(str(p.relative_to(REPO)) for p in (REPO / "delegate").rglob("*.h"))
    assert sorted(headers["hdrs"]) == on_disk_h
    on_disk_inc = sorted(str(p.relative_to(REPO)) for p in (REPO / "delegate").rglob("*.inc"))
    assert sorted(headers.get("textual_hdrs", [])) == on_disk_inc


def test_bazel_workspace_fetches_nothing() -> None:
    text = (REPO / "WORKSPACE").read_text() + (REPO / "BUILD").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert "http_archive" not in code and "git_repository" not in code
    assert "load(" not in code, "BUILD and WORKSPACE use only the rules built into Bazel"
    for name in re.findall(r'path = "([^"]+)"', code):
        assert (REPO / name / "WORKSPACE").is_file(), f"local repository {name} is missing"
