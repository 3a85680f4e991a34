#include "models/formats/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "runtime/error.h"
#include "runtime/file_io.h"

namespace axe {
namespace {

uint64_t dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "I8" || dtype == "U8") return 1;
  return 0;
}

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

uint64_t TensorView::numel() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

namespace {
// Where the data begins (8 + the header length), for the copy to align it:
// tensors of whole rows then start on cache lines. Only its value modulo 64
// is used; a bad length is reported by the header checks below.
size_t data_start(const std::string& path) {
  const std::string head = read_file_head(path, 8);
  uint64_t len = 0;
  if (head.size() == 8) std::memcpy(&len, head.data(), 8);
  return static_cast<size_t>((len + 8) % 64);
}
}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path, MappedFile::Mode mode)
    : file_(std::make_unique<MappedFile>(path, mode, data_start(path))) {
  const MappedFile& f = *file_;
  const uint64_t header_len = f.read<uint64_t>(0, "the safetensors header length");
  if (header_len < 2 || header_len > (uint64_t{100} << 20))
    fail(AXE_ERR_FORMAT, path + ": bad safetensors header length " + std::to_string(header_len) + " at offset 0");
  const char* text = reinterpret_cast<const char*>(f.at(8, header_len, "the safetensors header"));
  // The format's own rule: the header starts with '{' and may be padded at
  // the end with spaces only (no BOM, no NULs, nothing after the object).
  uint64_t end = header_len;
  while (end > 0 && text[end - 1] == ' ') --end;
  if (text[0] != '{' || end == 0 || text[end - 1] != '}')
    fail(AXE_ERR_FORMAT, path + ": the safetensors header (" + std::to_string(header_len) +
                             " bytes at offset 8) must be a JSON object padded with spaces only");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + end);
  } catch (const nlohmann::json::exception& e) {
    fail(AXE_ERR_FORMAT, path + ": the JSON header is not valid: " + e.what());
  }
  if (!header.is_object()) fail(AXE_ERR_FORMAT, path + ": the JSON header is not an object");
  const uint64_t data_start = 8 + header_len, data_size = f.size() - data_start;
  data_offset_ = data_start;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(AXE_ERR_FORMAT, path + ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(AXE_ERR_FORMAT, path + ": metadata '" + excerpt(m.key()) + "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) { fail(AXE_ERR_FORMAT, path + ": tensor '" + excerpt(name) + "': " + what); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      bad("needs dtype, shape and data_offsets");
    const auto& dt = v["dtype"];
    const auto& sh = v["shape"];
    const auto& off = v["data_offsets"];
    if (!dt.is_string()) bad("dtype is not a string");
    TensorView t;
    t.dtype = dt.get<std::string>();
    const uint64_t esize = dtype_size(t.dtype);
    if (!esize) bad("unsupported dtype " + t.dtype);
    if (!sh.is_array() || sh.size() > 8) bad("bad shape");
    uint64_t numel = 1;
    for (const auto& d : sh) {
      if (!d.is_number_unsigned()) bad("bad shape");
      const uint64_t dim = d.get<uint64_t>();
      if (dim && numel > (uint64_t{1} << 48) / dim) bad("shape too large");
      numel *= dim;
      t.shape.push_back(dim);
    }
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad("bad data_offsets");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size)
      bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + ") outside the " +
          std::to_string(data_size) + " data bytes");
    if (e - b != numel * esize)
      bad(std::to_string(e - b) + " bytes do not hold shape " + shape_string(t.shape) + " of " + t.dtype);
    t.data = f.at(data_start + b, e - b, "tensor data");
    t.bytes = e - b;
    ranges.push_back({b, e});
    tensors_[name] = std::move(t);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) fail(AXE_ERR_FORMAT, path + ": tensors overlap in the data section");
}

const TensorView& SafetensorsFile::get(const std::string& name, const std::string& dtype,
                                       const std::vector<uint64_t>& shape) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(AXE_ERR_FORMAT, path() + ": tensor '" + name + "' is missing");
  if (it->second.dtype != dtype || it->second.shape != shape)
    fail(AXE_ERR_FORMAT, path() + ": tensor '" + name + "' is " + it->second.dtype + " " +
                             shape_string(it->second.shape) + ", expected " + dtype + " " + shape_string(shape));
  return it->second;
}

std::string SafetensorsFile::meta(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) fail(AXE_ERR_FORMAT, path() + ": metadata '" + key + "' is missing");
  return it->second;
}

void SafetensorsWriter::add(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape,
                            const void* data, uint64_t bytes) {
  add(name, dtype, std::move(shape),
      std::vector<uint8_t>(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + bytes));
}

void SafetensorsWriter::add(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape,
                            std::vector<uint8_t>&& data) {
  Entry e{name, dtype, std::move(shape), std::move(data)};
  e.data = e.owned.data();
  e.bytes = e.owned.size();
  entries_.push_back(std::move(e));  // moving a vector keeps its buffer, so e.data stays valid
}

void SafetensorsWriter::add_borrowed(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape,
                                     const void* data, uint64_t bytes) {
  entries_.push_back(Entry{name, dtype, std::move(shape), {}, static_cast<const uint8_t*>(data), bytes});
}

void SafetensorsWriter::add_from_file(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape,
                                      int fd, uint64_t offset, uint64_t bytes) {
  entries_.push_back(Entry{name, dtype, std::move(shape), {}, nullptr, bytes, fd, offset});
}

void SafetensorsWriter::write(const std::string& path) const {
  nlohmann::ordered_json header;
  header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  std::vector<uint64_t> starts;
  for (const Entry& e : entries_) {
    offset = (offset + 63) / 64 * 64;
    starts.push_back(offset);
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.bytes}}};
    offset += e.bytes;
  }
  std::string text = header.dump();
  text.append((64 - (8 + text.size()) % 64) % 64, ' ');  // data starts 64-byte aligned
  std::string tmp;
  std::FILE* f = create_temporary_beside(path, &tmp);
  const uint64_t len = text.size();
  bool ok = std::fwrite(&len, 8, 1, f) == 1 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  uint64_t pos = 0;
  static const uint8_t zeros[64] = {};
  for (size_t i = 0; ok && i < entries_.size(); ++i) {
    ok = std::fwrite(zeros, 1, starts[i] - pos, f) == starts[i] - pos;
    const Entry& e = entries_[i];
    if (e.data || e.fd < 0) {
      ok = ok && std::fwrite(e.data, 1, e.bytes, f) == e.bytes;
    } else {  // copied through a bounded buffer
      std::vector<uint8_t> buf(std::min<uint64_t>(e.bytes, uint64_t{4} << 20));
      for (uint64_t done = 0; ok && done < e.bytes;) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), e.bytes - done));
        const ssize_t got = ::pread(e.fd, buf.data(), want, static_cast<off_t>(e.file_offset + done));
        ok = got > 0 && std::fwrite(buf.data(), 1, static_cast<size_t>(got), f) == static_cast<size_t>(got);
        done += ok ? static_cast<uint64_t>(got) : 0;
      }
    }
    pos = starts[i] + entries_[i].bytes;
  }
  commit_temporary(f, tmp, path, ok);
}

}  // namespace axe
