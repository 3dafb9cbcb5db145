"""A local stand-in for @rules_java//java:defs.bzl, so that Bazel 4 builds offline.

Bazel 4 registers the Java toolchains of @bazel_tools//tools/jdk for every
build, and that package loads @rules_java//java:defs.bzl, which the default
WORKSPACE fetches from the network. This project builds no Java: the WORKSPACE
points @rules_java here, and each macro forwards to the rule built into Bazel.
"""

def java_binary(**attrs):
    native.java_binary(**attrs)

def java_import(**attrs):
    native.java_import(**attrs)

def java_library(**attrs):
    native.java_library(**attrs)

def java_plugin(**attrs):
    native.java_plugin(**attrs)

def java_proto_library(**attrs):
    native.java_proto_library(**attrs)

def java_runtime(**attrs):
    native.java_runtime(**attrs)

def java_test(**attrs):
    native.java_test(**attrs)

def java_toolchain(**attrs):
    native.java_toolchain(**attrs)
