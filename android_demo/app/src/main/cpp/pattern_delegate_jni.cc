// JNI shim: creates and destroys the delegate for PatternDelegate.java.
#include <jni.h>

#include <string>

#include "delegate/abi/tflite_abi.h"

extern "C" TfLiteDelegate* tflite_plugin_create_delegate(char** keys, char** values, size_t n,
                                                         void (*report_error)(const char*));
extern "C" void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate);

extern "C" JNIEXPORT jlong JNICALL Java_dev_patternlite_demo_PatternDelegate_nativeCreate(JNIEnv*, jclass,
                                                                                          jint threads) {
  std::string key = "num_threads", value = std::to_string(threads);
  char* keys[] = {key.data()};
  char* values[] = {value.data()};
  return reinterpret_cast<jlong>(tflite_plugin_create_delegate(keys, values, 1, nullptr));
}

extern "C" JNIEXPORT void JNICALL Java_dev_patternlite_demo_PatternDelegate_nativeDestroy(JNIEnv*, jclass,
                                                                                          jlong handle) {
  tflite_plugin_destroy_delegate(reinterpret_cast<TfLiteDelegate*>(handle));
}
