//@begin banner
// The skeleton of the Python extension module that `sofiec --python` builds around a generated
// header. sofiec fills the "model" region with what differs per model: the header's include,
// the module's name, the inputs' and outputs' dtypes and shapes, and one function that calls
// Session::infer with type-erased pointers. The rest is the same for every model. As it stands
// it binds the Session skeleton (templates/session.hxx: y = relu(x) on 4 floats) and compiles on
// its own against pybind11, which the test suite checks.
//@end banner
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

//@begin model
#include "session.hxx"

#define SOFIEC_PY_MODULE sofiec_skeleton_module
namespace sofiec_py_model {
namespace model = ::sofiec_skeleton;
namespace py = ::pybind11;
constexpr const char* module_name = "sofiec_skeleton_module";
constexpr const char* model_name = "skeleton";
constexpr const char* weights_file = "";  // the weights file beside the module; "": embedded
constexpr std::size_t num_dims = 0;
constexpr std::array<const char*, num_dims> dim_names{};
constexpr std::array<int64_t, num_dims> dim_min{};
// The run-time dim that is the leading axis of every input and output and nothing else: an
// array longer than its maximum goes through in chunks. -1: none.
constexpr int chunk_dim = -1;
constexpr std::size_t num_inputs = 1, num_outputs = 1;
constexpr std::array<const char*, 1> input_names{{"x"}};
constexpr std::array<const char*, 1> output_names{{"y"}};
constexpr std::array<std::size_t, 1> input_ranks{{1}}, output_ranks{{1}};
// Per axis of every input (then output), in order: how people write it, and the run-time dim it
// is exactly (-1: none).
constexpr std::array<const char*, 1> input_axes{{"4"}};
constexpr std::array<int, 1> input_axis_dim{{-1}};
constexpr std::array<const char*, 1> output_axes{{"4"}};
constexpr std::array<bool, 1> output_by_data{{false}};  // some dim the data decides
inline py::dtype input_dtype(std::size_t i) {
  (void)i;
  return py::dtype::of<float>();
}
inline py::dtype output_dtype(std::size_t i) {
  (void)i;
  return py::dtype::of<float>();
}
// The dims of input (output) i for the run-time dims' values d.
inline void input_dims(std::size_t i, const int64_t* d, int64_t* out) {
  (void)d;
  if (i == 0) out[0] = 4;
}
inline void output_dims(std::size_t i, const int64_t* d, int64_t* out) {
  (void)d;
  if (i == 0) out[0] = 4;
}
inline std::unique_ptr<model::Session> make_session(const std::string& weights, const std::size_t* max) {
  (void)weights;
  (void)max;
  return std::make_unique<model::Session>();
}
inline void run(const model::Session& s, model::Workspace& w, const int64_t* d, const void* const* in,
                void* const* out) {
  (void)d;
  s.infer(w, static_cast<const float*>(in[0]), static_cast<float*>(out[0]));
}
}  // namespace sofiec_py_model
//@end model

// Hidden like pybind11's own namespace, so that the module builds without warnings also where
// -fvisibility=hidden is not given.
namespace sofiec_python __attribute__((visibility("hidden"))) {
namespace py = ::pybind11;
namespace m = ::sofiec_py_model;

using Dims = std::vector<int64_t>;
// At least one element, so that models without run-time dims (or inputs) need no special case.
using DimValues = std::array<int64_t, (m::num_dims > 0 ? m::num_dims : 1)>;

constexpr std::size_t axis_offset(const std::size_t* ranks, std::size_t i) {
  std::size_t offset = 0;
  for (std::size_t k = 0; k < i; ++k) offset += ranks[k];
  return offset;
}

std::string join_dims(const int64_t* dims, std::size_t rank, const char* open, const char* close) {
  std::string r = open;
  for (std::size_t k = 0; k < rank; ++k) r += (k ? ", " : "") + std::to_string(dims[k]);
  return r + (rank == 1 && open[0] == '(' ? "," : "") + close;
}

// The model's shape of input or output i as people write it: [1,ntracks,21].
std::string shape_text(bool input, std::size_t i) {
  const std::size_t* ranks = input ? m::input_ranks.data() : m::output_ranks.data();
  const char* const* axes = input ? m::input_axes.data() : m::output_axes.data();
  std::string r = "[";
  const std::size_t first = axis_offset(ranks, i);
  for (std::size_t k = 0; k < ranks[i]; ++k) r += (k ? "," : "") + std::string(axes[first + k]);
  return r + "]";
}

// The model's shape as Python sees it: a tuple of ints, with the name (or expression) of each
// run-time dim as a string.
py::tuple shape_tuple(bool input, std::size_t i) {
  const std::size_t* ranks = input ? m::input_ranks.data() : m::output_ranks.data();
  const char* const* axes = input ? m::input_axes.data() : m::output_axes.data();
  py::tuple t(ranks[i]);
  const std::size_t first = axis_offset(ranks, i);
  for (std::size_t k = 0; k < ranks[i]; ++k) {
    const std::string a = axes[first + k];
    const bool number = !a.empty() && a.find_first_not_of("0123456789") == std::string::npos;
    t[k] = number ? py::object(py::int_(std::stoll(a))) : py::object(py::str(a));
  }
  return t;
}

std::string describe(bool input, std::size_t i) {
  return std::string(input ? "input '" : "output '") + (input ? m::input_names[i] : m::output_names[i]) + "' " +
         shape_text(input, i) + " " +
         std::string(py::str(input ? m::input_dtype(i) : m::output_dtype(i)).cast<std::string>());
}

[[noreturn]] void fail(const std::string& what) { throw py::value_error(std::string(m::model_name) + ": " + what); }

// How one call maps the arrays it was given onto runs of the Session.
enum class Mode {
  Exact,   // the model's shapes: one run
  Stack,   // an extra leading axis of N events: N runs, outputs stacked on a new axis
  Concat,  // the model's leading axis is 1 and the arrays have N there: N runs
  Chunk,   // the chunk dim above its maximum: runs of at most the maximum rows
};

struct Steps {
  std::array<std::size_t, m::num_inputs> in{};
  std::array<std::size_t, m::num_outputs> out{};
};

struct CallPlan {
  Mode mode = Mode::Exact;
  int64_t events = 1;  // Stack/Concat: N; Chunk: the rows in all
  DimValues d{};       // the run-time dims of one run (Chunk: of a full chunk)
};

class Session {
 public:
  Session(std::optional<std::string> weights, const std::array<std::size_t, m::num_dims>& max, bool chunks)
      : weights_arg_(std::move(weights)), max_(max), chunks_(chunks) {
    // A path that means the same file in another process (a worker elsewhere in the tree).
    if (weights_arg_) weights_arg_ = py::module_::import("os").attr("path").attr("abspath")(*weights_arg_).cast<std::string>();
    if (chunks_ && m::chunk_dim < 0)
      throw py::type_error(std::string(m::model_name) +
                           ": Session(chunks=True): no run-time dim leads every input and output");
    std::string path;
    if (m::weights_file[0] != '\0') {
      if (weights_arg_) {
        path = *weights_arg_;
      } else {
        // Beside the module, where sofiec wrote it.
        const std::string module_file = py::module_::import(m::module_name).attr("__file__").cast<std::string>();
        const std::size_t slash = module_file.find_last_of('/');
        path = (slash == std::string::npos ? std::string() : module_file.substr(0, slash + 1)) + m::weights_file;
      }
    } else if (weights_arg_) {
      throw py::type_error(std::string(m::model_name) + ": Session(weights=...): this module's weights are embedded");
    }
    weights_path_ = path;
    session_ = m::make_session(path, max_.data());
    // Every call runs on a Workspace of the pool below: the Session's own is never used.
    session_->release_workspace();
  }

  const std::optional<std::string>& weights_arg() const { return weights_arg_; }
  bool chunks() const { return chunks_; }
  const std::string& weights_path() const { return weights_path_; }
  const std::array<std::size_t, m::num_dims>& max() const { return max_; }

  py::object infer(const py::args& args, const py::kwargs& kwargs) {
    std::array<py::array, m::num_inputs> arrays;
    take_inputs(args, kwargs, arrays);
    const CallPlan plan = plan_call(arrays);
    std::array<const void*, m::num_inputs> in{};
    for (std::size_t i = 0; i < m::num_inputs; ++i) in[i] = arrays[i].data();
    std::array<py::array, m::num_outputs> outputs;
    std::array<void*, m::num_outputs> out{};
    // Bytes per event (Stack, Concat) or per row of the chunk dim (Chunk) of every buffer, read
    // while the GIL is held.
    Steps steps;
    const std::size_t events = static_cast<std::size_t>(plan.events);
    for (std::size_t i = 0; i < m::num_outputs; ++i) {
      outputs[i] = py::array(m::output_dtype(i), output_shape(plan, i));
      out[i] = outputs[i].mutable_data();
      steps.out[i] = events == 0 ? 0 : static_cast<std::size_t>(outputs[i].nbytes()) / events;
    }
    for (std::size_t i = 0; i < m::num_inputs; ++i)
      steps.in[i] = events == 0 ? 0 : static_cast<std::size_t>(arrays[i].nbytes()) / events;
    std::vector<std::vector<py::ssize_t>> filled(m::num_outputs);
    {
      // Other threads run Python meanwhile, or this Session on Workspaces of their own: the
      // weights are shared and only read (infer(workspace, ...) is const).
      py::gil_scoped_release release;
      Borrowed workspace(*this);
      execute(plan, in, out, steps, *workspace);
      for (std::size_t i = 0; i < m::num_outputs; ++i)
        if (m::output_by_data[i]) {
          const auto shape = workspace->output_shape(i);
          filled[i].assign(shape.dims, shape.dims + shape.rank);
        }
    }
    for (std::size_t i = 0; i < m::num_outputs; ++i)
      if (m::output_by_data[i]) outputs[i] = filled_part(i, outputs[i], filled[i]);
    if (m::num_outputs == 1) return std::move(outputs[0]);
    py::tuple result(m::num_outputs);
    for (std::size_t i = 0; i < m::num_outputs; ++i) result[i] = std::move(outputs[i]);
    return std::move(result);
  }

 private:
  // The arrays in input order, each of the input's dtype, C-contiguous and aligned: the caller's
  // own array where it already is (no copy), else a converted copy; a dtype that NumPy cannot
  // cast "same_kind" (a float array for an integer input, complex for real) is refused.
  static void take_inputs(const py::args& args, const py::kwargs& kwargs,
                          std::array<py::array, m::num_inputs>& arrays) {
    std::array<py::handle, m::num_inputs> given{};
    if (args.size() > m::num_inputs)
      throw py::type_error(std::string(m::model_name) + ": infer() takes " + std::to_string(m::num_inputs) +
                           " input(s), got " + std::to_string(args.size()));
    for (std::size_t i = 0; i < args.size(); ++i) given[i] = args[i];
    for (const auto& [key, value] : kwargs) {
      const std::string name = py::str(key);
      std::size_t i = 0;
      while (i < m::num_inputs && name != m::input_names[i]) ++i;
      if (i == m::num_inputs) throw py::type_error(std::string(m::model_name) + ": the model has no input '" + name + "'");
      if (given[i]) throw py::type_error(std::string(m::model_name) + ": input '" + name + "' given twice");
      given[i] = value;
    }
    for (std::size_t i = 0; i < m::num_inputs; ++i) {
      if (!given[i]) throw py::type_error(std::string(m::model_name) + ": infer() is missing " + describe(true, i));
      arrays[i] = as_input_array(i, given[i]);
    }
  }

  static py::array as_input_array(std::size_t i, py::handle h) {
    auto& api = py::detail::npy_api::get();
    const py::dtype want = m::input_dtype(i);
    constexpr int ready = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ | py::detail::npy_api::NPY_ARRAY_ALIGNED_;
    py::array a;
    if (api.PyArray_Check_(h.ptr())) {
      a = py::reinterpret_borrow<py::array>(h);
    } else {
      a = py::module_::import("numpy").attr("asarray")(h);
    }
    const auto* proxy = py::detail::array_proxy(a.ptr());
    const bool same_type = proxy->descr == want.ptr() || api.PyArray_EquivTypes_(proxy->descr, want.ptr());
    if (same_type && (proxy->flags & ready) == ready) return a;
    if (!same_type) {
      const py::object can_cast = py::module_::import("numpy").attr("can_cast");
      if (!can_cast(a.dtype(), want, "same_kind").cast<bool>())
        fail(describe(true, i) + " cannot take an array of dtype " + std::string(py::str(a.dtype())));
    }
    PyObject* converted = api.PyArray_FromAny_(a.ptr(), want.inc_ref().ptr(), 0, 0,
                                               ready | py::detail::npy_api::NPY_ARRAY_FORCECAST_, nullptr);
    if (!converted) throw py::error_already_set();
    return py::reinterpret_steal<py::array>(converted);
  }

  // Reads the run-time dims from the arrays' axes (skipping `lead` leading axes of each), and
  // checks every axis. Returns an empty string when they fit, else what is wrong.
  std::string fit_dims(const std::array<py::array, m::num_inputs>& arrays, std::size_t lead, bool skip_first,
                       DimValues& d, bool allow_chunk, bool& chunked) const {
    std::array<bool, (m::num_dims > 0 ? m::num_dims : 1)> known{};
    chunked = false;
    for (std::size_t i = 0; i < m::num_inputs; ++i) {
      const std::size_t first = axis_offset(m::input_ranks.data(), i);
      for (std::size_t k = 0; k < m::input_ranks[i]; ++k) {
        const int j = m::input_axis_dim[first + k];
        if (j < 0) continue;
        const int64_t v = arrays[i].shape(static_cast<py::ssize_t>(lead + k));
        if (known[static_cast<std::size_t>(j)] && d[static_cast<std::size_t>(j)] != v)
          return std::string("the inputs disagree on ") + m::dim_names[static_cast<std::size_t>(j)] + " (" +
                 std::to_string(d[static_cast<std::size_t>(j)]) + " and " + std::to_string(v) + ")";
        known[static_cast<std::size_t>(j)] = true;
        d[static_cast<std::size_t>(j)] = v;
      }
    }
    for (std::size_t j = 0; j < m::num_dims; ++j) {
      if (!known[j])
        return std::string("no input axis gives the run-time dim ") + m::dim_names[j] + ", so it cannot be read";
      if (d[j] < m::dim_min[j])
        return std::string(m::dim_names[j]) + " = " + std::to_string(d[j]) + " is below its minimum " +
               std::to_string(m::dim_min[j]);
      if (d[j] > static_cast<int64_t>(max_[j])) {
        if (allow_chunk && static_cast<int>(j) == m::chunk_dim) {
          chunked = true;
          continue;
        }
        return std::string(m::dim_names[j]) + " = " + std::to_string(d[j]) + " is above its maximum " +
               std::to_string(max_[j]) + " (given to the Session" +
               (static_cast<int>(j) == m::chunk_dim
                    ? std::string("; Session(..., chunks=True) runs longer arrays in chunks where the rows along ") +
                          m::dim_names[j] + " are independent events)"
                    : std::string(")"));
      }
    }
    std::vector<int64_t> want;
    for (std::size_t i = 0; i < m::num_inputs; ++i) {
      want.assign(m::input_ranks[i], 0);
      m::input_dims(i, d.data(), want.data());
      for (std::size_t k = skip_first ? 1 : 0; k < m::input_ranks[i]; ++k)
        if (arrays[i].shape(static_cast<py::ssize_t>(lead + k)) != want[k]) return "wrong shape";
    }
    return "";
  }

  CallPlan plan_call(const std::array<py::array, m::num_inputs>& arrays) const {
    CallPlan plan;
    bool chunked = false;
    auto ranks_are = [&](std::size_t extra) {
      for (std::size_t i = 0; i < m::num_inputs; ++i)
        if (static_cast<std::size_t>(arrays[i].ndim()) != m::input_ranks[i] + extra) return false;
      return true;
    };
    // The common length of the arrays' first axes, or -1.
    auto leading = [&]() -> int64_t {
      int64_t n = -1;
      for (std::size_t i = 0; i < m::num_inputs; ++i) {
        if (arrays[i].ndim() == 0) return -1;
        if (n >= 0 && arrays[i].shape(0) != n) return -1;
        n = arrays[i].shape(0);
      }
      return n;
    };
    std::string why;
    if (ranks_are(0)) {
      why = fit_dims(arrays, 0, false, plan.d, chunks_, chunked);
      if (why.empty()) {
        if (chunked) {
          const std::size_t j = static_cast<std::size_t>(m::chunk_dim);
          plan.mode = Mode::Chunk;
          plan.events = plan.d[j];
          plan.d[j] = static_cast<int64_t>(max_[j]);
          const int64_t last = plan.events % plan.d[j];
          if (last != 0 && last < m::dim_min[j])
            fail(std::string("infer(): the last chunk would have ") + m::dim_names[j] + " = " + std::to_string(last) +
                 ", below its minimum " + std::to_string(m::dim_min[j]));
        }
        return plan;
      }
      // The SOFIE way: a model exported for one event ([1, ...]) run on N events.
      bool ones = m::num_inputs > 0;
      for (std::size_t i = 0; i < m::num_inputs; ++i)
        ones = ones && m::input_ranks[i] > 0 && std::string(m::input_axes[axis_offset(m::input_ranks.data(), i)]) == "1";
      const int64_t n = leading();
      if (ones && n >= 0) {
        const std::string w = fit_dims(arrays, 0, true, plan.d, false, chunked);
        if (w.empty()) {
          plan.mode = Mode::Concat;
          plan.events = n;
          return plan;
        }
      }
    } else if (ranks_are(1) && leading() >= 0) {
      why = fit_dims(arrays, 1, false, plan.d, false, chunked);
      if (why.empty()) {
        plan.mode = Mode::Stack;
        plan.events = leading();
        return plan;
      }
    }
    if (why.empty() || why == "wrong shape") {
      std::string got;
      for (std::size_t i = 0; i < m::num_inputs; ++i) {
        const Dims dims(arrays[i].shape(), arrays[i].shape() + arrays[i].ndim());
        got += (i ? ", " : "") + join_dims(dims.data(), dims.size(), "(", ")");
      }
      std::string expected;
      bool leading_one = m::num_inputs > 0;
      for (std::size_t i = 0; i < m::num_inputs; ++i) {
        expected += (i ? "; " : "") + describe(true, i);
        leading_one = leading_one && m::input_ranks[i] > 0 &&
                      std::string(m::input_axes[axis_offset(m::input_ranks.data(), i)]) == "1";
      }
      fail("infer() expects " + expected + " (or N events: an extra leading axis of N" +
           (leading_one ? ", or N in place of the leading 1" : "") + "), got shape " + got);
    }
    fail("infer(): " + why);
  }

  std::vector<py::ssize_t> output_shape(const CallPlan& plan, std::size_t i) const {
    DimValues d = plan.d;
    if (plan.mode == Mode::Chunk) d[static_cast<std::size_t>(m::chunk_dim)] = plan.events;
    std::vector<int64_t> dims(m::output_ranks[i]);
    m::output_dims(i, d.data(), dims.data());
    std::vector<py::ssize_t> shape(dims.begin(), dims.end());
    if (plan.mode == Mode::Stack) shape.insert(shape.begin(), plan.events);
    if (plan.mode == Mode::Concat) {
      if (!shape.empty() && std::string(m::output_axes[axis_offset(m::output_ranks.data(), i)]) == "1")
        shape[0] = plan.events;
      else
        shape.insert(shape.begin(), plan.events);
    }
    if (m::output_by_data[i] && plan.mode != Mode::Exact)
      fail("the data decides the shape of " + describe(false, i) + ": give one event at a time");
    return shape;
  }

  // A Workspace of the pool for one call: made when every one is in use (so there are as many
  // as calls have run at once), given back after. The pool's lock is held only to take or
  // return one.
  class Borrowed {
   public:
    explicit Borrowed(Session& owner) : owner_(owner) {
      std::lock_guard<std::mutex> lock(owner_.pool_mutex_);
      if (owner_.pool_.empty()) {
        workspace_ = std::make_unique<m::model::Workspace>(*owner_.session_);
      } else {
        workspace_ = std::move(owner_.pool_.back());
        owner_.pool_.pop_back();
      }
    }
    ~Borrowed() {
      std::lock_guard<std::mutex> lock(owner_.pool_mutex_);
      owner_.pool_.push_back(std::move(workspace_));
    }
    Borrowed(const Borrowed&) = delete;
    Borrowed& operator=(const Borrowed&) = delete;
    m::model::Workspace& operator*() const { return *workspace_; }
    m::model::Workspace* operator->() const { return workspace_.get(); }

   private:
    Session& owner_;
    std::unique_ptr<m::model::Workspace> workspace_;
  };

  // Runs without the GIL: touches no Python object.
  void execute(const CallPlan& plan, std::array<const void*, m::num_inputs>& in,
               std::array<void*, m::num_outputs>& out, const Steps& steps, m::model::Workspace& workspace) {
    if (plan.mode == Mode::Exact) {
      m::run(*session_, workspace, plan.d.data(), in.data(), out.data());
      return;
    }
    const int64_t events = plan.events;
    const int64_t step = plan.mode == Mode::Chunk ? plan.d[static_cast<std::size_t>(m::chunk_dim)] : 1;
    DimValues d = plan.d;
    for (int64_t e = 0; e < events; e += step) {
      const int64_t rows = std::min(step, events - e);
      if (plan.mode == Mode::Chunk) d[static_cast<std::size_t>(m::chunk_dim)] = rows;
      std::array<const void*, m::num_inputs> in_e{};
      std::array<void*, m::num_outputs> out_e{};
      for (std::size_t i = 0; i < m::num_inputs; ++i)
        in_e[i] = static_cast<const unsigned char*>(in[i]) + static_cast<std::size_t>(e) * steps.in[i];
      for (std::size_t i = 0; i < m::num_outputs; ++i)
        out_e[i] = static_cast<unsigned char*>(out[i]) + static_cast<std::size_t>(e) * steps.out[i];
      m::run(*session_, workspace, d.data(), in_e.data(), out_e.data());
    }
  }

  // An output whose size the data decides: the part infer() filled, with its actual dims.
  static py::array filled_part(std::size_t i, const py::array& capacity, const std::vector<py::ssize_t>& dims) {
    py::array part(m::output_dtype(i), dims);
    std::memcpy(part.mutable_data(), capacity.data(), static_cast<std::size_t>(part.nbytes()));
    return part;
  }

  std::optional<std::string> weights_arg_;
  std::string weights_path_;
  std::array<std::size_t, m::num_dims> max_;
  std::unique_ptr<m::model::Session> session_;
  bool chunks_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<m::model::Workspace>> pool_;  // the Workspaces not in use
};

std::array<std::size_t, m::num_dims> dim_maxima(const py::args& args, const py::kwargs& kwargs,
                                                std::optional<std::string>& weights, bool& chunks) {
  std::array<std::size_t, m::num_dims> max{};
  std::array<bool, m::num_dims> given{};
  auto set = [&](std::size_t j, py::handle v) {
    if (given[j])
      throw py::type_error(std::string(m::model_name) + ": Session(): " + m::dim_names[j] + " given twice");
    if (!py::isinstance<py::int_>(v) && !py::hasattr(v, "__index__"))
      throw py::type_error(std::string(m::model_name) + ": Session(): the maximum of " + m::dim_names[j] +
                           " must be an integer, got " + std::string(py::str(py::type::of(v))));
    const long long n = py::int_(py::reinterpret_borrow<py::object>(v)).cast<long long>();
    if (n < m::dim_min[j])
      fail(std::string("Session(): the maximum of ") + m::dim_names[j] + " must be at least " +
           std::to_string(m::dim_min[j]) + ", got " + std::to_string(n));
    max[j] = static_cast<std::size_t>(n);
    given[j] = true;
  };
  std::size_t first = 0;
  // Session(weights_path, *maxima) for a module built with --weights file.
  if (m::weights_file[0] != '\0' && args.size() > 0 &&
      (py::isinstance<py::str>(args[0]) || py::hasattr(args[0], "__fspath__"))) {
    weights = py::str(py::module_::import("os").attr("fspath")(args[0])).cast<std::string>();
    first = 1;
  }
  if (args.size() - first > m::num_dims)
    throw py::type_error(std::string(m::model_name) + ": Session() takes the maxima of " +
                         std::to_string(m::num_dims) + " run-time dim(s), got " + std::to_string(args.size() - first) +
                         " positional arguments");
  for (std::size_t j = first; j < args.size(); ++j) set(j - first, args[j]);
  for (const auto& [key, value] : kwargs) {
    const std::string name = py::str(key);
    if (name == "chunks") {
      chunks = value.cast<bool>();
      continue;
    }
    if (name == "weights") {
      if (!value.is_none()) weights = py::str(py::module_::import("os").attr("fspath")(value)).cast<std::string>();
      continue;
    }
    std::size_t j = 0;
    while (j < m::num_dims && name != m::dim_names[j]) ++j;
    if (j == m::num_dims)
      throw py::type_error(std::string(m::model_name) + ": Session() has no argument '" + name + "'" +
                           (m::num_dims ? "" : " (the model has no run-time dims)"));
    set(j, value);
  }
  std::string missing;
  for (std::size_t j = 0; j < m::num_dims; ++j)
    if (!given[j]) missing += (missing.empty() ? "" : ", ") + std::string(m::dim_names[j]) + "=...";
  if (!missing.empty())
    throw py::type_error(std::string(m::model_name) + ": Session() needs the maximum of every run-time dim: Session(" +
                         missing + ")");
  return max;
}

void bind(py::module_& module) {
  module.doc() = std::string("The model ") + m::model_name + ", compiled by sofiec.";
  // module_local: every sofiec module has a class of this C++ name, and pybind11 would otherwise
  // register them in one table shared by all modules of the process.
  py::class_<Session> cls(module, "Session", py::module_local(),
                          "One instance of the model: its weights, shared by every thread that calls it (each "
                          "call runs on memory of its own).");
  cls.def(py::init([](const py::args& args, const py::kwargs& kwargs) {
            std::optional<std::string> weights;
            bool chunks = false;
            const auto max = dim_maxima(args, kwargs, weights, chunks);
            return std::make_unique<Session>(weights, max, chunks);
          }),
          "Session([weights], *maxima, weights=None, chunks=False, **maxima): the maximum of each run-time dim (by "
          "position or name); weights: the weights file of a module built with --weights file (default: the one "
          "beside the module); chunks: an array longer than the maximum of the run-time dim that leads every input "
          "and output runs in chunks (only for a dim whose rows are independent events).");
  cls.def("infer", &Session::infer,
          "infer(*inputs, **inputs): NumPy arrays in input order (or by name); returns the output array, or a tuple "
          "of them. An extra leading axis of N events, or N in place of a leading 1, runs N events.");
  cls.def_property_readonly("weights_path", [](const Session& s) -> py::object {
    if (s.weights_path().empty()) return py::none();
    return py::str(s.weights_path());
  });
  cls.def_property_readonly("dim_max", [](const Session& s) {
    py::dict d;
    for (std::size_t j = 0; j < m::num_dims; ++j) d[m::dim_names[j]] = s.max()[j];
    return d;
  });
  cls.def(py::pickle(
      [](const Session& s) {
        py::tuple max(m::num_dims);
        for (std::size_t j = 0; j < m::num_dims; ++j) max[j] = s.max()[j];
        return py::make_tuple(s.weights_arg() ? py::object(py::str(*s.weights_arg())) : py::object(py::none()), max,
                              s.chunks());
      },
      [](const py::tuple& state) {
        if (state.size() != 3) throw std::runtime_error("Session: bad pickled state");
        std::optional<std::string> weights;
        if (!state[0].is_none()) weights = state[0].cast<std::string>();
        std::array<std::size_t, m::num_dims> max{};
        const py::tuple saved = state[1];
        if (saved.size() != m::num_dims) throw std::runtime_error("Session: bad pickled state");
        for (std::size_t j = 0; j < m::num_dims; ++j) max[j] = saved[j].cast<std::size_t>();
        return std::make_unique<Session>(weights, max, state[2].cast<bool>());
      }));
  cls.def("__repr__", [](const Session& s) {
    std::string r = std::string("<") + m::module_name + ".Session";
    for (std::size_t j = 0; j < m::num_dims; ++j) r += std::string(j ? ", " : " ") + m::dim_names[j] + "<=" + std::to_string(s.max()[j]);
    return r + ">";
  });
  // The model's interface, on the module and on the class.
  py::tuple in_names(m::num_inputs), in_shapes(m::num_inputs), in_dtypes(m::num_inputs);
  for (std::size_t i = 0; i < m::num_inputs; ++i) {
    in_names[i] = m::input_names[i];
    in_shapes[i] = shape_tuple(true, i);
    in_dtypes[i] = m::input_dtype(i);
  }
  py::tuple out_names(m::num_outputs), out_shapes(m::num_outputs), out_dtypes(m::num_outputs);
  for (std::size_t i = 0; i < m::num_outputs; ++i) {
    out_names[i] = m::output_names[i];
    out_shapes[i] = shape_tuple(false, i);
    out_dtypes[i] = m::output_dtype(i);
  }
  py::tuple dim_names(m::num_dims), dim_min(m::num_dims);
  for (std::size_t j = 0; j < m::num_dims; ++j) {
    dim_names[j] = m::dim_names[j];
    dim_min[j] = m::dim_min[j];
  }
  for (py::object target : {py::object(module), py::object(cls)}) {
    target.attr("input_names") = in_names;
    target.attr("input_shapes") = in_shapes;
    target.attr("input_dtypes") = in_dtypes;
    target.attr("output_names") = out_names;
    target.attr("output_shapes") = out_shapes;
    target.attr("output_dtypes") = out_dtypes;
    target.attr("dim_names") = dim_names;
    target.attr("dim_min") = dim_min;
  }
  module.attr("model_name") = m::model_name;
}

}  // namespace sofiec_python

PYBIND11_MODULE(SOFIEC_PY_MODULE, module) { sofiec_python::bind(module); }
