"""Design for mechanics: ask for a stiffness per gram and get webs that have it.

>>> from araneus.design import design
>>> res = design({"stiffness_z_per_mass": 500.0}, material="silk", n=16)  # doctest: +SKIP
>>> res.best(1)[0].web, res.error(res.order[0])  # doctest: +SKIP

:mod:`~araneus.design.search` runs generate-evaluate-select rounds with a generative model
and the finite-element descriptors of :mod:`araneus.mechanics.descriptors`;
:mod:`~araneus.design.proposals` turns targets into model conditions.
"""

from .proposals import ConditionSurrogate, retrieve
from .search import (
    DESIGN_MATERIALS,
    Candidate,
    DesignResult,
    cache_dir,
    check_targets,
    design,
    design_data,
    load_generator,
    parse_targets,
)

__all__ = [
    "DESIGN_MATERIALS",
    "Candidate",
    "ConditionSurrogate",
    "DesignResult",
    "cache_dir",
    "check_targets",
    "design",
    "design_data",
    "load_generator",
    "parse_targets",
    "retrieve",
]
