// Keras's windowed layers on channels-last data: convolutions (plain, grouped, depthwise,
// separable, transposed), pooling, padding, cropping and upsampling, in 1-D and 2-D.
// Convolutions and pooling run channels first (ONNX's layout) between a transpose in and one
// out; consecutive layers' pairs cancel in the transpose-pair pass.
#include <fmt/format.h>

#include <limits>

#include "keras/layers.hpp"

namespace sofiec::keras {
namespace {

void require_channels_last(const Layer& l) {
  if (l.get_string("data_format", "channels_last") != "channels_last")
    l.unsupported("data_format channels_first is not supported (Keras's default, channels_last, is)");
}

// The input of a windowed layer over `rank` spatial axes: one channels-last tensor (N, spatial..., C).
const std::string& windowed_input(const Layer& l, GraphBuilder& b, const Inputs& ins, std::size_t rank) {
  const std::string& x = l.single(ins);
  require_channels_last(l);
  if (b.rank(x) != static_cast<int64_t>(rank) + 2) l.fail(fmt::format("expects a rank-{} input", rank + 2));
  return x;
}

// The spatial extents of a channels-last tensor (N, spatial..., C); -1 where decided at run time.
std::vector<int64_t> spatial_dims(GraphBuilder& b, const std::string& x) {
  std::vector<int64_t> d;
  for (int64_t i = 1; i + 1 < b.rank(x); ++i) d.push_back(b.dim(x, i));
  return d;
}

// ONNX pads (begins, then ends) for Keras's padding modes. "same" pads as TensorFlow does,
// the odd element at the end; "causal" (1-D) pads only before.
std::map<std::string, Attribute> window_padding(const Layer& l, const std::string& padding, const std::vector<int64_t>& in,
                                                const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                                                const std::vector<int64_t>& dilations) {
  const std::size_t n = kernel.size();
  std::vector<int64_t> pads(2 * n, 0);
  if (padding == "valid") return {{"pads", ints_attribute(pads)}};
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t effective = (kernel[i] - 1) * dilations[i] + 1;
    if (padding == "causal") {
      pads[i] = effective - 1;
      continue;
    }
    if (padding != "same") l.unsupported(fmt::format("padding '{}' is not supported", padding));
    if (in[i] < 0) return {{"auto_pad", string_attribute("SAME_UPPER")}};
    const int64_t out = (in[i] + strides[i] - 1) / strides[i];
    const int64_t total = std::max<int64_t>((out - 1) * strides[i] + effective - in[i], 0);
    pads[i] = total / 2;
    pads[i + n] = total - total / 2;
  }
  return {{"pads", ints_attribute(pads)}};
}

std::string conv(GraphBuilder& b, const Layer& l, const std::string& x_first, const Tensor& w_onnx, const Tensor* bias,
                 const std::vector<int64_t>& in, const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                 int64_t group, const std::string& padding) {
  std::vector<int64_t> kernel(w_onnx.dims.begin() + 2, w_onnx.dims.end());
  auto attrs = window_padding(l, padding, in, kernel, strides, dilations);
  attrs["kernel_shape"] = ints_attribute(kernel);
  attrs["strides"] = ints_attribute(strides);
  attrs["dilations"] = ints_attribute(dilations);
  attrs["group"] = int_attribute(group);
  std::vector<std::string> inputs{x_first, b.constant(w_onnx, "kernel")};
  if (bias) inputs.push_back(b.constant(*bias, "bias"));
  return b.op("Conv", inputs, attrs);
}

// Keras kernel (k..., in, out) -> ONNX (out, in, k...).
Tensor to_onnx_kernel(const Tensor& k) {
  const int64_t r = static_cast<int64_t>(k.dims.size());
  std::vector<int64_t> perm{r - 1, r - 2};
  for (int64_t i = 0; i < r - 2; ++i) perm.push_back(i);
  return permute_tensor(k, perm);
}

LayerFn build_conv(std::size_t rank) {
  return [rank](const Layer& l, GraphBuilder& b, const Inputs& ins) -> Outputs {
    const std::string& x = windowed_input(l, b, ins, rank);
    const bool use_bias = l.get_bool("use_bias", true);
    l.expect_weights(use_bias ? 2 : 1);
    const Tensor& kernel = l.weight(0, rank + 2, "kernel");
    const Tensor* bias = use_bias ? &l.weight(1, 1, "bias") : nullptr;
    const int64_t groups = l.get_int("groups", 1);
    const int64_t cin = b.dim(x, -1);
    if (kernel.dims[rank] * groups != cin)
      l.fail(fmt::format("kernel [{}] does not take its input's {} channels", fmt::join(kernel.dims, ","), cin));
    const auto strides = l.get_ints("strides", rank, std::vector<int64_t>(rank, 1));
    const auto dilations = l.get_ints("dilation_rate", rank, std::vector<int64_t>(rank, 1));
    std::string y = conv(b, l, b.to_channels_first(x), to_onnx_kernel(kernel), bias, spatial_dims(b, x), strides, dilations,
                         groups, l.get_string("padding", "valid"));
    y = apply_activation(b, l, y, l.activation("activation", "linear"));
    return {b.to_channels_last(y)};
  };
}

// Keras depthwise kernel (k..., in, multiplier) -> ONNX (in * multiplier, 1, k...), output
// channel i * multiplier + m, as Keras orders them.
Tensor depthwise_onnx_kernel(const Tensor& k) {
  const std::size_t r = k.dims.size();
  std::vector<int64_t> dims(k.dims.begin(), k.dims.end() - 2);
  dims.push_back(k.dims[r - 2] * k.dims[r - 1]);
  Tensor flat = reshape_tensor(k, dims);  // (k..., in * multiplier)
  std::vector<int64_t> perm{static_cast<int64_t>(r - 2)};
  for (std::size_t i = 0; i + 2 < r; ++i) perm.push_back(static_cast<int64_t>(i));
  Tensor t = permute_tensor(flat, perm);  // (in * multiplier, k...)
  std::vector<int64_t> out{t.dims[0], 1};
  out.insert(out.end(), t.dims.begin() + 1, t.dims.end());
  return reshape_tensor(std::move(t), out);
}

LayerFn build_depthwise(std::size_t rank, bool separable) {
  return [rank, separable](const Layer& l, GraphBuilder& b, const Inputs& ins) -> Outputs {
    const std::string& x = windowed_input(l, b, ins, rank);
    const bool use_bias = l.get_bool("use_bias", true);
    l.expect_weights((separable ? 2 : 1) + (use_bias ? 1 : 0));
    const Tensor& dw = l.weight(0, rank + 2, "depthwise kernel");
    const int64_t cin = b.dim(x, -1);
    if (dw.dims[rank] != cin) l.fail(fmt::format("depthwise kernel [{}] does not take {} channels", fmt::join(dw.dims, ","), cin));
    const auto strides = l.get_ints("strides", rank, std::vector<int64_t>(rank, 1));
    const auto dilations = l.get_ints("dilation_rate", rank, std::vector<int64_t>(rank, 1));
    const Tensor* bias = use_bias ? &l.weight(separable ? 2 : 1, 1, "bias") : nullptr;
    std::string y = conv(b, l, b.to_channels_first(x), depthwise_onnx_kernel(dw), separable ? nullptr : bias,
                         spatial_dims(b, x), strides, dilations, cin, l.get_string("padding", "valid"));
    if (separable) {
      const Tensor& pw = l.weight(1, rank + 2, "pointwise kernel");
      const std::vector<int64_t> ones(rank, 1);
      y = conv(b, l, y, to_onnx_kernel(pw), bias, {}, ones, ones, 1, "valid");
    }
    y = apply_activation(b, l, y, l.activation("activation", "linear"));
    return {b.to_channels_last(y)};
  };
}

LayerFn build_conv_transpose(std::size_t rank) {
  return [rank](const Layer& l, GraphBuilder& b, const Inputs& ins) -> Outputs {
    const std::string& x = windowed_input(l, b, ins, rank);
    const bool use_bias = l.get_bool("use_bias", true);
    l.expect_weights(use_bias ? 2 : 1);
    const Tensor& kernel = l.weight(0, rank + 2, "kernel");  // (k..., out, in)
    const Tensor* bias = use_bias ? &l.weight(1, 1, "bias") : nullptr;
    if (kernel.dims[rank + 1] != b.dim(x, -1))
      l.fail(fmt::format("kernel [{}] does not take its input's {} channels", fmt::join(kernel.dims, ","), b.dim(x, -1)));
    const auto strides = l.get_ints("strides", rank, std::vector<int64_t>(rank, 1));
    const auto dilations = l.get_ints("dilation_rate", rank, std::vector<int64_t>(rank, 1));
    const std::string padding = l.get_string("padding", "valid");
    if (padding != "valid" && padding != "same") l.unsupported(fmt::format("padding '{}' is not supported", padding));
    const bool given_padding = l.has("output_padding");
    const auto output_padding = l.get_ints("output_padding", rank, std::vector<int64_t>(rank, 0));
    const auto in = spatial_dims(b, x);
    // Keras's output length, then where TensorFlow crops the full transposed convolution to
    // reach it: as the convolution of that length would have padded it (the odd element at
    // the end); a negative crop at the end is ONNX's output_padding.
    std::vector<int64_t> pads(2 * rank, 0), extra(rank, 0), kernel_shape;
    for (std::size_t i = 0; i < rank; ++i) {
      if (in[i] < 0) l.unsupported("a spatial extent decided at run time is not supported");
      const int64_t k = (kernel.dims[i] - 1) * dilations[i] + 1, s = strides[i];
      kernel_shape.push_back(kernel.dims[i]);
      int64_t out;
      if (!given_padding) out = padding == "valid" ? in[i] * s + std::max<int64_t>(k - s, 0) : in[i] * s;
      else out = (in[i] - 1) * s + k - 2 * (padding == "same" ? k / 2 : 0) + output_padding[i];
      const int64_t full = (in[i] - 1) * s + k;
      const int64_t before = padding == "same" ? std::max<int64_t>(full - out, 0) / 2 : 0;
      const int64_t after = full - out - before;
      pads[i] = before;
      if (after >= 0) pads[i + rank] = after;
      else extra[i] = -after;
    }
    std::vector<int64_t> perm{static_cast<int64_t>(rank + 1), static_cast<int64_t>(rank)};
    for (std::size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(i));
    std::vector<std::string> inputs{b.to_channels_first(x), b.constant(permute_tensor(kernel, perm), "kernel")};
    if (bias) inputs.push_back(b.constant(*bias, "bias"));
    std::string y = b.op("ConvTranspose", inputs,
                         {{"kernel_shape", ints_attribute(kernel_shape)}, {"strides", ints_attribute(strides)},
                          {"dilations", ints_attribute(dilations)}, {"pads", ints_attribute(pads)}, {"output_padding", ints_attribute(extra)}});
    y = apply_activation(b, l, y, l.activation("activation", "linear"));
    return {b.to_channels_last(y)};
  };
}

LayerFn build_pool(std::size_t rank, bool max) {
  return [rank, max](const Layer& l, GraphBuilder& b, const Inputs& ins) -> Outputs {
    const std::string& x = windowed_input(l, b, ins, rank);
    const auto size = l.get_ints("pool_size", rank, std::vector<int64_t>(rank, 2));
    const auto strides = l.get_ints("strides", rank, size);
    const std::vector<int64_t> ones(rank, 1);
    auto attrs = window_padding(l, l.get_string("padding", "valid"), spatial_dims(b, x), size, strides, ones);
    attrs["kernel_shape"] = ints_attribute(size);
    attrs["strides"] = ints_attribute(strides);
    // TensorFlow's average leaves the padding out of the count (count_include_pad 0).
    const std::string y = b.op(max ? "MaxPool" : "AveragePool", {b.to_channels_first(x)}, attrs);
    return {b.to_channels_last(y)};
  };
}

LayerFn build_global_pool(std::size_t rank, bool max) {
  return [rank, max](const Layer& l, GraphBuilder& b, const Inputs& ins) -> Outputs {
    const std::string& x = windowed_input(l, b, ins, rank);
    std::vector<int64_t> axes;
    for (std::size_t i = 1; i <= rank; ++i) axes.push_back(static_cast<int64_t>(i));
    const int64_t keep = l.get_bool("keepdims", false) ? 1 : 0;
    return {b.op(max ? "ReduceMax" : "ReduceMean", {x, b.ints(axes, "axes")}, {{"keepdims", int_attribute(keep)}})};
  };
}

// Keras's (begin, end) pairs per spatial axis from an int, a list of ints, or a list of pairs.
std::vector<std::pair<int64_t, int64_t>> pairs(const Layer& l, const std::string& key, std::size_t rank) {
  std::vector<std::pair<int64_t, int64_t>> out(rank, {0, 0});
  if (!l.has(key)) return out;
  const json& v = l.config().at(key);
  auto get = [&](const json& e) {
    if (!e.is_number_integer()) l.fail(fmt::format("'{}' is not made of integers: {}", key, v.dump()));
    return e.get<int64_t>();
  };
  if (v.is_number_integer()) {
    for (auto& p : out) p = {get(v), get(v)};
  } else if (v.is_array() && rank == 1 && v.size() == 2 && v[0].is_number_integer()) {
    out[0] = {get(v[0]), get(v[1])};
  } else if (v.is_array() && v.size() == rank) {
    for (std::size_t i = 0; i < rank; ++i) {
      if (v[i].is_array() && v[i].size() == 2) out[i] = {get(v[i][0]), get(v[i][1])};
      else out[i] = {get(v[i]), get(v[i])};
    }
  } else {
    l.fail(fmt::format("cannot read '{}': {}", key, v.dump()));
  }
  return out;
}

LayerFn build_zero_padding(std::size_t rank) {
  return [rank](const Layer& l, GraphBuilder& b, const Inputs& ins) -> Outputs {
    const std::string& x = l.single(ins);
    require_channels_last(l);
    const auto p = pairs(l, "padding", rank);
    std::vector<int64_t> pads(2 * (rank + 2), 0);
    for (std::size_t i = 0; i < rank; ++i) {
      pads[i + 1] = p[i].first;
      pads[i + 1 + rank + 2] = p[i].second;
    }
    return {b.op("Pad", {x, b.ints(pads, "pads")})};
  };
}

LayerFn build_cropping(std::size_t rank) {
  return [rank](const Layer& l, GraphBuilder& b, const Inputs& ins) -> Outputs {
    const std::string& x = l.single(ins);
    require_channels_last(l);
    const auto p = pairs(l, "cropping", rank);
    std::vector<int64_t> starts, ends, axes;
    for (std::size_t i = 0; i < rank; ++i) {
      starts.push_back(p[i].first);
      ends.push_back(p[i].second > 0 ? -p[i].second : std::numeric_limits<int64_t>::max());
      axes.push_back(static_cast<int64_t>(i + 1));
    }
    return {b.op("Slice", {x, b.ints(starts, "starts"), b.ints(ends, "ends"), b.ints(axes, "axes")})};
  };
}

LayerFn build_upsampling(std::size_t rank) {
  return [rank](const Layer& l, GraphBuilder& b, const Inputs& ins) -> Outputs {
    const std::string& x = l.single(ins);
    require_channels_last(l);
    const auto size = l.get_ints("size", rank, std::vector<int64_t>(rank, 2));
    std::vector<float> scales{1.f};
    for (int64_t s : size) scales.push_back(static_cast<float>(s));
    scales.push_back(1.f);
    const std::string interpolation = l.get_string("interpolation", "nearest");
    std::map<std::string, Attribute> attrs;
    if (interpolation == "nearest") {
      // Keras repeats each element: output i takes input floor(i / size).
      attrs = {{"mode", string_attribute("nearest")}, {"coordinate_transformation_mode", string_attribute("asymmetric")},
               {"nearest_mode", string_attribute("floor")}};
    } else if (interpolation == "bilinear") {
      attrs = {{"mode", string_attribute("linear")}, {"coordinate_transformation_mode", string_attribute("half_pixel")}};
    } else {
      l.unsupported(fmt::format("interpolation '{}' is not supported (nearest, bilinear are)", interpolation));
    }
    const std::string s = b.constant(Tensor::from<float>({static_cast<int64_t>(scales.size())}, scales), "scales");
    return {b.op("Resize", {x, "", s}, attrs)};
  };
}

}  // namespace

void register_conv_layers(LayerRegistry& r) {
  const std::string t = "channels first inside";
  r.add("Conv1D", build_conv(1), "Conv (groups, dilation, causal padding), activation; " + t);
  r.add("Conv2D", build_conv(2), "Conv (groups, dilation), activation; " + t);
  r.add("DepthwiseConv1D", build_depthwise(1, false), "Conv with group = channels; " + t);
  r.add("DepthwiseConv2D", build_depthwise(2, false), "Conv with group = channels; " + t);
  r.add("SeparableConv1D", build_depthwise(1, true), "depthwise Conv, then a 1x1 Conv; " + t);
  r.add("SeparableConv2D", build_depthwise(2, true), "depthwise Conv, then a 1x1 Conv; " + t);
  r.add("Conv1DTranspose", build_conv_transpose(1), "ConvTranspose (TensorFlow's cropping); " + t);
  r.add("Conv2DTranspose", build_conv_transpose(2), "ConvTranspose (TensorFlow's cropping); " + t);
  r.add("MaxPooling1D", build_pool(1, true), "MaxPool; " + t);
  r.add("MaxPooling2D", build_pool(2, true), "MaxPool; " + t);
  r.add("AveragePooling1D", build_pool(1, false), "AveragePool (padding not counted); " + t);
  r.add("AveragePooling2D", build_pool(2, false), "AveragePool (padding not counted); " + t);
  r.add("GlobalMaxPooling1D", build_global_pool(1, true), "ReduceMax");
  r.add("GlobalMaxPooling2D", build_global_pool(2, true), "ReduceMax");
  r.add("GlobalAveragePooling1D", build_global_pool(1, false), "ReduceMean");
  r.add("GlobalAveragePooling2D", build_global_pool(2, false), "ReduceMean");
  r.add("ZeroPadding1D", build_zero_padding(1), "Pad");
  r.add("ZeroPadding2D", build_zero_padding(2), "Pad");
  r.add("Cropping1D", build_cropping(1), "Slice");
  r.add("Cropping2D", build_cropping(2), "Slice");
  r.add("UpSampling1D", build_upsampling(1), "Resize (nearest)");
  r.add("UpSampling2D", build_upsampling(2), "Resize (nearest, bilinear)");
  // Keras 2's short names.
  for (const auto& [alias, name] : std::vector<std::pair<const char*, const char*>>{
           {"Convolution1D", "Conv1D"}, {"Convolution2D", "Conv2D"}, {"MaxPool1D", "MaxPooling1D"},
           {"MaxPool2D", "MaxPooling2D"}, {"AvgPool1D", "AveragePooling1D"}, {"AvgPool2D", "AveragePooling2D"},
           {"GlobalMaxPool1D", "GlobalMaxPooling1D"}, {"GlobalMaxPool2D", "GlobalMaxPooling2D"},
           {"GlobalAvgPool1D", "GlobalAveragePooling1D"}, {"GlobalAvgPool2D", "GlobalAveragePooling2D"},
           {"Conv2DTranspose", "Conv2DTranspose"}, {"Deconvolution2D", "Conv2DTranspose"},
           {"SeparableConvolution2D", "SeparableConv2D"}})
    r.alias(alias, name);
}

}  // namespace sofiec::keras
