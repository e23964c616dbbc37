from __future__ import annotations

import numpy as np

from dioramic.scene.matte import _local_mean


def test_local_means_of_a_large_texture_match_the_full_resolution_ones():
    # a 12 MP photo's texture has about 5 texels per lattice cell: the means are computed on 5 x 5
    # blocks, kept at that size, and read back at any texel must agree with the exact
    # Gaussian-weighted means wherever there is weight
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:600, 0:800].astype(np.float32)
    rgb = np.stack([xx / 4, yy / 3, 128 + 60 * np.sin(xx / 40) * np.cos(yy / 30)], axis=2)
    rgb += rng.normal(0, 8, rgb.shape).astype(np.float32)
    where = (xx + 0.5 * yy < 500) & (rng.random(xx.shape) < 0.9)
    sigma = 1.5 * 5.2
    exact = _local_mean(rgb, where, sigma, 1)
    fast = _local_mean(rgb, where, sigma, 5)
    assert exact.mean.shape == (600, 800, 3) and fast.mean.shape == (120, 160, 3)
    rows, cols = np.nonzero(np.ones((600, 800), bool))
    (exact_m, exact_w), (fast_m, fast_w) = exact.at(rows, cols), fast.at(rows, cols)
    seen = exact_w > 0.05
    assert np.abs(fast_m - exact_m)[seen].mean() < 0.5
    assert np.percentile(np.abs(fast_m - exact_m)[seen], 99) < 3.0
    assert np.abs(fast_w - exact_w).max() < 0.05
    # where no texel of the side is near, neither finds weight
    assert (fast_w[exact_w < 1e-6] < 0.05).all()
    # the full-resolution colours (8-bit) agree too, and fall back to the given image elsewhere
    fallback = np.full((600, 800, 3), 7, np.uint8)
    exact_c, fast_c = exact.colours(fallback).astype(int), fast.colours(fallback).astype(int)
    both = (exact_w > 0.05).reshape(600, 800)
    assert np.abs(fast_c - exact_c)[both].mean() < 1.0
    assert (fast_c[(fast_w < 1e-6).reshape(600, 800)] == 7).all()
