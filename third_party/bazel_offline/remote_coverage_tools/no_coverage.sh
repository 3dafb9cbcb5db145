#!/bin/sh
echo "bazel coverage is not available in this offline build (third_party/bazel_offline/README.md)" >&2
exit 1
