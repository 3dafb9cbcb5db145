package dev.patternlite.demo;

import org.tensorflow.lite.Delegate;

/** The patternlite delegate as a TFLite Java delegate. Close it after the interpreter. */
public final class PatternDelegate implements Delegate, AutoCloseable {
  static {
    System.loadLibrary("patternlite_delegate");
  }

  private long handle;

  public PatternDelegate(int numThreads) {
    handle = nativeCreate(numThreads);
    if (handle == 0) {
      throw new IllegalStateException("patternlite delegate could not be created");
    }
  }

  @Override
  public long getNativeHandle() {
    return handle;
  }

  @Override
  public void close() {
    if (handle != 0) {
      nativeDestroy(handle);
      handle = 0;
    }
  }

  private static native long nativeCreate(int numThreads);

  private static native void nativeDestroy(long handle);
}
