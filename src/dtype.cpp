#include "sofiec/dtype.hpp"

namespace sofiec {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float:
    case DType::Int32:
    case DType::UInt32: return 4;
    case DType::Double:
    case DType::Int64:
    case DType::UInt64:
    case DType::Complex64: return 8;
    case DType::UInt8:
    case DType::Int8:
    case DType::Bool: return 1;
    case DType::UInt16:
    case DType::Int16:
    case DType::Float16:
    case DType::BFloat16: return 2;
    case DType::Complex128: return 16;
    default: return 0;
  }
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Float: return "float";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
    case DType::UInt16: return "uint16";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::String: return "string";
    case DType::Bool: return "bool";
    case DType::Float16: return "float16";
    case DType::Double: return "double";
    case DType::UInt32: return "uint32";
    case DType::UInt64: return "uint64";
    case DType::Complex64: return "complex64";
    case DType::Complex128: return "complex128";
    case DType::BFloat16: return "bfloat16";
    default: return "undefined";
  }
}

std::string_view dtype_cpp(DType t) {
  switch (t) {
    case DType::Float: return "float";
    case DType::Double: return "double";
    case DType::UInt8: return "uint8_t";
    case DType::Int8: return "int8_t";
    case DType::UInt16: return "uint16_t";
    case DType::Int16: return "int16_t";
    case DType::Int32: return "int32_t";
    case DType::Int64: return "int64_t";
    case DType::UInt32: return "uint32_t";
    case DType::UInt64: return "uint64_t";
    case DType::Bool: return "bool";
    case DType::Float16: return "::sofiec::float16_t";
    case DType::BFloat16: return "::sofiec::bfloat16_t";
    default: return "";
  }
}

bool dtype_is_float(DType t) {
  return t == DType::Float || t == DType::Double || t == DType::Float16 || t == DType::BFloat16;
}

bool dtype_is_integer(DType t) {
  switch (t) {
    case DType::UInt8:
    case DType::Int8:
    case DType::UInt16:
    case DType::Int16:
    case DType::Int32:
    case DType::Int64:
    case DType::UInt32:
    case DType::UInt64: return true;
    default: return false;
  }
}

bool dtype_is_signed(DType t) {
  return t == DType::Int8 || t == DType::Int16 || t == DType::Int32 || t == DType::Int64 || dtype_is_float(t);
}

bool dtype_is_supported(DType t) {
  return visit_dtype(t, [](auto) {});
}

bool dtype_is_storable(DType t) { return dtype_is_supported(t) || t == DType::Float16 || t == DType::BFloat16; }

}  // namespace sofiec
