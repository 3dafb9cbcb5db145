"""The data-free stages: synthetic inputs matched to the model's BatchNorm statistics
(``synthetic.py``), a pool grown with adversarial images (``pool_growth.py``) and
end-to-end distillation of the pruned model against the original (``distill.py``)."""
