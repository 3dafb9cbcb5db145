"""A local stand-in for @rules_cc//cc:defs.bzl, so that Bazel 4 builds offline.

Bazel 4's own @bazel_tools//tools/cpp package loads @rules_cc//cc:defs.bzl,
which the default WORKSPACE fetches from the network. The WORKSPACE of this
project points @rules_cc here instead. Each macro forwards to the C++ rule
built into Bazel, exactly what rules_cc's defs.bzl of that time did; the
project's own BUILD file uses the built-in rules directly and loads nothing.
"""

def cc_binary(**attrs):
    native.cc_binary(**attrs)

def cc_import(**attrs):
    native.cc_import(**attrs)

def cc_library(**attrs):
    native.cc_library(**attrs)

def cc_proto_library(**attrs):
    native.cc_proto_library(**attrs)

def cc_test(**attrs):
    native.cc_test(**attrs)

def cc_toolchain(**attrs):
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**attrs)

def fdo_prefetch_hints(**attrs):
    native.fdo_prefetch_hints(**attrs)

def fdo_profile(**attrs):
    native.fdo_profile(**attrs)

def objc_import(**attrs):
    native.objc_import(**attrs)

def objc_library(**attrs):
    native.objc_library(**attrs)
