# The delegate's source files, relative to the repository root: the one list
# that CMakeLists.txt and android_demo/app/src/main/cpp/CMakeLists.txt both
# include. Bazel cannot read it, so BUILD repeats it, and
# tests/test_build_files.py checks that the three builds agree with it.

# Every platform.
set(PL_CORE_SOURCES
  delegate/metadata/metadata_reader.cc
  delegate/node/conv_shape.cc
  delegate/packing/pattern_pack.cc
  delegate/packing/block_pack.cc
  delegate/kernels/conv_scalar.cc
  delegate/kernels/block_scalar.cc
  delegate/kernels/dispatch.cc
  delegate/runtime/thread_pool.cc
  delegate/runtime/options.cc
  delegate/runtime/autotune.cc
  delegate/runtime/cpu_node.cc
  delegate/runtime/conv_node.cc
  delegate/runtime/conv_int8_node.cc
  delegate/runtime/block_node.cc
  delegate/runtime/build.cc
  delegate/runtime/delegate.cc
  delegate/runtime/judge.cc
  delegate/runtime/judge_conv3x3.cc
  delegate/runtime/judge_conv3x3_int8.cc
  delegate/runtime/judge_depthwise3x3.cc
  delegate/runtime/judge_pointwise.cc
  delegate/runtime/judge_steps.cc
  delegate/runtime/stats_json.cc
  delegate/runtime/plugin.cc
  delegate/runtime/weight_checks.cc
  # The cheap ops claimed next to claimed convs (runtime/op_claim.h).
  delegate/runtime/op_claim.cc
  delegate/runtime/add_node.cc
  delegate/kernels/add_int8.cc
  delegate/packing/add_int8_params.cc
  # The OpenCL backend: OpenCL is loaded at run time (dlopen), so it adds no
  # link-time dependency and runs on whatever device the machine has.
  delegate/opencl/cl_loader.cc
  delegate/opencl/cl_conv.cc
  # int8 3x3 pattern convs (docs/int8.md).
  delegate/packing/pattern_pack_int8.cc
  delegate/kernels/conv_int8_scalar.cc
  delegate/kernels/conv_int8_dispatch.cc
  # int8 sparse 1x1 and pattern depthwise convs (docs/int8.md).
  delegate/packing/block_pack_int8.cc
  delegate/kernels/block_int8_scalar.cc
  delegate/runtime/block_int8_node.cc
  delegate/runtime/judge_block_int8.cc
)

# x86-64 only, each compiled for its own ISA (PL_AVX2_FLAGS, PL_AVX512_FLAGS)
# and called only after a run-time CPU check (delegate/kernels/dispatch.cc).
# The int8 kernels add their extra features (VNNI, BW, AVX-VNNI) with target
# pragmas in the files themselves.
set(PL_AVX2_SOURCES delegate/kernels/block_avx2.cc delegate/kernels/conv_avx2.cc
  delegate/kernels/conv_int8_avx2.cc delegate/kernels/conv_int8_avxvnni.cc
  delegate/kernels/block_int8_avx2.cc delegate/kernels/block_int8_avxvnni.cc)
set(PL_AVX2_FLAGS -mavx2 -mfma)
set(PL_AVX512_SOURCES delegate/kernels/block_avx512.cc delegate/kernels/conv_avx512.cc
  delegate/kernels/conv_int8_avx512.cc delegate/kernels/conv_int8_avx512_fl.cc
  delegate/kernels/pointwise_int8_avx512.cc delegate/kernels/depthwise_int8_avx512.cc
  delegate/kernels/add_int8_avx512.cc)
set(PL_AVX512_FLAGS -mavx512f -mavx512vl -mavx2 -mfma)

# arm64 only (NEON is part of the base ISA there: no flags).
# (conv_int8_neon.cc enables dotprod for itself with a target pragma.)
set(PL_NEON_SOURCES delegate/kernels/block_neon.cc delegate/kernels/conv_neon.cc
  delegate/kernels/conv_int8_neon.cc delegate/kernels/block_int8_neon.cc)
