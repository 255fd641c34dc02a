"""Virtual mechanical testing of webs.

* :mod:`.elements`: vectorised 3-D frame (Euler-Bernoulli, circular sections) and truss
  element stiffness, sparse assembly.
* :mod:`.solve`: supports and loads by named regions, linear solvers (SuperLU / AMG-CG)
  with mechanism detection.
* :mod:`.linear`: :func:`analyze_linear` (displacements, reactions, member forces).
* :mod:`.materials`: spider-silk law (Cranford et al. 2012) and polymer presets.
* :mod:`.nonlinear`: large-displacement truss to final failure with member deletion.
* :mod:`.virtual`: :func:`virtual_test` (tension, compression, point load), results,
  CSV and plots.

Units: mm, N, MPa (N/mm^2), mJ, g.
"""

from .linear import MemberForces, analyze_linear
from .materials import MATERIALS, ElasticPlastic, SilkLaw, get_material
from .nonlinear import NonlinearResult, displacement_control
from .solve import LinearResult, region_nodes
from .virtual import VirtualTestResult, virtual_test

__all__ = [
    "MATERIALS",
    "ElasticPlastic",
    "LinearResult",
    "MemberForces",
    "NonlinearResult",
    "SilkLaw",
    "VirtualTestResult",
    "analyze_linear",
    "displacement_control",
    "get_material",
    "region_nodes",
    "virtual_test",
]
