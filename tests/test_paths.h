// Where the tests find the shared assets and built programs (set by CMake).
#pragma once
#include <string>

namespace test_paths {
inline std::string shared(const std::string& rel) { return std::string(AXE_SHARED_DIR) + "/" + rel; }
inline std::string stories260k() { return shared("models/stories260K/stories260K.bin"); }
inline std::string tok512() { return shared("models/stories260K/tok512.bin"); }
inline std::string llama2_tokenizer() { return shared("models/llama2-tokenizer/tokenizer.bin"); }
}  // namespace test_paths
namespace test_paths {
inline std::string llama3_tokenizer_json() { return shared("data/tokenizer-tests/llama3-tokenizer.json"); }
inline std::string stories260k_hf(const std::string& file) { return shared("models/stories260K-hf/" + file); }
}  // namespace test_paths
