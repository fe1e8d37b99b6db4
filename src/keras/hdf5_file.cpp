#include "keras/hdf5_file.hpp"

#include <fmt/format.h>
#include <hdf5.h>

#include <memory>

namespace sofiec::keras {
namespace {

// Closes an HDF5 identifier with its kind's close function when it goes out of scope.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id >= 0) close(id);
  }
};

void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::vector<std::string> read_strings(hid_t attr, const std::string& what) {
  Handle type(H5Aget_type(attr), H5Tclose);
  Handle space(H5Aget_space(attr), H5Sclose);
  const hssize_t n = space.id < 0 ? -1 : H5Sget_simple_extent_npoints(space.id);
  if (n < 0) throw Error(what + ": unreadable");
  if (n == 0) return {};  // Keras 2 writes a layer without weights an empty float array of names
  if (type.id < 0 || H5Tget_class(type.id) != H5T_STRING) throw Error(what + " is not a string");
  std::vector<std::string> out;
  if (H5Tis_variable_str(type.id) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.id, H5T_VARIABLE);
    H5Tset_cset(mem.id, H5Tget_cset(type.id));
    std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
    if (H5Aread(attr, mem.id, ptrs.data()) < 0) throw Error(what + ": unreadable");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem.id, space.id, H5P_DEFAULT, ptrs.data());
  } else {
    // One byte more than the file's strings, so that a string filling its whole width keeps
    // its last character when converted to a null-terminated one.
    const std::size_t size = H5Tget_size(type.id) + 1;
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.id, size);
    std::vector<char> buffer(size * static_cast<std::size_t>(n) + 1, 0);
    if (H5Aread(attr, mem.id, buffer.data()) < 0) throw Error(what + ": unreadable");
    for (hssize_t i = 0; i < n; ++i) {
      std::string s(buffer.data() + static_cast<std::size_t>(i) * size, size);
      s.erase(s.find_last_not_of('\0') + 1);  // null-padded
      out.push_back(s);
    }
  }
  return out;
}

std::string object_path(const std::string& path) { return path.empty() ? "/" : "/" + path; }

}  // namespace

Hdf5File Hdf5File::open(const std::string& path) {
  quiet();
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw Error(fmt::format("{}: not a readable HDF5 file (missing, truncated or of another format)", path));
  return Hdf5File(id, path);
}

Hdf5File Hdf5File::from_memory(const std::string& bytes, const std::string& name) {
  quiet();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (fapl.id < 0 || H5Pset_fapl_core(fapl.id, 1 << 20, 0) < 0 ||
      H5Pset_file_image(fapl.id, const_cast<char*>(bytes.data()), bytes.size()) < 0)
    throw Error(fmt::format("{}: cannot open the HDF5 image", name));
  const hid_t id = H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.id);
  if (id < 0) throw Error(fmt::format("{}: not a readable HDF5 file (truncated or of another format)", name));
  return Hdf5File(id, name);
}

Hdf5File::Hdf5File(Hdf5File&& other) noexcept : id_(other.id_), name_(std::move(other.name_)) { other.id_ = -1; }

Hdf5File::~Hdf5File() {
  if (id_ >= 0) H5Fclose(static_cast<hid_t>(id_));
}

bool Hdf5File::exists(const std::string& path) const {
  if (path.empty()) return true;
  // H5Lexists needs every prefix to exist first.
  std::size_t pos = 0;
  while (true) {
    const std::size_t slash = path.find('/', pos);
    const std::string prefix = object_path(path.substr(0, slash));
    if (H5Lexists(static_cast<hid_t>(id_), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

bool Hdf5File::is_group(const std::string& path) const {
  if (!exists(path)) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name(static_cast<hid_t>(id_), object_path(path).c_str(), &info, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_GROUP;
}

bool Hdf5File::has_attribute(const std::string& object, const std::string& attribute) const {
  return exists(object) &&
         H5Aexists_by_name(static_cast<hid_t>(id_), object_path(object).c_str(), attribute.c_str(), H5P_DEFAULT) > 0;
}

std::string Hdf5File::string_attribute(const std::string& object, const std::string& attribute) const {
  const auto list = string_list_attribute(object, attribute);
  if (list.size() != 1) throw Error(fmt::format("{}: attribute '{}' of '{}' is not one string", name_, attribute, object_path(object)));
  return list[0];
}

std::vector<std::string> Hdf5File::string_list_attribute(const std::string& object, const std::string& attribute) const {
  const std::string what = fmt::format("{}: attribute '{}' of '{}'", name_, attribute, object_path(object));
  if (!has_attribute(object, attribute)) throw Error(what + " is missing");
  Handle attr(H5Aopen_by_name(static_cast<hid_t>(id_), object_path(object).c_str(), attribute.c_str(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  if (attr.id < 0) throw Error(what + " is unreadable");
  return read_strings(attr.id, what);
}

std::vector<std::string> Hdf5File::children(const std::string& group) const {
  std::vector<std::string> out;
  if (!is_group(group)) return out;
  Handle g(H5Gopen2(static_cast<hid_t>(id_), object_path(group).c_str(), H5P_DEFAULT), H5Gclose);
  H5G_info_t info;
  if (g.id < 0 || H5Gget_info(g.id, &info) < 0) throw Error(fmt::format("{}: group '{}' is unreadable", name_, object_path(group)));
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) continue;
    std::string n(static_cast<std::size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, n.data(), n.size(), H5P_DEFAULT);
    n.resize(static_cast<std::size_t>(len));
    out.push_back(n);
  }
  return out;
}

Tensor Hdf5File::read_floats(const std::string& path) const {
  const std::string what = fmt::format("{}: dataset '{}'", name_, object_path(path));
  if (!exists(path)) throw Error(what + " is missing");
  Handle d(H5Dopen2(static_cast<hid_t>(id_), object_path(path).c_str(), H5P_DEFAULT), H5Dclose);
  if (d.id < 0) throw Error(what + " is not a dataset");
  Handle type(H5Dget_type(d.id), H5Tclose);
  Handle space(H5Dget_space(d.id), H5Sclose);
  const H5T_class_t cls = H5Tget_class(type.id);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) throw Error(what + " does not hold numbers");
  const int rank = H5Sget_simple_extent_ndims(space.id);
  if (rank < 0) throw Error(what + " is unreadable");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  Tensor t(DType::Float, std::vector<int64_t>(dims.begin(), dims.end()));
  if (t.size() > 0 && H5Dread(d.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data<float>()) < 0)
    throw Error(what + " is unreadable (truncated file?)");
  return t;
}

}  // namespace sofiec::keras
