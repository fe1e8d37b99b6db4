// Models whose graph inputs keep symbolic dims. The model is compiled at every point of a
// sample grid of the dims (static, as with --dim); the samples must agree on everything but
// sizes; tensor shapes, arena block sizes and the literals of the generated code are then
// fitted as polynomials of the dims (dynamic/lifting.hpp), and the Session computes them
// from the values it is given: the maxima in its constructor (arena layout), the actual
// values in infer().
#include <fmt/format.h>

#include "dynamic/lifting.hpp"
#include "emit/session_interface.hpp"
#include "pipeline.hpp"
#include "sofiec/error.hpp"

namespace sofiec {
namespace {

// At most this many run-time dims: the grid has 3^n points, each a full compilation.
constexpr std::size_t kMaxRuntimeDims = 4;

struct Sample {
  PlannedModel planned;
  HeaderOutput header;
};

std::string point_text(const std::vector<std::string>& symbols, const std::vector<int64_t>& point) {
  std::vector<std::string> parts;
  for (std::size_t s = 0; s < symbols.size(); ++s) parts.push_back(fmt::format("{}={}", symbols[s], point[s]));
  return fmt::format("{}", fmt::join(parts, ", "));
}

// The first thing (a node, a weight, a block) on which sample k disagrees with sample 0.
void check_same_structure(const Sample& first, const Sample& other, const std::string& at) {
  const Graph& a = first.planned.graph;
  const Graph& b = other.planned.graph;
  auto differ = [&](const std::string& what) {
    return Error(
        fmt::format("{} depends on the run-time dims (it differs at {}); fix them with --dim NAME=VALUE", what, at));
  };
  if (a.nodes.size() != b.nodes.size()) throw differ("the optimized graph");
  for (std::size_t i = 0; i < a.nodes.size(); ++i)
    if (a.nodes[i].name != b.nodes[i].name || a.nodes[i].op_type != b.nodes[i].op_type)
      throw differ(a.nodes[i].describe());
  // Constants the code reads (folded shape arithmetic that only decided shapes does not count).
  if (first.header.weight_names != other.header.weight_names) throw differ("the set of constants the code reads");
  for (const std::string& name : first.header.weight_names) {
    const Tensor* t = a.constant(name);
    const Tensor* u = b.constant(name);
    if (!t || !u || u->dims != t->dims || u->bytes != t->bytes)
      throw differ(fmt::format("the value of '{}', computed at generation time,", name));
  }
  if (first.header.weights != other.header.weights) throw differ("the weights");
  const auto& pa = first.planned.plan.blocks;
  const auto& pb = other.planned.plan.blocks;
  if (pa.size() != pb.size()) throw differ("the memory plan");
  for (std::size_t i = 0; i < pa.size(); ++i)
    if (pa[i].name != pb[i].name || pa[i].first != pb[i].first || pa[i].last != pb[i].last)
      throw differ(fmt::format("the lifetime of '{}'", pa[i].name));
}

Polynomial fit_or_fail(const SampleGrid& grid, const std::vector<int64_t>& values, const std::string& what,
                       std::vector<std::vector<FloorAtom>>& atoms) {
  std::optional<Polynomial> p = fit_polynomial(grid, values, &atoms);
  if (!p) throw Error(fmt::format("{} is not a polynomial of the run-time dims; fix them with --dim NAME=VALUE", what));
  return *p;
}

// Raised when the samples' sizes are no polynomials of the dims on the narrow grid: the
// compilation is tried again on the wide grid, where floor atoms can explain them.
struct NeedsWideGrid : Error {
  using Error::Error;
};

// The smallest value of symbol s (the others at the first grid point) for which the model
// compiles and its graph inputs and outputs have the shapes the fitted dims give; the model
// is assumed valid from there on (as strided windows and slices are).
int64_t smallest_valid(const Model& model, const CompileOptions& options, const std::vector<std::string>& symbols,
                       const SampleGrid& grid, std::size_t s, const DynamicLayout& layout) {
  auto valid = [&](int64_t v) {
    CompileOptions o = options;
    std::vector<int64_t> point = grid.points[0];
    point[s] = v;
    for (std::size_t k = 0; k < symbols.size(); ++k) o.fixed_dims[symbols[k]] = point[k];
    o.sampling_runtime_dims = true;
    try {
      const PlannedModel planned = plan_model(model, o);
      const Graph& g = planned.graph;
      for (const auto& [tensor, dims] : layout.io_dims) {
        const Shape& shape = g.value(tensor).shape;
        if (shape.size() != dims.size()) return false;
        for (std::size_t d = 0; d < dims.size(); ++d) {
          const int64_t size =
              g.is_data_dependent(shape[d]) ? g.data_dependent_dims.at(shape[d].symbol) : shape[d].value;
          const std::optional<int64_t> fitted = dims[d].eval(point);
          if (!fitted || *fitted != size || size < 1) return false;
        }
      }
      return true;
    } catch (const Error&) {
      return false;
    }
  };
  int64_t lo = 1, hi = grid.points[0][s];  // hi is valid (a sample)
  if (valid(lo)) return lo;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (valid(mid) ? hi : lo) = mid;
  }
  return hi;
}

CompiledModel compile_on_grid(const Model& model, const CompileOptions& options,
                              const std::vector<std::string>& symbols, const SampleGrid& grid,
                              bool profile_counts) {
  HeaderSpec spec = header_spec(model, options);
  spec.runtime_offsets = true;
  spec.profile_counts = profile_counts;
  std::vector<Sample> samples;
  for (const std::vector<int64_t>& point : grid.points) {
    CompileOptions o = options;
    for (std::size_t s = 0; s < symbols.size(); ++s) o.fixed_dims[symbols[s]] = point[s];
    o.sampling_runtime_dims = true;
    if (!samples.empty()) {
      o.memory_aware_order = samples[0].planned.stats.reordered;
      o.split_views = samples[0].planned.stats.split_views;
    }
    Sample sample;
    try {
      sample.planned = plan_model(model, o);
      sample.header = write_header(sample.planned.graph, sample.planned.analysis, sample.planned.plan, spec);
    } catch (const UnsupportedError& e) {
      throw UnsupportedError(fmt::format("with run-time dims sampled at {}: {}", point_text(symbols, point), e.what()));
    } catch (const Error& e) {
      throw Error(fmt::format("with run-time dims sampled at {}: {}", point_text(symbols, point), e.what()));
    }
    samples.push_back(std::move(sample));
  }
  for (std::size_t k = 1; k < samples.size(); ++k)
    check_same_structure(samples[0], samples[k], point_text(symbols, grid.points[k]));

  DynamicLayout layout;
  layout.symbols = symbols;
  for (const std::string& s : symbols) layout.vars.push_back("rt_" + sanitize_identifier(s));
  std::vector<std::vector<FloorAtom>> atoms;  // floor atoms found so far, tried first
  // A size no polynomial explains: on the narrow grid, worth a try on the wide one.
  auto widening = [&](auto fit) {
    try {
      return fit();
    } catch (const Error& e) {
      if (!grid.wide) throw NeedsWideGrid(e.what());
      throw;
    }
  };
  auto fit = [&](const std::vector<int64_t>& values, const std::string& what) {
    return widening([&] { return fit_or_fail(grid, values, what, atoms); });
  };
  const Graph& g0 = samples[0].planned.graph;
  std::vector<std::string> io = g0.inputs;
  io.insert(io.end(), g0.outputs.begin(), g0.outputs.end());
  for (const std::string& t : io) {
    const std::size_t rank = g0.value(t).shape.size();
    std::vector<Polynomial> dims;
    std::vector<bool> by_data(rank, false);
    for (std::size_t d = 0; d < rank; ++d) {
      std::vector<int64_t> values;
      for (const Sample& s : samples) {
        const Graph& g = s.planned.graph;
        const Shape& shape = g.value(t).shape;
        if (shape.size() != rank) throw Error(fmt::format("the rank of '{}' depends on the run-time dims", t));
        // A dim the data decides (an output of NonZero...): its upper bound sizes the buffer.
        by_data[d] = g.is_data_dependent(shape[d]);
        values.push_back(by_data[d] ? g.data_dependent_dims.at(shape[d].symbol) : shape[d].value);
      }
      dims.push_back(fit(values, fmt::format("{} {} of '{}'", by_data[d] ? "the bound of dim" : "dim", d, t)));
    }
    layout.io_dims[t] = std::move(dims);
    layout.data_dependent[t] = std::move(by_data);
  }
  for (std::size_t k = 0; k < symbols.size(); ++k)
    layout.minima.push_back(smallest_valid(model, options, symbols, grid, k, layout));
  const std::vector<ArenaBlock>& blocks = samples[0].planned.plan.blocks;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    std::vector<int64_t> values;
    for (const Sample& s : samples) values.push_back(s.planned.plan.blocks[b].bytes);
    const std::string what = blocks[b].is_workspace ? "the scratch of node '" + blocks[b].name + "'"
                                                    : "the size of '" + blocks[b].name + "'";
    Polynomial bytes = fit(values, what);
    // The arena is laid out for the maxima: no smaller value may need more.
    if (!bytes.non_decreasing_from(layout.minima))
      throw Error(fmt::format("{} ({} bytes) shrinks as a run-time dim grows; fix the dims with --dim", what,
                              bytes.str(symbols)));
    layout.block_bytes.push_back(std::move(bytes));
  }
  std::vector<std::string> bodies;
  for (const Sample& s : samples) bodies.push_back(s.header.infer_body);
  layout.infer_body = widening([&] { return lift_code(grid, bodies, layout.vars, symbols, &atoms); });

  spec.dynamic = &layout;
  const Sample& base = samples[0];
  HeaderOutput out = write_header(base.planned.graph, base.planned.analysis, base.planned.plan, spec);
  CompiledModel result;
  result.stats = base.planned.stats;
  result.header = std::move(out.text);
  result.interface = dynamic_interface(base.planned.graph, layout, spec);
  if (!spec.embed_weights) result.weights = std::move(out.weights);
  return result;
}

}  // namespace

CompiledModel compile_dynamic(const Model& model, const CompileOptions& options,
                              const std::vector<std::string>& symbols) {
  if (symbols.size() > kMaxRuntimeDims)
    throw Error(fmt::format("the model has {} run-time dims ({}); at most {} are supported, fix the others with --dim",
                            symbols.size(), fmt::join(symbols, ", "), kMaxRuntimeDims));
  auto compile = [&](bool profile_counts) {
    try {
      return compile_on_grid(model, options, symbols, make_sample_grid(symbols.size()), profile_counts);
    } catch (const NeedsWideGrid&) {
      // Sizes that divide a run-time dim (strided windows): sampled far apart, with floor atoms.
      return compile_on_grid(model, options, symbols, make_wide_sample_grid(symbols.size()), profile_counts);
    }
  };
  if (!options.profile) return compile(false);
  try {
    return compile(true);
  } catch (const UnsupportedError&) {
    throw;  // (not the counts' fault)
  } catch (const Error&) {
    // A node whose FLOPs are no polynomial of the dims (a sort): --profile then times the
    // nodes without counting (the same error comes back if the counts were not the cause).
    return compile(false);
  }
}

}  // namespace sofiec
