"""Where candidate designs come from: the conditions a generative model is asked for.

* A model trained on the mechanical descriptors is simply conditioned on the targets
  (:func:`target_conditions`), and in later rounds on the targets plus the geometry of the
  best designs so far (variations of what worked).
* A model that does not know the descriptors (the weights shipped before they existed) is
  conditioned on the geometric features of the training samples whose descriptors lie
  nearest the targets (:func:`retrieve`, on a log scale): the data say which geometry
  has the requested stiffness, the model makes new webs of that geometry.
* :class:`ConditionSurrogate` is a smooth map from a web's geometric features to its log
  descriptors (quadratic least squares on the training split); its gradient moves a
  proposal's geometric conditions until the surrogate predicts the targets (guidance by
  a surrogate's gradient, :meth:`ConditionSurrogate.guide`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..features import FEATURE_NAMES

#: Geometric features mapped on a log scale by the surrogate and the retrieval.
_LOG_GEOMETRY = ("mean_edge_length", "mean_abs_dx", "mean_abs_dy", "mean_abs_dz", "num_nodes",
                 "num_edges")  # fmt: skip


def log_errors(achieved: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """|log(achieved / target)| (NaN or non-positive achieved: inf)."""
    a = np.asarray(achieved, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(np.log(a / targets))
    return np.where(np.isfinite(out) & (a > 0), out, np.inf)


def retrieve(
    data, targets: Mapping[str, float], k: int, split: str = "train", exclude: int = 0
) -> np.ndarray:
    """Indices (into ``data``) of the ``k`` samples of ``split`` whose descriptors are
    nearest the targets: smallest largest |log ratio| over the targets, skipping the
    first ``exclude`` of them."""
    names = list(targets)
    missing = [n for n in names if n not in data.feature_names]
    if missing:
        raise InputError(f"the design dataset has no {missing} (build it with --mechanics)")
    cols = [data.feature_names.index(n) for n in names]
    pool = np.flatnonzero(data.split == ("train", "val", "test").index(split))
    if not len(pool):
        raise InputError(f"the design dataset has no {split} samples")
    err = log_errors(data.features[pool][:, cols], np.array([targets[n] for n in names]))
    order = np.argsort(err.max(axis=1), kind="stable")
    return pool[order[exclude : exclude + k]]


def geometry_conditions(data, rows: Sequence[int], names: Sequence[str]) -> list[dict]:
    """The values of the features ``names`` (those the dataset has) of samples ``rows``."""
    use = [n for n in names if n in data.feature_names]
    cols = [data.feature_names.index(n) for n in use]
    return [dict(zip(use, map(float, data.features[int(r), cols]))) for r in rows]


class ConditionSurrogate:
    """Quadratic least-squares map from geometric features to log descriptors.

    Inputs: the model's geometric condition names (of :data:`araneus.features.FEATURE_NAMES`),
    standardised, the positive length-like and count features on a log scale; outputs:
    the log of each descriptor. Fitted by ridge regression on the training split.
    """

    def __init__(self, data, inputs: Sequence[str], outputs: Sequence[str], ridge: float = 1e-3):
        self.inputs = [n for n in inputs if n in FEATURE_NAMES and n in data.feature_names]
        self.outputs = list(outputs)
        if not self.inputs:
            raise InputError("the surrogate needs geometric features the model is conditioned on")
        tr = data.split == 0
        x = self._encode_raw(data.features[tr][:, [data.feature_names.index(n) for n in self.inputs]])
        self.mu, self.sd = x.mean(0), np.maximum(x.std(0), 1e-12)
        y = np.log(data.features[tr][:, [data.feature_names.index(n) for n in self.outputs]])
        f = self._design((x - self.mu) / self.sd)
        self.w = np.linalg.solve(f.T @ f + ridge * len(f) * np.eye(f.shape[1]), f.T @ y)
        self.r2 = 1 - ((f @ self.w - y) ** 2).sum(0) / np.maximum(((y - y.mean(0)) ** 2).sum(0), 1e-300)

    def _logs(self) -> np.ndarray:
        return np.array([n in _LOG_GEOMETRY for n in self.inputs])

    def _encode_raw(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64).copy()
        lg = self._logs()
        x[:, lg] = np.log(np.maximum(x[:, lg], 1e-12))
        return x

    @staticmethod
    def _design(z: np.ndarray) -> np.ndarray:
        i, j = np.triu_indices(z.shape[1])
        return np.concatenate([np.ones((len(z), 1)), z, z[:, i] * z[:, j]], axis=1)

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Log descriptors (B, T) at standardised inputs ``z`` (B, D)."""
        return self._design(np.atleast_2d(z)) @ self.w

    def _jacobian(self, z: np.ndarray) -> np.ndarray:
        """(T, D) derivative of :meth:`predict` at one standardised point ``z`` (D,)."""
        d = len(z)
        i, j = np.triu_indices(d)
        dq = np.zeros((len(i), d))
        dq[np.arange(len(i)), i] += z[j]
        dq[np.arange(len(i)), j] += z[i]
        dphi = np.concatenate([np.zeros((1, d)), np.eye(d), dq])
        return self.w.T @ dphi

    def guide(
        self, conditions: dict[str, float], targets: Mapping[str, float], radius: float = 1.0,
        iters: int = 8,
    ) -> dict[str, float]:
        """Geometric ``conditions`` moved along the surrogate's gradient until it predicts
        the targets: damped Gauss-Newton on ``|S(z) - log t|^2`` with a trust region of
        ``radius`` training standard deviations around the start (so the request stays
        among geometries the model has seen). Other entries are kept."""
        raw = np.array([[conditions.get(n, np.nan) for n in self.inputs]])
        known = ~np.isnan(raw[0])
        z0 = (self._encode_raw(np.where(np.isnan(raw), 1.0, raw)) - self.mu) / self.sd
        z0 = np.where(known, z0[0], 0.0)  # an unknown input starts at the training mean
        tgt = np.log(np.array([targets[n] for n in self.outputs]))
        z = z0.copy()
        for _ in range(iters):
            r = self.predict(z)[0] - tgt
            jac = self._jacobian(z)
            step = np.linalg.solve(jac.T @ jac + 1e-2 * np.eye(len(z)), -jac.T @ r)
            z = z + step
            off = z - z0
            norm = np.linalg.norm(off)
            if norm > radius:
                z = z0 + off * radius / norm
        x = z * self.sd + self.mu
        lg = self._logs()
        x[lg] = np.exp(x[lg])
        out = dict(conditions)
        out.update({n: float(v) for n, v in zip(self.inputs, x)})
        return out


def feasible(
    conditions: dict[str, float], bounds: Mapping[str, tuple[float, float]], max_degree: int
) -> dict[str, float]:
    """``conditions`` brought inside what a model can make: each value clipped to its
    ``bounds`` (:meth:`araneus.models.base.ConditionalModel.condition_bounds`), the edge
    count to what ``num_nodes`` allows at ``max_degree``, each mean axis projection to
    the mean edge length. Retrieved geometry never needs it; geometry moved by the
    surrogate or rescaled by the scaling law can leave the range the data span."""
    out = {k: float(np.clip(v, *bounds[k])) if k in bounds else v for k, v in conditions.items()}
    if "num_nodes" in out and "num_edges" in out:
        out["num_edges"] = min(out["num_edges"], round(out["num_nodes"]) * max_degree / 2.0)
    if "mean_edge_length" in out:
        for axis in ("mean_abs_dx", "mean_abs_dy", "mean_abs_dz"):
            if axis in out:
                out[axis] = min(out[axis], out["mean_edge_length"])
    return out


def target_conditions(targets: Mapping[str, float], geometry: dict | None = None) -> dict:
    """Conditions of a descriptor-conditioned model: the targets, plus ``geometry``."""
    return {**(geometry or {}), **{k: float(v) for k, v in targets.items()}}
