// How the GPU's convolution (cuda/conv.cuh, an implicit GEMM: filters x (images * output
// positions) x (channels * taps)) cuts its product into thread-block tiles, and into slices of
// the inner dim when the tiles alone cannot fill the card. The header's launcher and the
// compiler (which sizes the slices' scratch at generation time) follow this one rule.
#pragma once
#include "host_device.hpp"

// Tiles of 16 x 16 threads, each thread 4 or 8 filters by 4 or 8 columns; inner dim 8 at a time.
struct ConvTiling {
  int rows_per_thread, columns_per_thread;  // the block's tile: 16x each
  int splits;                               // slices of the inner dim (1: none)
  long long inner_per_split;                // a multiple of 8
};

// Blocks one wave needs: 132 streaming multiprocessors (an H100 SXM) of two blocks each (the
// 8 x 8 tile's 64 accumulators leave registers for two). A fixed count, not the card's, so that
// the scratch the compiler plans is what the launcher uses.
constexpr long long kConvWaveBlocks = 264;
constexpr int kConvMaxSplits = 16;
constexpr long long kConvMaxScratchFloats = (kConvWaveBlocks + kConvWaveBlocks / 2) * 4096;

// filters x columns x inner, with room for `scratch_floats` of partial sums (splits > 1 need
// splits * filters * columns).
SOFIEC_HOST_DEVICE ConvTiling conv_tiling(long long filters, long long columns, long long inner,
                                          long long scratch_floats) {
  const auto tiles = [&](int tm, int tn) {
    return ((filters + 16 * tm - 1) / (16 * tm)) * ((columns + 16 * tn - 1) / (16 * tn));
  };
  ConvTiling t{4, 4, 1, inner};
  // The largest tile that still gives every multiprocessor a block; 128 filters per tile only
  // where there are more than 64 (a tile half empty wastes what it saves).
  if (filters > 64 && tiles(8, 8) >= kConvWaveBlocks / 2) {
    t.rows_per_thread = t.columns_per_thread = 8;
  } else if (tiles(4, 8) >= kConvWaveBlocks / 2) {
    t.columns_per_thread = 8;
  }
  const long long blocks = tiles(t.rows_per_thread, t.columns_per_thread);
  // Fewer tiles than multiprocessors: slice the inner dim (each slice at least 128 deep, 16
  // steps of 8) up to a wave, partial sums to scratch and one more kernel adding them up. The
  // scratch that takes is at most a wave of full tiles, (264 + 132) * 4096 floats (6.5 MB).
  long long splits = blocks < kConvWaveBlocks / 2 ? (kConvWaveBlocks + blocks - 1) / blocks : 1;
  if (splits > inner / 128) splits = inner / 128;
  if (splits > kConvMaxSplits) splits = kConvMaxSplits;
  if (splits * filters * columns > scratch_floats) splits = scratch_floats / (filters * columns);
  if (splits > 1) {
    const long long per = (inner + splits - 1) / splits;
    t.inner_per_split = (per + 7) / 8 * 8;
    t.splits = int((inner + t.inner_per_split - 1) / t.inner_per_split);
  }
  return t;
}
