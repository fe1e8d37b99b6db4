// Writes the generated header: fills the Session skeleton (templates/session.hxx) with the
// kernels the model needs, its weights, its metadata and the body of infer().
#include "emit/header_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <functional>
#include <set>

#include "emit/dynamic_session.hpp"
#include "emit/emit_context.hpp"
#include "emit/templates.hpp"
#include "ops/registry.hpp"
#include "pipeline.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"

namespace sofiec {
namespace {

// The template files (paths under templates/) that a kernel file at `path` includes with
// #include "...", resolved against its folder ("../shared/x.hpp" names a rule both targets
// share), less the vector layer (isa, simd, prelude: the skeleton's prelude region holds it).
std::vector<std::string> kernel_includes(std::string_view text, const std::string& path) {
  std::string folder = path.substr(0, path.rfind('/'));
  std::vector<std::string> deps;
  for (std::size_t pos = text.find("#include \""); pos != std::string_view::npos;
       pos = text.find("#include \"", pos + 1)) {
    const std::size_t start = pos + 10, end = text.find('"', start);
    if (end == std::string_view::npos) break;
    std::string name(text.substr(start, end - start)), dir = folder;
    while (name.rfind("../", 0) == 0) {
      name.erase(0, 3);
      dir = dir.substr(0, dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/'));
    }
    const std::string file = dir.empty() ? name : dir + "/" + name;
    if (file != "kernels/prelude.hpp" && file != "kernels/simd.hpp" && file != "kernels/isa.hpp") deps.push_back(file);
  }
  return deps;
}

// `files` (paths under templates/) and everything they include, each after the files it
// includes.
std::vector<std::string> kernel_order(const std::vector<std::string>& files) {
  std::vector<std::string> order;
  std::set<std::string> seen;
  std::function<void(const std::string&)> visit = [&](const std::string& file) {
    if (!seen.insert(file).second) return;
    for (const std::string& dep : kernel_includes(template_text(file), file)) visit(dep);
    order.push_back(file);
  };
  for (const std::string& file : files) visit(file);
  return order;
}

// A file's name without its folder and extension: kernels/gemm.hpp -> gemm.
std::string kernel_stem(const std::string& file) {
  const std::size_t slash = file.rfind('/') + 1;
  return file.substr(slash, file.rfind('.') - slash);
}

// The kernel files a header needs, each after the files it includes, wrapped so that a
// translation unit with several sofiec headers compiles each file once: the kernels live in
// sofiec::SOFIEC_KERNELS_NAMESPACE(<id>) (isa.hpp), one include guard per file, and name the
// vector layer through the alias `simd`. The AVX-512 copy of a dispatching header has guards
// of its own (`copy`: "_DISPATCH").
std::string kernels_text(const std::set<std::string>& used, const std::string& id, const std::string& copy = "") {
  std::vector<std::string> files;
  for (const std::string& name : used) files.push_back("kernels/" + name + ".hpp");
  const std::vector<std::string> order = kernel_order(files);
  // The namespace exists even where no kernel is needed: the model's code names it.
  std::string out = fmt::format(
      "namespace sofiec {{\nnamespace SOFIEC_KERNELS_NAMESPACE({}) {{\nnamespace simd = "
      "::sofiec::SOFIEC_VEC_NAMESPACE;\n}}\n"
      "}}  // namespace sofiec\n",
      id);
  for (const std::string& file : order) {
    const std::string name = kernel_stem(file);
    std::string guard = fmt::format("SOFIEC_{}_{}{}_", id, name, copy);
    std::transform(guard.begin(), guard.end(), guard.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    out += fmt::format(
        "// ---- kernels/{0}.hpp\n#ifndef {1}\n#define {1}\nnamespace sofiec {{\nnamespace "
        "SOFIEC_KERNELS_NAMESPACE({2}) {{\nnamespace simd = ::sofiec::SOFIEC_VEC_NAMESPACE;\n{3}"
        "}}  // namespace SOFIEC_KERNELS_NAMESPACE({2})\n}}  // namespace sofiec\n#endif  // {1}\n",
        name, guard, id, kernel_body(template_text(file)));
  }
  return out;
}

// The features the AVX-512 copy is compiled for: x86-64-v4's AVX-512 and the v3 features the
// compiler may use beside them, as cpu_has_avx512() (kernels/cpu.hpp) checks them.
constexpr const char* kAvx512Features =
    "avx512f,avx512cd,avx512bw,avx512dq,avx512vl,avx2,avx,fma,f16c,bmi,bmi2,lzcnt,movbe,popcnt";

// The vector layer as a header holds it (the instruction-set macros, simd.hpp, prelude.hpp and
// their standard includes): in the prelude region, and again in the AVX-512 copy.
std::string vector_layer_text() {
  return kernel_body(template_text("kernels/isa.hpp")) + kernel_body(template_text("kernels/simd.hpp"), true) +
         kernel_body(template_text("kernels/prelude.hpp"), true);
}

// The vector layer and the kernels once more, compiled for AVX-512 in a target region, for a
// header built for less on x86-64 with GCC or Clang (SOFIEC_NO_DISPATCH leaves it out). The
// region's functions carry the target attribute; the Session calls them only where
// cpu_has_avx512(), compiled before the region for the header's own target, says so.
std::string dispatch_text(const std::set<std::string>& used, const std::string& id) {
  return fmt::format(
      "// ---- The AVX-512 copy (sofiec --dispatch avx512)\n"
      "{0}"
      "#undef SOFIEC_DISPATCH_AVX512_\n"
      "#if !defined(SOFIEC_NO_DISPATCH) && !defined(SOFIEC_SCALAR_KERNELS) && defined(__x86_64__) && "
      "defined(__GNUC__) && \\\n    !defined(__AVX512F__)\n"
      "#define SOFIEC_DISPATCH_AVX512_ 1\n"
      "#define SOFIEC_AVX512_TARGET_ __attribute__((target(\"{1}\")))\n"
      "#define SOFIEC_DISPATCH_COPY_\n"
      "#if defined(__clang__)\n"
      "#pragma clang attribute push(__attribute__((target(\"{1}\"))), apply_to = function)\n"
      "#else\n"
      "#pragma GCC push_options\n"
      "#pragma GCC target(\"{1}\")\n"
      "#endif\n"
      "{2}{3}"
      "#if defined(__clang__)\n"
      "#pragma clang attribute pop\n"
      "#else\n"
      "#pragma GCC pop_options\n"
      "#endif\n"
      "#undef SOFIEC_DISPATCH_COPY_\n"
      "{4}"
      "#endif  // the AVX-512 copy\n",
      kernel_body(template_text("kernels/cpu.hpp"), true), kAvx512Features, vector_layer_text(),
      kernels_text(used, id, "_dispatch"), kernel_body(template_text("kernels/isa.hpp")));
}

// The CUDA kernel files a header needs (templates/cuda/<name>.cuh, runtime.cuh always), each
// after the files it includes (templates/shared/ among them: the rules both targets share,
// compiled for host and device), in sofiec::cuda_<id> with one include guard per file.
std::string cuda_kernels_text(std::set<std::string> used, const std::string& id) {
  used.insert("runtime");
  std::vector<std::string> files;
  // Host code of the CPU headers': the arena layout of run-time dims, --profile's timings.
  if (used.erase("arena") > 0) files.push_back("kernels/arena.hpp");
  if (used.erase("profile") > 0) files.push_back("kernels/profile.hpp");
  for (const std::string& name : used) files.push_back("cuda/" + name + ".cuh");
  std::string out;
  for (const std::string& file : kernel_order(files)) {
    std::string guard = fmt::format("SOFIEC_CUDA_{}_{}_", id, kernel_stem(file));
    if (file.rfind("cuda/", 0) != 0) guard += "HOST_";  // kernels/arena.hpp, shared/
    std::transform(guard.begin(), guard.end(), guard.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    out += fmt::format(
        "// ---- {0}\n#ifndef {1}\n#define {1}\nnamespace sofiec {{\nnamespace cuda_{2} {{\n{3}"
        "}}  // namespace cuda_{2}\n}}  // namespace sofiec\n#endif  // {1}\n",
        file, guard, id, kernel_body(template_text(file)));
  }
  return out;
}

// A byte string literal that compilers read fast (an initializer list of millions of
// numbers does not compile in reasonable time or memory). Octal escapes are always three
// digits so a following digit character cannot extend them.
std::string byte_string_literal(const std::vector<unsigned char>& bytes) {
  std::string out;
  out.reserve(bytes.size() * 3 + bytes.size() / 24 + 16);
  std::size_t column = 0;
  out += "    \"";
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '?') {
      out += char(c);
      column += 1;
    } else {
      out += '\\';
      out += char('0' + (c >> 6));
      out += char('0' + ((c >> 3) & 7));
      out += char('0' + (c & 7));
      column += 4;
    }
    if (column >= 96) {
      out += "\"\n    \"";
      column = 0;
    }
  }
  out += "\"";
  return out;
}

uint64_t fnv1a64(const std::vector<unsigned char>& bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\{:03o}", static_cast<unsigned char>(c));
    else out += c;
  }
  return out + "\"";
}

// The constructor's statements that fill the host buffer `data` (bytes `byte`[i]) from
// weights_path, checked: weights_storage_ on CPU, a staging vector before the upload on CUDA.
std::string read_weights_file(const std::string& data, const std::string& byte) {
  return fmt::format(R"(    std::ifstream file(weights_path, std::ios::binary);
    if (!file) throw std::runtime_error("cannot open weights file '" + weights_path + "'");
    file.read(reinterpret_cast<char*>({0}), std::streamsize(detail::weights_bytes));
    if (std::size_t(file.gcount()) != detail::weights_bytes || file.peek() != std::char_traits<char>::eof())
      throw std::runtime_error("weights file '" + weights_path + "' has the wrong size for this model");
    std::uint64_t hash = 1469598103934665603ULL;
    for (std::size_t i = 0; i < detail::weights_bytes; ++i) hash = (hash ^ {1}) * 1099511628211ULL;
    if (hash != detail::weights_checksum)
      throw std::runtime_error("weights file '" + weights_path + "' does not belong to this model");
)",
                     data, byte);
}
const std::string kReadWeightsFile = read_weights_file("weights_storage_.data()", "weights_[i]");


enum class Storage { Input, Output, Weight, Arena };

struct TensorVar {
  Storage storage;
  std::string var;
  int64_t offset = 0;
};

class HeaderBuilder {
 public:
  HeaderBuilder(const Graph& g, const Analysis& a, const MemoryPlan& plan, const HeaderSpec& spec)
      : g_(g), a_(a), plan_(plan), spec_(spec) {}

  HeaderOutput build() {
    if (spec_.profile) kernels_.insert("profile");
    name_parameters();
    name_data_dependent_dims();
    std::string body = emit_nodes();
    body += copy_outputs();
    body += report_output_dims();
    HeaderOutput out;
    out.weights = weights_;
    std::string decls;
    for (const auto& [name, tv] : vars_) {
      if (!used_vars_.count(tv.var) || tv.storage == Storage::Input || tv.storage == Storage::Output) continue;
      const std::string type(dtype_cpp(g_.value(name).dtype));
      if (tv.storage == Storage::Weight && tv.offset < 0)
        decls += fmt::format("    [[maybe_unused]] const {}* const {} = nullptr;  // {} (empty)\n", type, tv.var,
                             quoted(name));
      else if (tv.storage == Storage::Weight)
        decls += fmt::format("    const {0}* const {1} = reinterpret_cast<const {0}*>(weights_ + {2});  // {3}\n", type,
                             tv.var, tv.offset, quoted(name));
      else if (spec_.runtime_offsets)
        decls += fmt::format("    {0}* const {1} = reinterpret_cast<{0}*>(arena + offsets_[{2}]);  // {3}\n", type,
                             tv.var, plan_.tensor_blocks.at(name), quoted(name));
      else
        decls += fmt::format("    {0}* const {1} = reinterpret_cast<{0}*>(arena + {2});  // {3} {4}\n", type, tv.var,
                             tv.offset, quoted(name), shape_str(g_.value(name).shape));
    }
    for (const auto& [node, offset] : plan_.workspace_offsets)
      decls += spec_.runtime_offsets
                   ? fmt::format("    unsigned char* const {} = arena + offsets_[{}];\n", workspace_var(node),
                                 plan_.workspace_blocks.at(node))
                   : fmt::format("    unsigned char* const {} = arena + {};\n", workspace_var(node), offset);
    if (decls.find("arena +") != std::string::npos)
      decls = (spec_.target == Target::Cuda ? "    unsigned char* const arena = arena_.data();\n"
                                            : "    unsigned char* const arena = workspace.data_;\n") +
              decls;
    for (const auto& [symbol, var] : dim_vars_)
      decls += fmt::format("    int64_t {} = 0;  // {}, at most {}\n", var, quoted(symbol),
                           g_.data_dependent_dims.at(symbol));

    out.infer_body = decls + body;
    out.weight_names = weight_names_;
    if (spec_.dynamic) {
      decls.clear();
      body = spec_.dynamic->infer_body;
      kernels_.insert("arena");
    }

    if (spec_.target == Target::Cuda) {
      out.text = cuda_text(decls + body);
      return out;
    }
    std::map<std::string, std::string> regions;
    regions["banner"] = spec_.banner;
    regions["prelude"] = vector_layer_text();
    const std::string& id = kernels_id();
    regions["kernels"] = kernels_text(kernels_, id);
    regions["kernels_namespace"] = fmt::format("using namespace ::sofiec::SOFIEC_KERNELS_NAMESPACE({});\n", id);
    if (spec_.dispatch_avx512) {
      regions["kernels"] += dispatch_text(kernels_, id);
      regions["kernels_namespace"] += fmt::format(
          "#if defined(SOFIEC_DISPATCH_AVX512_)\n// The AVX-512 copy of the kernels, for infer_avx512_().\n"
          "namespace avx512 {{\nusing namespace ::sofiec::SOFIEC_KERNELS_DISPATCH_NAMESPACE({});\n}}\n#endif\n",
          id);
    }
    regions["weights"] = weights_region();
    regions["metadata"] = metadata_region();
    regions["constructor"] = constructor_region();
    regions["infer"] = infer_region(decls + body);
    regions["weights_member"] = weights_member_region();
    regions["workspace_members"] = workspace_members_region() + debug_workspace_members();
    regions["workspace_api"] = workspace_api_region();
    regions["infer"] += profile_api();
    regions["session_members"] = spec_.dynamic ? dynamic_parts().members() : "";
    if (spec_.dispatch_avx512) {
      regions["infer"] = with_dispatch(regions["infer"]);
      regions["session_members"] +=
          "#if defined(SOFIEC_DISPATCH_AVX512_)\n  bool use_avx512_ = ::sofiec::cpu_has_avx512();\n#else\n"
          "  bool use_avx512_ = false;  // (the Session's layout is the same with and without the copy)\n#endif\n";
    }
    std::string text = fill_skeleton(template_text("session.hxx"), regions);
    replace_all(text, "SOFIEC_SKELETON_GUARD_", guard());
    replace_all(text, "sofiec_skeleton", spec_.ns);
    out.text = std::move(text);
    return out;
  }

 private:
  static void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
      s.replace(p, from.size(), to);
  }

  std::string guard() const {
    std::string gname = spec_.ns;
    std::transform(gname.begin(), gname.end(), gname.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    return gname + "_SOFIEC_HXX_";
  }

  std::string unique_var(const std::string& prefix, const std::string& name) {
    std::string base = prefix + sanitize_identifier(name).substr(0, 40);
    std::string v = base;
    for (int i = 1; taken_names_.count(v); ++i) v = fmt::format("{}_{}", base, i);
    taken_names_.insert(v);
    return v;
  }

  void name_parameters() {
    for (const auto& in : g_.inputs) {
      const ValueInfo& v = g_.value(in);
      if (!dtype_is_storable(v.dtype))
        throw UnsupportedError(
            fmt::format("graph input '{}' has type {}, which is not supported", in, dtype_name(v.dtype)));
      if (!v.has_shape || !is_static(v.shape))
        throw Error(fmt::format("graph input '{}' has shape {}; fix its symbolic dims with --dim NAME=VALUE", in,
                                v.has_shape ? shape_str(v.shape) : "of unknown rank"));
      vars_[in] = TensorVar{Storage::Input, unique_var("in_", in)};
      input_params_.push_back(vars_[in].var);
    }
    for (const auto& out : g_.outputs) {
      std::string var = unique_var("out_", out);
      output_params_.push_back(var);
      // A node writes straight into the caller's buffer; inputs, constants and repeated
      // outputs are copied at the end of infer() instead.
      if (!vars_.count(out) && !g_.is_constant(out)) vars_[out] = TensorVar{Storage::Output, var};
    }
  }

  // Every data-dependent dim a tensor of the graph has gets an int64_t variable in infer().
  void name_data_dependent_dims() {
    for (const auto& [name, v] : g_.values)
      for (const Dim& d : v.shape)
        if (g_.is_data_dependent(d) && !dim_vars_.count(d.symbol)) dim_vars_[d.symbol] = unique_var("dim_", d.symbol);
  }

  const TensorVar& var_of(const std::string& name) {
    // A view (plan_.aliases) is the variable of the tensor whose memory it shares.
    if (auto alias = plan_.aliases.find(name); alias != plan_.aliases.end()) {
      const TensorVar& root = var_of(alias->second);
      auto start = plan_.view_offsets.find(name);
      if (start == plan_.view_offsets.end()) return root;
      // A view inside its tensor (a Split chunk): the root's pointer advanced.
      return view_vars_.try_emplace(name, TensorVar{root.storage, fmt::format("({} + {})", root.var, start->second), 0})
          .first->second;
    }
    auto it = vars_.find(name);
    if (it == vars_.end()) {
      if (const Tensor* t = g_.constant(name)) {
        it = vars_.emplace(name, TensorVar{Storage::Weight, unique_var("w_", name), add_weight(*t)}).first;
        weight_names_.push_back(name);
      } else if (auto off = plan_.tensor_offsets.find(name); off != plan_.tensor_offsets.end()) {
        it = vars_.emplace(name, TensorVar{Storage::Arena, unique_var("t_", name), off->second}).first;
      } else {
        throw Error(fmt::format("internal: tensor '{}' has no storage", name));
      }
    }
    used_vars_.insert(it->second.var);
    return it->second;
  }

  // Returns the blob offset, or -1 for an empty tensor (which needs no storage).
  int64_t add_weight(const Tensor& t) {
    if (t.bytes.empty()) return -1;
    const std::size_t offset = (weights_.size() + kAlignment - 1) / kAlignment * kAlignment;
    weights_.resize(offset, 0);
    weights_.insert(weights_.end(), t.bytes.begin(), t.bytes.end());
    return int64_t(offset);
  }

  std::string workspace_var(const std::string& node) {
    auto it = workspace_vars_.find(node);
    if (it == workspace_vars_.end()) it = workspace_vars_.emplace(node, unique_var("ws_", node)).first;
    return it->second;
  }

  std::string emit_nodes() {
    std::string body;
    const Registry& registry = Registry::instance();
    for (const Node& n : g_.nodes) {
      if (std::all_of(n.outputs.begin(), n.outputs.end(),
                      [&](const std::string& o) { return o.empty() || plan_.aliases.count(o); })) {
        body += fmt::format("    // {}: a view of '{}', no copy\n", n.describe(), plan_.aliases.at(n.outputs[0]));
        continue;
      }
      const OpDef& def = *registry.find(n, g_);
      const bool cuda = spec_.target == Target::Cuda;
      if (cuda && def.emit && !def.emit_cuda) {
        unsupported_.push_back(fmt::format("{} ({})", n.op_type, quoted(n.name)));
        continue;
      }
      std::vector<std::string> outs;
      for (const auto& o : n.outputs) outs.push_back(o.empty() ? "" : var_of(o).var);
      auto resolve = [this](const std::string& tensor) { return var_of(tensor).var; };
      std::string code;
      const std::string ws =
          plan_.workspace_offsets.count(n.name) ? workspace_var(n.name) : "static_cast<unsigned char*>(nullptr)";
      EmitContext ctx(n, g_, &a_.known, resolve, outs, ws, kernels_, code, &dim_vars_);
      if (cuda && def.emit_cuda) {
        try {
          def.emit_cuda(ctx);
        } catch (const UnsupportedError& e) {
          unsupported_.push_back(e.what());
          continue;
        }
      } else if (def.emit) {
        def.emit(ctx);
      } else {
        // Computed at generation time (Shape, Size): the node writes its known value.
        for (std::size_t i = 0; i < n.outputs.size(); ++i) {
          if (n.outputs[i].empty()) continue;
          auto known = a_.known.find(n.outputs[i]);
          if (known == a_.known.end())
            throw Error(fmt::format(
                "{}: its output must be computable at generation time (are its input shapes known?)", n.describe()));
          const int64_t off = add_weight(known->second);
          if (off >= 0 && cuda)
            ctx.line("detail::copy_device({}, weights_ + {}, {}, stream);", outs[i], off, known->second.bytes.size());
          else if (off >= 0)
            ctx.line("std::memcpy({}, weights_ + {}, {});", outs[i], off, known->second.bytes.size());
        }
      }
      std::string fused;
      for (const Node& f : n.epilogue) fused += " + " + f.op_type;
      if (!spec_.perturb_node.empty() && n.name == spec_.perturb_node) code += perturbation(n, outs);
      if (spec_.profile) {
        // The counts are written into the code, so that run-time dims' lifting makes them
        // follow the dims. CPU: the clock is read outside the node's block, so that its locals
        // stay its own; CUDA: an event on the stream before the node's kernels (NodeEvents; the
        // one after every node is cuda_text's).
        const bool counts = spec_.profile_counts;
        const int64_t flops = counts ? node_flops(n, g_, a_) : 0, bytes = counts ? node_bytes(n, g_) : 0;
        const std::size_t k = profile_names_.size();
        if (cuda)
          body += fmt::format(
              "    // {}{}\n    {{\n      profile_events_.mark({}, stream, {}, {});\n      {{\n{}      }}\n    }}\n",
              n.describe(), fused, k, flops, bytes, indent(indent(code)));
        else
          body += fmt::format(
              "    // {}{}\n    {{\n      const auto profile_start = std::chrono::steady_clock::now();\n"
              "      {{\n{}      }}\n      workspace.timings_.record({}, profile_start, {}, {});\n    }}\n",
              n.describe(), fused, indent(indent(code)), k, flops, bytes);
        profile_names_.push_back(n.name);
        profile_ops_.push_back(n.op_type + fused);
      } else {
        body += fmt::format("    // {}{}\n    {{\n{}    }}\n", n.describe(), fused, indent(code));
      }
      if (spec_.trace) body += trace_outputs(n);
    }
    if (!unsupported_.empty())
      throw UnsupportedError(fmt::format("not supported by --target cuda (yet): {}", fmt::join(unsupported_, "; ")));
    if (!spec_.perturb_node.empty() &&
        std::none_of(g_.nodes.begin(), g_.nodes.end(), [&](const Node& n) { return n.name == spec_.perturb_node; }))
      throw Error(fmt::format("perturb_node: the compiled graph has no node '{}'", spec_.perturb_node));
    return body;
  }

  // CompileOptions::perturb_node: 1 added to every element of the node's first output.
  std::string perturbation(const Node& n, const std::vector<std::string>& outs) const {
    if (outs.empty() || outs[0].empty() ||
        (g_.value(n.outputs[0]).dtype != DType::Float && g_.value(n.outputs[0]).dtype != DType::Double))
      throw Error(fmt::format("perturb_node: {} has no floating-point first output", n.describe()));
    const int64_t count = element_count(g_.capacity_dims(g_.value(n.outputs[0]).shape));
    return fmt::format("    for (int64_t i = 0; i < {1}; ++i) {0}[i] = {0}[i] + 1;  // perturbed (a debug build)\n",
                       outs[0], count);
  }

  // CompileOptions::trace: each output of the node, as it now is, to the Workspace's tracer.
  std::string trace_outputs(const Node& n) {
    std::string code;
    for (const std::string& o : n.outputs) {
      if (o.empty()) continue;
      const ValueInfo& v = g_.value(o);
      if (!is_static(v.shape) || g_.has_data_dependent_dims(v.shape)) continue;
      const std::vector<int64_t> dims = g_.capacity_dims(v.shape);
      const int64_t bytes = element_count(dims) * int64_t(dtype_size(v.dtype));
      std::vector<std::string> d;
      for (int64_t x : dims) d.push_back(std::to_string(x));
      if (d.empty()) d.push_back("0");
      code += fmt::format(
          "    if (workspace.tracer_) {{\n      static constexpr int64_t dims[] = {{{}}};\n"
          "      workspace.tracer_(workspace.tracer_user_, {}, \"{}\", dims, {}, {}, {});\n    }}\n",
          fmt::join(d, ", "), quoted(o), dtype_name(v.dtype), dims.size(), bytes > 0 ? var_of(o).var : "nullptr",
          bytes);
    }
    return code;
  }

  static std::string indent(const std::string& code) {
    std::string out;
    std::size_t pos = 0;
    while (pos < code.size()) {
      std::size_t end = code.find('\n', pos);
      out += "  " + code.substr(pos, end - pos + 1);
      pos = end + 1;
    }
    return out;
  }

  std::string copy_outputs() {
    std::string code;
    std::set<std::string> written;
    for (std::size_t i = 0; i < g_.outputs.size(); ++i) {
      const std::string& name = g_.outputs[i];
      const std::string& dst = output_params_[i];
      const TensorVar& src = var_of(name);
      if (src.storage == Storage::Output && src.var == dst) continue;
      const ValueInfo& v = g_.value(name);
      const int64_t bytes = element_count(g_.capacity_dims(v.shape)) * int64_t(dtype_size(v.dtype));
      if (bytes > 0 && spec_.target == Target::Cuda)
        code += fmt::format("    detail::copy_device({}, {}, {}, stream);  // output {}\n", dst, src.var, bytes,
                            quoted(name));
      else if (bytes > 0)
        code += fmt::format("    std::memcpy({}, {}, {});  // output {}\n", dst, src.var, bytes, quoted(name));
    }
    return code;
  }

  // Outputs whose size the data decides: infer() records their actual dims.
  std::string report_output_dims() {
    std::string code;
    std::size_t offset = 0;
    for (const std::string& name : g_.outputs) {
      const Shape& shape = g_.value(name).shape;
      for (std::size_t d = 0; d < shape.size(); ++d)
        if (g_.is_data_dependent(shape[d]))
          code += fmt::format("    workspace.output_dims_[{}] = {};\n", offset + d, dim_vars_.at(shape[d].symbol));
      offset += shape.size();
    }
    return code;
  }

  // --profile and tracing: what the Workspace holds for them.
  std::string debug_workspace_members() const {
    std::string r;
    if (spec_.profile)
      r += fmt::format("  detail::NodeTimings timings_{{{}}};  // --profile: per node, in memory of its own\n",
                       profile_names_.size());
    if (spec_.trace) r += "  Tracer tracer_ = nullptr;\n  void* tracer_user_ = nullptr;\n";
    return r;
  }

  std::string workspace_api_region() const {
    if (!spec_.trace) return "";
    return "\n  // A debug build (sofiec verify): infer() with this Workspace hands every node's outputs,\n"
           "  // once the node has run, to tracer(user, tensor name, dtype name, dims, rank, data, bytes).\n"
           "  using Tracer = void (*)(void* user, const char* tensor, const char* dtype, const int64_t* dims,\n"
           "                         std::size_t rank, const void* data, std::size_t bytes);\n"
           "  void set_tracer(Tracer tracer, void* user) {\n    tracer_ = tracer;\n    tracer_user_ = user;\n  }\n";
  }

  // --profile: the timed nodes' names and operators, and profile() over a Workspace's timings.
  std::string profile_api() const {
    if (!spec_.profile) return "";
    return profile_metadata("each node's code is timed (the steady clock around it)") +
           "  // Per node, in execution order: calls, total and median time, FLOPs and bytes per call, of\n"
           "  // the infer() calls on this Session's own Workspace (or on `workspace`) since the last reset.\n"
           "  std::vector<NodeProfile> profile() const { return profile(workspace_); }\n"
           "  std::vector<NodeProfile> profile(const Workspace& workspace) const {\n"
           "    return workspace.timings_.profile(profile_names.data(), profile_ops.data());\n  }\n"
           "  void reset_profile() { workspace_.timings_.reset(); }\n"
           "  static void reset_profile(Workspace& workspace) { workspace.timings_.reset(); }\n";
  }

  // --profile, both targets: the timed nodes' names and operators.
  std::string profile_metadata(const char* how) const {
    std::vector<std::string> names, ops;
    for (const std::string& s : profile_names_) names.push_back(quoted(s));
    for (const std::string& s : profile_ops_) ops.push_back(quoted(s));
    const std::size_t n = profile_names_.size();
    std::string r = fmt::format("\n  // Built with --profile: {}.\n", how);
    r += "  using NodeProfile = detail::NodeProfile;\n";
    r += fmt::format("  static constexpr std::size_t profile_nodes = {};\n", n);
    r += fmt::format("  static constexpr std::array<const char*, {}> profile_names{{{{{}}}}};\n", n,
                     fmt::join(names, ", "));
    r += fmt::format("  static constexpr std::array<const char*, {}> profile_ops{{{{{}}}}};\n", n, fmt::join(ops, ", "));
    return r;
  }

  std::string workspace_members_region() const {
    if (spec_.dynamic) return dynamic_parts().workspace_members();
    std::vector<int64_t> dims;
    for (const std::string& name : g_.outputs)
      for (int64_t d : g_.capacity_dims(g_.value(name).shape)) dims.push_back(d);
    return fmt::format("  std::array<int64_t, {}> output_dims_{{{{{}}}}};\n", dims.size(), fmt::join(dims, ", "));
  }

  std::string weights_region() {
    std::string r = fmt::format("constexpr std::size_t weights_bytes = {};\n", weights_.size());
    if (!spec_.embed_weights)
      r += fmt::format("constexpr std::uint64_t weights_checksum = {}ULL;  // FNV-1a of the .dat file\n",
                       fnv1a64(weights_));
    if (!weights_.empty() && spec_.embed_weights)
      r += fmt::format("alignas(64) inline constexpr unsigned char weights_blob[{}] =\n{};\n", weights_.size() + 1,
                       byte_string_literal(weights_));
    return r;
  }

  std::string metadata_region() {
    std::string r;
    auto names = [&](const char* what, const std::vector<std::string>& list, bool types) {
      std::string items;
      for (std::size_t i = 0; i < list.size(); ++i)
        items += (i ? ", " : "") + (types ? quoted(std::string(dtype_name(g_.value(list[i]).dtype))) : quoted(list[i]));
      r += fmt::format("  static constexpr std::array<const char*, {}> {}{{{{{}}}}};\n", list.size(), what, items);
    };
    auto shapes = [&](const char* what, const char* prefix, const std::vector<std::string>& list) {
      std::string items;
      for (std::size_t i = 0; i < list.size(); ++i) {
        const auto dims = g_.capacity_dims(g_.value(list[i]).shape);
        std::string d;
        for (std::size_t k = 0; k < dims.size(); ++k) d += (k ? ", " : "") + std::to_string(dims[k]);
        if (!dims.empty()) r += fmt::format("  static constexpr int64_t {}{}_dims[] = {{{}}};\n", prefix, i, d);
        items += fmt::format("{}{{{}, {}}}", i ? ", " : "",
                             dims.empty() ? "nullptr" : fmt::format("{}{}_dims", prefix, i), dims.size());
      }
      r += fmt::format("  static constexpr std::array<TensorShape, {}> {}{{{{{}}}}};\n", list.size(), what, items);
    };
    r += fmt::format("  static constexpr std::size_t num_inputs = {};\n", g_.inputs.size());
    r += fmt::format("  static constexpr std::size_t num_outputs = {};\n", g_.outputs.size());
    names("input_names", g_.inputs, false);
    names("output_names", g_.outputs, false);
    names("input_types", g_.inputs, true);
    names("output_types", g_.outputs, true);
    if (spec_.dynamic) {
      r += dynamic_parts().shape_metadata();
    } else {
      shapes("input_shapes", "input", g_.inputs);
      shapes("output_shapes", "output", g_.outputs);
    }
    std::string data_dependent, offsets;
    std::size_t offset = 0;
    for (std::size_t i = 0; i < g_.outputs.size(); ++i) {
      const Shape& shape = g_.value(g_.outputs[i]).shape;
      data_dependent += fmt::format("{}{}", i ? ", " : "", g_.has_data_dependent_dims(shape) ? "true" : "false");
      offsets += fmt::format("{}{}", i ? ", " : "", offset);
      offset += shape.size();
    }
    r += fmt::format("  static constexpr std::array<bool, {}> output_has_data_dependent_shape{{{{{}}}}};\n",
                     g_.outputs.size(), data_dependent);
    r += fmt::format("  static constexpr std::array<std::size_t, {}> output_dims_offset{{{{{}}}}};\n",
                     g_.outputs.size(), offsets);
    if (!spec_.dynamic)
      r += fmt::format(
          "  static constexpr std::size_t arena_bytes = {};\n"
          "  // The bytes a Workspace of this model holds.\n"
          "  static constexpr std::size_t workspace_bytes() {{ return arena_bytes; }}\n",
          plan_.arena_bytes);
    r += fmt::format("  static constexpr std::size_t weights_bytes = detail::weights_bytes;\n");
    return r;
  }

  DynamicSessionParts dynamic_parts() const {
    std::string unused;
    for (const auto& p : input_params_)
      if (!used_vars_.count(p)) unused += fmt::format("    (void){};\n", p);
    return DynamicSessionParts{g_,
                               *spec_.dynamic,
                               plan_,
                               input_params_,
                               output_params_,
                               unused,
                               spec_.embed_weights,
                               !weights_.empty(),
                               spec_.embed_weights || weights_.empty() ? "" : kReadWeightsFile};
  }

  std::string constructor_region() const {
    if (spec_.dynamic) return dynamic_parts().constructor();
    if (weights_.empty())
      return spec_.embed_weights ? "  Session() : workspace_(workspace_bytes()) {}\n"
                                 : "  explicit Session(const std::string& weights_path) : workspace_(workspace_bytes()) { "
                                   "(void)weights_path; }\n";
    if (spec_.embed_weights)
      return "  Session() : workspace_(workspace_bytes()), weights_(detail::weights_blob) {}\n";
    return R"(  // Reads the weights written beside this header (<header>.dat); throws std::runtime_error
  // if the file is missing, has the wrong size or belongs to another model.
  explicit Session(const std::string& weights_path)
      : workspace_(workspace_bytes()), weights_storage_(detail::weights_bytes), weights_(weights_storage_.data()) {
)" + std::string(kReadWeightsFile) +
           "  }\n";
  }

  std::string weights_member_region() const {
    if (weights_.empty()) return "";
    if (spec_.embed_weights) return "  const unsigned char* weights_;\n";
    return "  detail::AlignedBuffer weights_storage_;\n  const unsigned char* weights_;\n";
  }

  // The CUDA header (templates/cuda/session.cuh): the same metadata and weights blob, the body
  // of infer() enqueued on the Session's stream through its CUDA graph, infer_host() for host
  // buffers, device memory made by the constructor. With run-time dims, the constructor takes
  // their maxima and sizes the arena and infer_host's buffers for them; infer() takes their
  // values first.
  std::string cuda_text(const std::string& body) {
    if (!dim_vars_.empty()) throw UnsupportedError("--target cuda: outputs whose size the data decides (NonZero...)");
    const std::string id = kernels_id();
    std::map<std::string, std::string> regions;
    regions["banner"] = spec_.banner;
    regions["kernels"] = cuda_kernels_text(kernels_, id);
    regions["kernels_namespace"] = fmt::format("using namespace ::sofiec::cuda_{};\n", id);
    regions["weights"] = weights_region();
    regions["metadata"] = metadata_region();

    const bool dynamic = spec_.dynamic != nullptr;
    const std::optional<DynamicSessionParts> parts =
        dynamic ? std::optional<DynamicSessionParts>(dynamic_parts()) : std::nullopt;
    std::vector<std::string> dims, vars;  // the run-time dims' parameters and code variables
    if (dynamic) {
      dims = parts->dim_params();
      vars = spec_.dynamic->vars;
    }
    // infer_host's device copies of the inputs and outputs, 256-byte aligned: their bytes (an
    // expression of the dims' values) and offsets (io_offsets_[i] with run-time dims).
    std::vector<std::string> io_names = g_.inputs, io_params = input_params_;
    io_names.insert(io_names.end(), g_.outputs.begin(), g_.outputs.end());
    io_params.insert(io_params.end(), output_params_.begin(), output_params_.end());
    std::vector<std::string> io_offsets, io_bytes;
    int64_t io_total = 0;
    for (std::size_t i = 0; i < io_names.size(); ++i) {
      const ValueInfo& v = g_.value(io_names[i]);
      if (dynamic) {
        io_offsets.push_back(fmt::format("io_offsets_[{}]", i));
        io_bytes.push_back(fmt::format("static_cast<std::size_t>({}) * {}", parts->size_of(io_names[i], vars),
                                       dtype_size(v.dtype)));
      } else {
        const int64_t bytes = element_count(g_.capacity_dims(v.shape)) * int64_t(dtype_size(v.dtype));
        io_offsets.push_back(std::to_string(io_total));
        io_bytes.push_back(bytes > 0 ? std::to_string(bytes) : "");
        io_total += (bytes + 255) / 256 * 256;
      }
    }
    const bool has_weights = !weights_.empty();
    std::string init = dynamic ? fmt::format("dim_max_{{{{{}_max}}}}, arena_bytes_(place_arena()), ",
                                             fmt::join(dims, "_max, "))
                               : "";
    init += std::string(spec_.tf32 ? "rt_(stream, true)" : "rt_(stream)") +
            (dynamic ? ", arena_(arena_bytes_, rt_.stream())" : ", arena_(arena_bytes, rt_.stream())");
    if (has_weights)
      init += ", weights_storage_(detail::weights_bytes, rt_.stream()), weights_(weights_storage_.data())";
    init += dynamic ? ", io_(io_bytes_, rt_.stream())" : fmt::format(", io_({}, rt_.stream())", io_total);
    std::vector<std::string> ctor_params;
    if (!spec_.embed_weights) ctor_params.push_back("const std::string& weights_path");
    for (const std::string& d : dims) ctor_params.push_back(fmt::format("std::size_t {}_max", d));
    ctor_params.push_back("cudaStream_t stream = nullptr");
    std::string ctor =
        "  // stream: the caller's stream to run on; none (nullptr): the Session makes its own. Uploads\n"
        "  // the weights and allocates all device memory; throws std::runtime_error naming the CUDA\n"
        "  // call that failed.\n";
    if (!spec_.embed_weights) ctor += "  // weights_path: the weights file written beside this header (<header>.dat).\n";
    if (dynamic)
      ctor += fmt::format(
          "  // {}_max: the largest value each run-time dim ({}) will be given; the arena and infer_host's\n"
          "  // buffers are sized for them here, once (std::invalid_argument for a maximum below\n"
          "  // dim_min or above 2^31, or one that makes a buffer too large).\n",
          fmt::join(dims, "_max, "), fmt::join(spec_.dynamic->symbols, ", "));
    ctor += fmt::format("  {}Session({}) : {} {{\n", ctor_params.size() <= 2 ? "explicit " : "",
                        fmt::join(ctor_params, ", "), init);
    if (has_weights) {
      if (spec_.embed_weights)
        ctor += "    upload_weights(detail::weights_blob);\n";
      else
        ctor += "    std::vector<unsigned char> host(detail::weights_bytes);\n" + read_weights_file("host.data()", "host[i]") +
                "    upload_weights(host.data());\n";
    } else if (!spec_.embed_weights) {
      ctor += "    (void)weights_path;\n";
    }
    regions["constructor"] = ctor + "  }\n";
    if (dynamic) {
      std::string r =
          "  std::size_t max_dim(std::size_t i) const { return dim_max_[i]; }\n"
          "  // The device arena's bytes, for the maxima.\n"
          "  std::size_t arena_bytes() const { return arena_bytes_; }\n\n"
          " private:\n"
          "  // Checks the maxima; lays out infer_host's buffers and the arena for them.\n"
          "  std::size_t place_arena() {\n";
      r += parts->maxima_checks() + parts->dim_locals(true);
      r += "    std::size_t io = 0;\n";
      for (std::size_t i = 0; i < io_names.size(); ++i)
        r += fmt::format(
            "    io_offsets_[{}] = io;\n    io += (detail::CheckedSize({} * {}).bytes() + 255) / 256 * 256;  // {}\n", i,
            parts->size_of(io_names[i], vars), dtype_size(g_.value(io_names[i]).dtype), io_names[i]);
      r += "    io_bytes_ = io;\n";
      r += parts->arena_blocks("return ") + "  }\n\n" + parts->check_dims_function() + " public:\n";
      regions["constructor"] += r;
    }
    if (has_weights)
      regions["constructor"] +=
          "\n private:\n  // On the Session's stream, waited for (a synchronous cudaMemcpy would wait for the whole\n"
          "  // device, and break a graph another thread's Session is capturing).\n"
          "  void upload_weights(const unsigned char* host) {\n"
          "    detail::check_cuda(cudaMemcpyAsync(weights_storage_.data(), host, detail::weights_bytes,\n"
          "                                       cudaMemcpyHostToDevice, rt_.stream()),\n"
          "                       \"cudaMemcpyAsync\");\n"
          "    detail::check_cuda(cudaStreamSynchronize(rt_.stream()), \"cudaStreamSynchronize\");\n  }\n\n public:\n";

    std::vector<std::string> params, buffers, device_args = dims;
    for (const std::string& d : dims) params.push_back("std::size_t " + d);
    for (std::size_t i = 0; i < io_names.size(); ++i) {
      const bool input = i < g_.inputs.size();
      const std::string type(dtype_cpp(g_.value(io_names[i]).dtype));
      params.push_back(fmt::format("{}{}* {}", input ? "const " : "", type, io_params[i]));
      buffers.push_back(io_params[i]);
      device_args.push_back(fmt::format("reinterpret_cast<{}*>(io_.data() + {})", type, io_offsets[i]));
    }
    std::string unused;
    for (const auto& p : input_params_)
      if (!used_vars_.count(p)) unused += fmt::format("    (void){};\n", p);
    buffers.push_back("nullptr");
    std::string prologue, epilogue, shape = "static_cast<const int64_t*>(nullptr), 0";
    if (dynamic) {
      prologue = fmt::format("    check_dims({});\n", fmt::join(dims, ", ")) + parts->dim_locals(false);
      std::size_t offset = 0;
      for (const std::string& o : g_.outputs) {
        const std::vector<Polynomial>& d = spec_.dynamic->io_dims.at(o);
        for (std::size_t k = 0; k < d.size(); ++k)
          if (!d[k].is_constant()) epilogue += fmt::format("    output_dims_[{}] = {};\n", offset + k, d[k].cpp(vars));
        offset += d.size();
      }
      prologue += fmt::format("    const int64_t shape[] = {{{}}};\n", fmt::join(vars, ", "));
      shape = fmt::format("shape, {}", vars.size());
    }
    std::string infer =
        "  // Runs the model on device buffers (inputs, then outputs, each a contiguous row-major\n"
        "  // buffer owned by the caller), asynchronously on stream(). Allocates nothing.\n";
    if (dynamic)
      infer += fmt::format(
          "  // First the values of the run-time dims ({}), each between dim_min and its maximum\n"
          "  // (std::out_of_range otherwise, before anything is launched).\n",
          fmt::join(spec_.dynamic->symbols, ", "));
    // --profile: the kernels launched one by one between events, which are read when the call
    // has finished (a profiling Session waits for each call).
    const std::size_t timed = profile_names_.size();
    std::string profiled_body = body, profile_read;
    if (spec_.profile) {
      infer +=
          "  // Built with --profile: launches its kernels one by one (no graph) and waits for them\n"
          "  // (not on a stream the caller is capturing: those calls are not timed).\n";
      profiled_body += fmt::format("    profile_events_.mark({}, stream);\n", timed);
      profile_read = fmt::format(
          "    if (profile_events_.finished(rt_.stream()))\n"
          "      for (std::size_t k = 0; k < {}; ++k)\n"
          "        timings_.record_ns(k, profile_events_.node_ns(k), profile_events_.flops(k),\n"
          "                           profile_events_.bytes(k));\n",
          timed);
    }
    infer += fmt::format(
        "  void infer({}) {{\n{}{}    const void* buffers[] = {{{}}};\n    rt_.run(buffers, {}, {}, {}, [&] {{\n"
        "    cudaStream_t const stream = rt_.stream();\n    cublasHandle_t const blas = rt_.blas();\n"
        "    (void)stream;\n    (void)blas;\n{}    }});\n{}{}  }}\n",
        fmt::join(params, ", "), prologue, unused, fmt::join(buffers, ", "), io_names.size(), shape,
        spec_.profile ? "false" : "use_graph_", profiled_body, profile_read, epilogue);
    infer +=
        "\n  // Runs the model on host buffers: copies the inputs in, runs, copies the outputs out and\n"
        "  // waits for them.\n";
    infer += fmt::format("  void infer_host({}) {{\n", fmt::join(params, ", "));
    if (dynamic)
      infer += fmt::format("    check_dims({});\n", fmt::join(dims, ", ")) + parts->dim_locals(false);
    for (std::size_t i = 0; i < io_names.size(); ++i)
      if (io_bytes[i].empty()) infer += fmt::format("    (void){};  // empty: nothing to copy\n", io_params[i]);
    for (std::size_t i = 0; i < g_.inputs.size(); ++i)
      if (!io_bytes[i].empty())
        infer += fmt::format(
            "    detail::check_cuda(cudaMemcpyAsync(io_.data() + {}, {}, {}, cudaMemcpyHostToDevice, rt_.stream()),\n"
            "                       \"cudaMemcpyAsync\");\n",
            io_offsets[i], io_params[i], io_bytes[i]);
    infer += fmt::format("    infer({});\n", fmt::join(device_args, ", "));
    for (std::size_t i = g_.inputs.size(); i < io_names.size(); ++i)
      if (!io_bytes[i].empty())
        infer += fmt::format(
            "    detail::check_cuda(cudaMemcpyAsync({}, io_.data() + {}, {}, cudaMemcpyDeviceToHost, rt_.stream()),\n"
            "                       \"cudaMemcpyAsync\");\n",
            io_params[i], io_offsets[i], io_bytes[i]);
    infer += "    detail::check_cuda(cudaStreamSynchronize(rt_.stream()), \"cudaStreamSynchronize\");\n  }\n";
    if (dynamic)
      infer +=
          "\n  // The dims of output i for the values of the run-time dims of the last infer() (before\n"
          "  // any: their maxima's shape is not known, the dims read 0).\n"
          "  TensorShape output_shape(std::size_t i) const {\n"
          "    return TensorShape{output_dims_.data() + output_dims_offset[i], output_shapes[i].rank};\n  }\n";
    else
      infer +=
          "\n  // The dims of output i (output_shapes[i]: the CUDA target has no outputs sized by the data).\n"
          "  TensorShape output_shape(std::size_t i) const { return output_shapes[i]; }\n";
    if (spec_.profile)
      infer += profile_metadata("each node's time on the stream (events between the nodes)") +
               "  // Per node, in execution order: calls, total and median time, FLOPs and bytes per call.\n"
               "  std::vector<NodeProfile> profile() const { return timings_.profile(profile_names.data(), "
               "profile_ops.data()); }\n"
               "  void reset_profile() { timings_.reset(); }\n";
    regions["infer"] = infer;

    std::string members;
    if (spec_.profile)
      members += fmt::format("  detail::NodeEvents profile_events_{{{0}}};\n  detail::NodeTimings timings_{{{0}}};\n",
                             timed);
    if (dynamic) {
      // (Declared before arena_bytes_, whose initializer place_arena() sets them.)
      members += fmt::format("  std::array<std::size_t, {}> io_offsets_{{}};\n  std::size_t io_bytes_ = 0;\n",
                             io_names.size());
      members += parts->members();
      members += parts->workspace_members();
    }
    members += "  detail::Runtime rt_;\n  detail::DeviceBuffer arena_;\n";
    if (has_weights) members += "  detail::DeviceBuffer weights_storage_;\n  const unsigned char* weights_;\n";
    members += "  detail::DeviceBuffer io_;  // infer_host's device copies of the inputs and outputs\n";
    regions["members"] = members;
    std::string text = fill_skeleton(template_text("cuda/session.cuh"), regions);
    replace_all(text, "SOFIEC_SKELETON_GUARD_", guard());
    replace_all(text, "sofiec_skeleton", spec_.ns);
    return text;
  }

  // The infer region of a dispatching header: run_() (the body of every infer(), static or
  // with run-time dims) hands its arguments to run_avx512_, the same statements with the
  // kernels of detail::avx512 in an AVX-512 function, where the CPU has AVX-512; and
  // kernels() / use_target_kernels() say and choose which runs.
  static std::string with_dispatch(const std::string& region) {
    const std::string head = "  void run_(", open_text = ") const {\n";
    const std::size_t start = region.find(head);
    const std::size_t open = region.find(open_text, start);
    const std::size_t close = region.find("\n  }\n", open);
    if (start == std::string::npos || open == std::string::npos || close == std::string::npos)
      throw Error("internal: run_() not found for --dispatch");
    const std::string params = region.substr(start + head.size(), open - start - head.size());
    const std::size_t body_start = open + open_text.size();
    const std::string body = region.substr(body_start, close + 1 - body_start);
    std::vector<std::string> args;
    for (std::size_t p = 0; p <= params.size();) {
      const std::size_t comma = std::min(params.find(", ", p), params.size());
      const std::string param = params.substr(p, comma - p);
      args.push_back(param.substr(param.find_last_of(" *") + 1));
      p = comma + 2;
    }
    std::string copy = body;
    for (std::size_t p = copy.find("detail::"); p != std::string::npos; p = copy.find("detail::", p + 16))
      copy.replace(p, 8, "detail::avx512::");
    std::string out = region.substr(0, body_start);
    out += fmt::format("#if defined(SOFIEC_DISPATCH_AVX512_)\n    if (use_avx512_) return run_avx512_({});\n#endif\n",
                       fmt::join(args, ", "));
    out += region.substr(body_start, close + 5 - body_start);
    out += fmt::format(
        "#if defined(SOFIEC_DISPATCH_AVX512_)\n  SOFIEC_AVX512_TARGET_ void run_avx512_({}) const {{\n{}  }}\n#endif\n",
        params, copy);
    out += region.substr(close + 5);
    out +=
        "\n  // The kernels infer() runs: \"avx512\", the header's AVX-512 copy, where the header is built\n"
        "  // for less and the CPU has AVX-512; else \"target\", those built for the compiler's target.\n"
        "  const char* kernels() const { return use_avx512_ ? \"avx512\" : \"target\"; }\n"
        "  // Makes infer() run the kernels built for the compiler's target, even where the AVX-512\n"
        "  // copy could run (to compare the two).\n"
        "  void use_target_kernels() {\n"
        "    use_avx512_ = false;\n  }\n";
    return out;
  }

  std::string infer_region(const std::string& body) const {
    if (spec_.dynamic) return dynamic_parts().infer();
    std::vector<std::string> params;
    for (std::size_t i = 0; i < g_.inputs.size(); ++i)
      params.push_back(fmt::format("const {}* {}", dtype_cpp(g_.value(g_.inputs[i]).dtype), input_params_[i]));
    std::vector<std::string> in_only = params;
    for (std::size_t i = 0; i < g_.outputs.size(); ++i)
      params.push_back(fmt::format("{}* {}", dtype_cpp(g_.value(g_.outputs[i]).dtype), output_params_[i]));
    std::string unused;
    for (const auto& p : input_params_)
      if (!used_vars_.count(p)) unused += fmt::format("    (void){};\n", p);
    std::vector<std::string> args = input_params_;
    args.insert(args.end(), output_params_.begin(), output_params_.end());
    std::string r =
        "  // Runs the model: inputs, then outputs, each a contiguous row-major buffer owned by the\n"
        "  // caller. Allocates nothing.\n";
    r += infer_functions(params, args, "");
    const std::string run = run_function(params, unused + body);
    if (g_.outputs.size() == 1) {
      const ValueInfo& v = g_.value(g_.outputs[0]);
      const std::string type(dtype_cpp(v.dtype));
      const int64_t n = element_count(g_.capacity_dims(v.shape));
      const bool sized_by_data = g_.has_data_dependent_dims(v.shape);
      std::string call_args;
      for (const auto& p : input_params_) call_args += p + ", ";
      r += sized_by_data ? "\n  // The single output, returned as a vector of its actual size (allocates it).\n"
                         : "\n  // The single output, returned as a vector (allocates it).\n";
      const std::string actual = sized_by_data ? "std::size_t(output_shape(0).size())" : std::to_string(n);
      if (v.dtype == DType::Bool)
        r += fmt::format(
            "  std::vector<bool> infer({0}) {{\n    std::unique_ptr<bool[]> out(new bool[{1}]);\n"
            "    infer({2}out.get());\n    return std::vector<bool>(out.get(), out.get() + {3});\n  }}\n",
            fmt::join(in_only, ", "), std::max<int64_t>(n, 1), call_args, actual);
      else if (sized_by_data)
        r += fmt::format(
            "  std::vector<{0}> infer({1}) {{\n    std::vector<{0}> out({2});\n    infer({3}out.data());\n"
            "    out.resize({4});\n    return out;\n  }}\n",
            type, fmt::join(in_only, ", "), n, call_args, actual);
      else
        r += fmt::format(
            "  std::vector<{0}> infer({1}) {{\n    std::vector<{0}> out({2});\n    infer({3}out.data());\n"
            "    return out;\n  }}\n",
            type, fmt::join(in_only, ", "), n, call_args);
    }
    return r + run;
  }

  const Graph& g_;
  const Analysis& a_;
  const MemoryPlan& plan_;
  const HeaderSpec& spec_;
  std::map<std::string, TensorVar> vars_;
  std::map<std::string, TensorVar> view_vars_;  // views that start inside their tensor
  std::set<std::string> used_vars_, taken_names_{"arena", "weights_", "arena_", "workspace"};
  std::vector<std::string> input_params_, output_params_;
  std::vector<unsigned char> weights_;
  std::vector<std::string> weight_names_;
  std::set<std::string> kernels_;
  std::map<std::string, std::string> workspace_vars_;
  std::map<std::string, std::string> dim_vars_;  // data-dependent symbol -> its variable in infer()
  std::vector<std::string> unsupported_;          // nodes the target cannot run
  std::vector<std::string> profile_names_, profile_ops_;  // --profile: the timed nodes, in order
};

}  // namespace

HeaderOutput write_header(const Graph& g, const Analysis& a, const MemoryPlan& plan, const HeaderSpec& spec) {
  return HeaderBuilder(g, a, plan, spec).build();
}

}  // namespace sofiec
