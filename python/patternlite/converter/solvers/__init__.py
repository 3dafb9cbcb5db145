"""The layer-wise solvers: the pattern library (``patterns.py``), the projections onto
each kind's structure (``projection.py``), the reconstruction problem of one layer
(``layer_problem.py``), the ADMM core every kind shares (``admm.py``) with the
W-steps of 3x3 and 1x1 convs (``conv.py``) and of depthwise convs (``depthwise.py``),
and the sensitivity allocation of keep across layers (``allocation.py``)."""
