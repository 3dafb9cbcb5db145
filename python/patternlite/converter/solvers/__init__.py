"""The layer-wise solvers: the pattern library (``patterns.py``), the projections onto
each kind's structure (``projection.py``), the reconstruction problem of one layer
(``layer_problem.py``), the ADMM core and its 3x3/1x1 solver (``admm.py``), the
depthwise solver (``depthwise.py``) and the sensitivity allocation of keep across
layers (``allocation.py``)."""
