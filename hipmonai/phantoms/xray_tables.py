"""Physical tables of the radiograph simulator: tube spectra and linear attenuation coefficients.

The tables ship with the package as ``xray_tables.json`` (a few kB), so simulating needs neither network nor the
libraries that made them. :func:`build_tables` regenerates the file (maintainers only; needs ``spekpy`` and
``xraydb``):

* spectra: SpekPy (Poludniowski et al. 2021, Med. Phys. 48:3630; tungsten anode, 12 deg anode angle, 2.5 mm Al
  inherent filtration), photons per keV per mAs per cm^2 at 1 m, for 50-110 kVp in 5 kV steps;
* attenuation: xraydb's Elam tables (total cross section with coherent scattering) combined by mass fraction into
  the ICRU Report 44 body tissues (adipose, skeletal muscle, cortical bone, red marrow), and aluminium, copper, lead
  and caesium iodide, as linear coefficients in 1/mm on the spectra's 1 keV grid.

Use :func:`load_tables` to read them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["TISSUES", "XrayTables", "build_tables", "load_tables"]

TABLE_FILE = "xray_tables.json"
KVP_GRID = tuple(range(50, 111, 5))
ENERGY_STEP_KEV = 1.0

#: ICRU Report 44 compositions (mass fractions, %) and densities (g/cm^3); metals and the detector phosphor
TISSUES: dict[str, tuple[float, dict[str, float]]] = {
    "adipose": (0.95, {"H": 11.4, "C": 59.8, "N": 0.7, "O": 27.8, "Na": 0.1, "S": 0.1, "Cl": 0.1}),
    "muscle": (1.05, {"H": 10.2, "C": 14.3, "N": 3.4, "O": 71.0, "Na": 0.1, "P": 0.2, "S": 0.3, "Cl": 0.1,
                      "K": 0.4}),
    "cortical_bone": (1.92, {"H": 3.4, "C": 15.5, "N": 4.2, "O": 43.5, "Na": 0.1, "Mg": 0.2, "P": 10.3, "S": 0.3,
                             "Ca": 22.5}),
    "red_marrow": (1.03, {"H": 10.5, "C": 41.4, "N": 3.4, "O": 43.9, "P": 0.1, "S": 0.2, "Cl": 0.2, "K": 0.2,
                          "Fe": 0.1}),
    "aluminium": (2.699, {"Al": 100.0}),
    "copper": (8.96, {"Cu": 100.0}),
    "lead": (11.35, {"Pb": 100.0}),
    "caesium_iodide": (4.51, {"Cs": 51.15, "I": 48.85}),
}


@dataclass(frozen=True)
class XrayTables:
    """Spectra and attenuation coefficients on one energy grid.

    Attributes:
        energy_kev: ``(E,)`` bin centres (keV).
        kvp: ``(S,)`` tube voltages of the spectra.
        spectra: ``(S, E)`` photons per keV per mAs per cm^2 at 1 m (2.5 mm Al inherent filtration).
        mu_per_mm: material name -> ``(E,)`` linear attenuation coefficient (1/mm).
    """

    energy_kev: np.ndarray
    kvp: np.ndarray
    spectra: np.ndarray
    mu_per_mm: dict[str, np.ndarray]

    def spectrum(self, kvp: float) -> np.ndarray:
        """``(E,)`` spectrum at ``kvp`` (linear interpolation between the tabulated voltages, zero above ``kvp``)."""
        if not self.kvp[0] <= kvp <= self.kvp[-1]:
            raise ValueError(f"kvp must lie in [{self.kvp[0]}, {self.kvp[-1]}], got {kvp}.")
        i = int(np.clip(np.searchsorted(self.kvp, kvp) - 1, 0, len(self.kvp) - 2))
        f = (kvp - self.kvp[i]) / (self.kvp[i + 1] - self.kvp[i])
        spec = (1 - f) * self.spectra[i] + f * self.spectra[i + 1]
        return np.where(self.energy_kev <= kvp, spec, 0.0)

    def mu(self, material: str) -> np.ndarray:
        """``(E,)`` linear attenuation coefficient (1/mm) of ``material`` (one of :data:`TISSUES`)."""
        if material not in self.mu_per_mm:
            raise ValueError(f"unknown material {material!r}; known: {sorted(self.mu_per_mm)}.")
        return self.mu_per_mm[material]


@lru_cache(maxsize=1)
def load_tables() -> XrayTables:
    """The embedded tables (read once)."""
    text = resources.files("hipmonai.phantoms").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    return XrayTables(
        energy_kev=np.asarray(data["energy_kev"], dtype=np.float64),
        kvp=np.asarray(data["kvp"], dtype=np.float64),
        spectra=np.asarray(data["spectra"], dtype=np.float64),
        mu_per_mm={k: np.asarray(v, dtype=np.float64) for k, v in data["mu_per_mm"].items()},
    )


def build_tables(out: str | Path | None = None) -> Path:  # pragma: no cover - maintainers, needs spekpy and xraydb
    """Regenerate ``xray_tables.json`` with SpekPy and xraydb (see the module docstring)."""
    import spekpy
    import xraydb

    energies = None
    spectra = []
    for kvp in KVP_GRID:
        spek = spekpy.Spek(kvp=kvp, th=12, dk=ENERGY_STEP_KEV)
        spek.filter("Al", 2.5)
        k, fluence = spek.get_spectrum()
        if energies is None:
            energies = np.arange(10.0, KVP_GRID[-1] + ENERGY_STEP_KEV / 2, ENERGY_STEP_KEV) + ENERGY_STEP_KEV / 2
            energies = energies[energies < KVP_GRID[-1]]
        spectra.append(np.interp(energies, k, fluence, left=0.0, right=0.0))
    mu = {}
    for name, (density, fractions) in TISSUES.items():
        total = sum(fractions.values())
        mass = sum(f / total * xraydb.mu_elam(el, energies * 1000.0) for el, f in fractions.items())
        mu[name] = np.round(mass * density / 10.0, 8)  # cm^2/g * g/cm^3 = 1/cm -> 1/mm
    data = {
        "source": "SpekPy 2.x (W, 12 deg, 2.5 mm Al, 1 m, per keV per mAs per cm^2); xraydb Elam tables, ICRU 44",
        "energy_kev": energies.round(3).tolist(),
        "kvp": list(KVP_GRID),
        "spectra": [np.round(s, 3).tolist() for s in spectra],
        "mu_per_mm": {k: v.tolist() for k, v in mu.items()},
    }
    path = Path(out) if out is not None else Path(__file__).with_name(TABLE_FILE)
    path.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    return path
