package dev.patternlite.demo;

import android.app.Activity;
import android.content.res.AssetFileDescriptor;
import android.os.Bundle;
import android.widget.TextView;
import java.io.FileInputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import org.tensorflow.lite.Interpreter;

/** Times model.tflite from the assets with TFLite/XNNPACK alone and with the pattern delegate. */
public class MainActivity extends Activity {
  private static final int THREADS = 4;
  private static final int RUNS = 30;

  @Override
  protected void onCreate(Bundle state) {
    super.onCreate(state);
    TextView view = new TextView(this);
    setContentView(view);
    try {
      MappedByteBuffer model = load("model.tflite");
      double dense = medianMs(model, null);
      String text;
      try (PatternDelegate delegate = new PatternDelegate(THREADS)) {
        double pattern = medianMs(model, delegate);
        text = String.format("TFLite/XNNPACK: %.2f ms\npatternlite: %.2f ms\nspeed-up: %.2fx",
            dense, pattern, dense / pattern);
      }
      view.setText(text);
    } catch (Exception e) {
      view.setText("error: " + e);
    }
  }

  private MappedByteBuffer load(String name) throws Exception {
    AssetFileDescriptor fd = getAssets().openFd(name);
    try (FileInputStream in = new FileInputStream(fd.getFileDescriptor())) {
      return in.getChannel().map(FileChannel.MapMode.READ_ONLY, fd.getStartOffset(), fd.getDeclaredLength());
    }
  }

  private double medianMs(MappedByteBuffer model, PatternDelegate delegate) {
    Interpreter.Options options = new Interpreter.Options().setNumThreads(THREADS);
    if (delegate != null) {
      options.addDelegate(delegate);
    }
    try (Interpreter interpreter = new Interpreter(model, options)) {
      int[] shape = interpreter.getInputTensor(0).shape();
      int size = 1;
      for (int d : shape) size *= d;
      float[] input = new float[size];
      java.nio.FloatBuffer in = java.nio.FloatBuffer.wrap(input);
      int[] outShape = interpreter.getOutputTensor(0).shape();
      int outSize = 1;
      for (int d : outShape) outSize *= d;
      java.nio.FloatBuffer out = java.nio.FloatBuffer.allocate(outSize);
      double[] times = new double[RUNS];
      for (int i = 0; i < 3; i++) interpreter.run(in.rewind(), out.rewind());
      for (int i = 0; i < RUNS; i++) {
        long t0 = System.nanoTime();
        interpreter.run(in.rewind(), out.rewind());
        times[i] = (System.nanoTime() - t0) / 1e6;
      }
      Arrays.sort(times);
      return times[RUNS / 2];
    }
  }
}
