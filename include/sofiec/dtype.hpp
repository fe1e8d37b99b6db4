// Element types, numbered as onnx::TensorProto::DataType so conversion is a cast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sofiec {

enum class DType : int {
  Undefined = 0,
  Float = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Double = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
};

// Bytes per element; 0 for types without a fixed-size representation (string, undefined).
std::size_t dtype_size(DType t);
// ONNX spelling ("float", "int64", ...), for messages and reports.
std::string_view dtype_name(DType t);
// The C++ type the generated code stores elements in; empty if the type has none.
// float16 and bfloat16 are ::sofiec::float16_t and ::sofiec::bfloat16_t (templates/kernels/prelude.hpp).
std::string_view dtype_cpp(DType t);
bool dtype_is_float(DType t);    // float, double, float16, bfloat16
bool dtype_is_integer(DType t);  // signed and unsigned integers, not bool
bool dtype_is_signed(DType t);
// True for the types the compiler can store, move and compute with.
bool dtype_is_supported(DType t);
// Supported, or float16/bfloat16: types that can be graph inputs and outputs. Operators see
// the half types only in Cast; elsewhere they are lowered to float (see infer_graph).
bool dtype_is_storable(DType t);

// Calls f(T{}) with the C++ type of t, for the numeric types the compiler computes with at
// generation time (constant folding). Returns false if t has no such type.
template <class F> bool visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Float: f(float{}); return true;
    case DType::Double: f(double{}); return true;
    case DType::Int8: f(int8_t{}); return true;
    case DType::Int16: f(int16_t{}); return true;
    case DType::Int32: f(int32_t{}); return true;
    case DType::Int64: f(int64_t{}); return true;
    case DType::UInt8: f(uint8_t{}); return true;
    case DType::UInt16: f(uint16_t{}); return true;
    case DType::UInt32: f(uint32_t{}); return true;
    case DType::UInt64: f(uint64_t{}); return true;
    case DType::Bool: f(bool{}); return true;
    default: return false;
  }
}

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float; }
template <> constexpr DType dtype_of<double>() { return DType::Double; }
template <> constexpr DType dtype_of<int8_t>() { return DType::Int8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::Int16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::UInt8; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::UInt16; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::UInt32; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::UInt64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

}  // namespace sofiec
