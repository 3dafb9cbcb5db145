"""Export: the float32 .tflite with its pattern metadata (``tflite.py``) and the files
the converter writes and reads back (``io.py``: masks, atomic writes)."""
