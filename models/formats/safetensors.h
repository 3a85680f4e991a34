// The safetensors container: an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and byte range, then raw data.
// Reading treats the file as hostile: every range is checked against the
// file, against its dtype and shape, and against overlap. Writing goes to a
// temporary file that is renamed into place only when complete, with every
// tensor aligned to 64 bytes (the header is padded with spaces, as the
// format allows).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/mapped_file.h"

namespace axe {

struct TensorView {
  std::string dtype;           // "F32", "I8", "U8"
  std::vector<uint64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t bytes = 0;
  uint64_t numel() const;
};

class SafetensorsFile {
 public:
  SafetensorsFile(const std::string& path, MappedFile::Mode mode);
  const std::string& path() const { return file_->path(); }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // The tensor, checked to have this dtype and shape (error names the file).
  const TensorView& get(const std::string& name, const std::string& dtype, const std::vector<uint64_t>& shape) const;
  std::string meta(const std::string& key) const;  // error if missing
  uint64_t data_offset() const { return data_offset_; }  // where the data section starts

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorView> tensors_;
  uint64_t data_offset_ = 0;
};

// Builds a safetensors file in memory order of insertion and writes it
// atomically (temporary file + rename).
class SafetensorsWriter {
 public:
  // Copies the bytes.
  void add(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape, const void* data,
           uint64_t bytes);
  // Takes the bytes over.
  void add(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape, std::vector<uint8_t>&& data);
  // Keeps only the pointer: the bytes must stay valid until write() returns.
  void add_borrowed(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape, const void* data,
                    uint64_t bytes);
  // The bytes at `offset` of the open file `fd`, read when write() copies
  // them; the file must stay open until then.
  void add_from_file(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape, int fd,
                     uint64_t offset, uint64_t bytes);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name, dtype;
    std::vector<uint64_t> shape;
    std::vector<uint8_t> owned;
    const uint8_t* data = nullptr;  // owned.data() or borrowed
    uint64_t bytes = 0;
    int fd = -1;  // or, with data null, read from this file
    uint64_t file_offset = 0;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace axe
