"""Test-session settings shared by every test file.

The suite runs on two pytest-xdist workers on a 2-core machine: each worker gets one BLAS /
torch thread, since oversubscribed torch threads slow small models down by an order of
magnitude. Set before numpy or torch are imported by any test module.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
