"""Online concept-drift detection on a stream of per-prediction errors.

As labels arrive, a monitor feeds each prediction's error (``1``/``0`` for a wrong or
right class, or an absolute error for a regression) to a detector one value at a time;
the detector says when the error's level has changed. Detectors are tiny state machines
with one interface (:class:`DriftDetector`)::

    detector = PageHinkley(threshold=50)
    for position, error in enumerate(errors):
        if detector.update(error):
            print("drift at", position)
    saved = detector.state()            # JSON-ready; persist it between monitor runs
    detector = detector_from_state(saved)

After a detection the next :meth:`~DriftDetector.update` starts afresh (the detector
forgets the old concept), as :mod:`river.drift` does, so positions of successive
detections can be collected over one long stream (:func:`detect`).

Detectors, by key in :data:`DETECTORS` (a new one is a module here and an entry there):

``page_hinkley``
    :class:`PageHinkley` — the Page-Hinkley test (E. S. Page, "Continuous inspection
    schemes", Biometrika 41, 1954; as used for drift by H. Mouss, D. Mouss, N. Mouss and
    L. Sefouhi, "Test of Page-Hinkley, an approach for fault detection in an
    agro-alimentary production system", Asian Control Conference, 2004). Any real values.
``ddm``
    :class:`DDM` — the Drift Detection Method (J. Gama, P. Medas, G. Castillo and
    P. Rodrigues, "Learning with drift detection", SBIA 2004, LNCS 3171). Binary errors.
``adwin``
    :class:`ADWIN` — adaptive windowing (A. Bifet and R. Gavaldà, "Learning from
    time-changing data with adaptive windowing", SDM 2007). Any real values in a bounded
    range; no threshold to tune besides the confidence ``delta``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shipyard.errors import InvalidInputError
from shipyard.stats.streaming.adwin import ADWIN
from shipyard.stats.streaming.base import DriftDetector
from shipyard.stats.streaming.ddm import DDM
from shipyard.stats.streaming.page_hinkley import Mode, PageHinkley

__all__ = [
    "ADWIN",
    "DDM",
    "DETECTORS",
    "DriftDetector",
    "Mode",
    "PageHinkley",
    "detect",
    "detector_from_state",
]


#: Detector classes by key.
DETECTORS: dict[str, type[DriftDetector]] = {
    PageHinkley.key: PageHinkley,
    DDM.key: DDM,
    ADWIN.key: ADWIN,
}


def detector_from_state(state: dict[str, Any]) -> DriftDetector:
    """Rebuild a detector from :meth:`DriftDetector.state`; it carries on where it stopped."""
    try:
        cls = DETECTORS[state["detector"]]
        detector = cls(**state["params"])
        detector._restore(state["variables"])
        detector.seen = int(state["seen"])
        detector._detected = bool(state["detected"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"not a saved drift detector state ({exc!r}); save one with detector.state(); "
            f"known detectors: {', '.join(DETECTORS)}"
        ) from exc
    return detector


def detect(detector: DriftDetector, values: Iterable[float]) -> list[int]:
    """Feed ``values`` to ``detector``; the positions (from 0, within ``values``) where it
    detected a change."""
    return [i for i, value in enumerate(values) if detector.update(value)]
