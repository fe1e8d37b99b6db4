#!/usr/bin/python3
"""Writes an HDF5 file of synthetic jets for the example jet tagger (models/example/jet_tagger.onnx):
/jets/features, float32 (N, 16), the 16 high-level substructure observables of the hls4ml jet-tagging
dataset (below), standardized; /jets/labels, uint8 (N,), the true class (g, q, W, Z, t: attribute
`classes`). Used by dask_inference.py and benchmarks/python_bench.py; never commit its output.

The jets are a mixture of the dataset's five classes (pT ~ 1 TeV, R = 0.8). Per jet, a few latent
quantities (groomed mass, constituent multiplicity, how two- or three-pronged it is) drive all 16
observables with their physical correlations: W/Z near 80-91 GeV and two-pronged (low N2, D2, C2),
top near 173 GeV and three-pronged, gluons wider with more constituents than quarks. The shapes follow
the real dataset roughly, not exactly: good enough to exercise a tagger, not to train one for physics.

Deterministic from --seed: block b (BLOCK jets) is drawn from its own generator seeded (seed, b), so the
first M jets are the same for every N >= M, and the features are standardized with means and widths
from a fixed pilot sample (stored as attributes `mean` and `std`). Written block by block: memory stays
at a few MB whatever N.

    /usr/bin/python3 models/example/make_jets.py --jets 2000000 --out jets.h5
"""
import argparse
import time

import h5py
import numpy as np

FEATURES = ["j_zlogz", "j_c1_b0_mmdt", "j_c1_b1_mmdt", "j_c1_b2_mmdt", "j_c2_b1_mmdt", "j_c2_b2_mmdt",
            "j_d2_b1_mmdt", "j_d2_b2_mmdt", "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt", "j_m2_b1_mmdt", "j_m2_b2_mmdt",
            "j_n2_b1_mmdt", "j_n2_b2_mmdt", "j_mass_mmdt", "j_multiplicity"]
CLASSES = ["g", "q", "W", "Z", "t"]
FRACTIONS = [0.2, 0.2, 0.2, 0.2, 0.2]  # the hls4ml sample is close to balanced
BLOCK = 1 << 16  # jets per generator block and per write (4 HDF5 chunks)
PT = 1000.0      # GeV


def raw_jets(rng, n):
    """n jets: (features (n, 16) float64 before standardization, labels (n,) uint8)."""
    label = rng.choice(len(CLASSES), size=n, p=FRACTIONS).astype(np.uint8)
    g, q, w, z, t = (label == k for k in range(5))
    u = rng.random(n)
    # Groomed (mMDT) mass, GeV. QCD: a falling spectrum with a peak at small mass; W/Z: resonance peaks
    # with a low tail where grooming removed a prong; top: the top peak, a W shoulder (b lost), a tail.
    qcd_mass = np.exp(rng.normal(np.where(g, 3.55, 3.25), 0.65, n))
    mass = np.where(g | q, qcd_mass, 0.0)
    mass = np.where(w, np.where(u < 0.8, rng.normal(80.4, 8.0, n), qcd_mass), mass)
    mass = np.where(z, np.where(u < 0.8, rng.normal(91.2, 8.5, n), qcd_mass), mass)
    mass = np.where(t, np.where(u < 0.65, rng.normal(172.5, 16.0, n),
                                np.where(u < 0.85, rng.normal(80.4, 10.0, n), qcd_mass * 1.3)), mass)
    mass = np.clip(mass, 0.5, 400.0)
    # Prongness in [0, 1]: how well the jet resolves into 2 (or 3) hard subjets. Low for QCD; it is what
    # makes the energy-correlation ratios (C2, D2, N2, M2) small for the two- and three-prong classes.
    p2 = rng.beta(np.where(w | z, 5.0, np.where(t, 4.0, 1.6)), np.where(w | z, 1.8, np.where(t, 2.2, 4.0)))
    p3 = rng.beta(np.where(t, 4.5, 1.5), np.where(t, 2.0, 4.5))
    # Constituent multiplicity: gluons radiate more than quarks; top's three prongs the most.
    mult_mean = np.select([g, q, w, z, t], [52.0, 34.0, 40.0, 42.0, 60.0])
    mult = np.maximum(rng.poisson(mult_mean * np.exp(rng.normal(0.0, 0.15, n))), 2)

    r = mass / PT  # ~ sqrt(e2) at beta = 2
    ln = lambda s: np.exp(rng.normal(0.0, s, n))  # multiplicative resolution
    prong = 1.0 - 0.55 * p2 - 0.25 * p3           # < 1 for multi-prong jets
    f = np.empty((n, 16))
    f[:, 0] = -(0.62 * np.log(mult) + 0.55) + rng.normal(0.0, 0.25, n) + 0.3 * p2  # sum z log z
    f[:, 1] = np.clip(0.18 + 1.3 * r + rng.normal(0.0, 0.04, n), 0.02, None)          # C1, beta 0
    f[:, 2] = 0.9 * r * ln(0.25)                                                       # C1, beta 1
    f[:, 3] = 0.8 * r * r * ln(0.35) + 1e-4                                            # C1, beta 2
    f[:, 4] = 0.33 * prong * ln(0.25) * (1.0 + 0.004 * mult)                           # C2, beta 1
    f[:, 5] = 0.22 * prong ** 1.3 * ln(0.35) * (1.0 + 0.004 * mult)                    # C2, beta 2
    d2 = 3.2 * prong ** 1.8 * ln(0.35) * (1.0 + 0.5 * p3 * t)
    f[:, 6] = d2                                                                       # D2, beta 1
    f[:, 7] = 1.3 * d2 ** 1.1 * ln(0.25)                                               # D2, beta 2
    f[:, 8] = 1.2 * d2 * ln(0.2) * (1.0 + 0.3 * r)                                     # D2 alpha 1, beta 1
    f[:, 9] = 1.5 * d2 ** 1.15 * ln(0.3) * (1.0 + 0.3 * r)                             # D2 alpha 1, beta 2
    f[:, 10] = 0.06 * prong ** 1.5 * ln(0.4) + 0.02 * p3 * t                            # M2, beta 1
    f[:, 11] = 0.04 * prong ** 1.7 * ln(0.5) + 0.015 * p3 * t                           # M2, beta 2
    f[:, 12] = 0.36 * prong * ln(0.2)                                                  # N2, beta 1
    f[:, 13] = 0.28 * prong ** 1.2 * ln(0.28)                                          # N2, beta 2
    f[:, 14] = mass
    f[:, 15] = mult
    return f, label


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jets", type=int, default=2_000_000, help="number of jets (default 2,000,000)")
    ap.add_argument("--out", default="jets.h5", help="HDF5 file to write (default jets.h5)")
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args()
    if args.jets < 1:
        ap.error("--jets must be at least 1")
    start = time.perf_counter()

    # Standardize with statistics of a pilot sample drawn from its own stream: the same for every N.
    pilot, _ = raw_jets(np.random.default_rng([args.seed, 1 << 30]), 1 << 17)
    mean, std = pilot.mean(axis=0), pilot.std(axis=0)

    with h5py.File(args.out, "w") as h5:
        jets = h5.create_group("jets")
        # Row chunks of 16384 jets (1 MiB): readers that take whole multiples of them read no partial chunk.
        feats = jets.create_dataset("features", (args.jets, 16), dtype="f4", chunks=(min(16384, args.jets), 16))
        labels = jets.create_dataset("labels", (args.jets,), dtype="u1", chunks=(min(16384 * 4, args.jets),))
        feats.attrs["names"] = FEATURES
        feats.attrs["mean"], feats.attrs["std"] = mean, std
        labels.attrs["classes"] = CLASSES
        for b, lo in enumerate(range(0, args.jets, BLOCK)):
            f, lab = raw_jets(np.random.default_rng([args.seed, b]), BLOCK)
            hi = min(lo + BLOCK, args.jets)
            feats[lo:hi] = ((f[:hi - lo] - mean) / std).astype(np.float32)
            labels[lo:hi] = lab[:hi - lo]
    print(f"{args.out}: {args.jets} jets, {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
