from __future__ import annotations

import numpy as np

from dioramic.scene.matte import _local_mean


def test_local_means_of_a_large_texture_match_the_full_resolution_ones():
    # a 12 MP photo's texture has about 5 texels per lattice cell: the means are computed on 5 x 5
    # blocks, and must agree with the exact Gaussian-weighted means wherever there is weight
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:600, 0:800].astype(np.float32)
    rgb = np.stack([xx / 4, yy / 3, 128 + 60 * np.sin(xx / 40) * np.cos(yy / 30)], axis=2)
    rgb += rng.normal(0, 8, rgb.shape).astype(np.float32)
    where = (xx + 0.5 * yy < 500) & (rng.random(xx.shape) < 0.9)
    sigma = 1.5 * 5.2
    exact, exact_w = _local_mean(rgb, where, sigma, 1)
    fast, fast_w = _local_mean(rgb, where, sigma, 5)
    assert fast.shape == exact.shape and fast_w.shape == exact_w.shape
    seen = exact_w > 0.05
    assert np.abs(fast - exact)[seen].mean() < 0.5
    assert np.percentile(np.abs(fast - exact)[seen], 99) < 3.0
    assert np.abs(fast_w - exact_w).max() < 0.05
    # where no texel of the side is near, neither finds weight
    assert (fast_w[exact_w < 1e-6] < 0.05).all()
