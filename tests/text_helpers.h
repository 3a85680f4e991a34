// Reading test data: a whole file, a text split on a separator, whitespace-
// separated token ids (the golden .ids files, llama.cpp's .out vectors).
#pragma once
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_paths.h"

namespace th {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO(path);
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at; (at = s.find(sep, start)) != std::string::npos; start = at + sep.size())
    out.push_back(s.substr(start, at - start));
  out.push_back(s.substr(start));
  return out;
}

inline std::vector<int32_t> parse_ids(const std::string& text) {
  std::istringstream ss(text);
  std::vector<int32_t> ids;
  for (int32_t v; ss >> v;) ids.push_back(v);
  return ids;
}

// llama.cpp's tokenizer test vectors for a vocabulary ("ggml-vocab-llama-bpe.gguf"):
// each input text with the ids llama.cpp expects for it (no BOS).
struct VocabVector {
  std::string text;
  std::vector<int32_t> ids;
};
inline std::vector<VocabVector> vocab_vectors(const std::string& vocab) {
  const std::string dir = test_paths::shared("data/tokenizer-tests/");
  auto inputs = split(slurp(dir + vocab + ".inp"), "\n__ggml_vocab_test__\n");
  auto outputs = split(slurp(dir + vocab + ".out"), "\n");
  REQUIRE(inputs.back().empty());
  REQUIRE(outputs.back().empty());
  inputs.pop_back();
  outputs.pop_back();
  REQUIRE(inputs.size() == outputs.size());
  REQUIRE(inputs.size() > 40);
  std::vector<VocabVector> out;
  for (size_t i = 0; i < inputs.size(); ++i) out.push_back({inputs[i], parse_ids(outputs[i])});
  return out;
}

}  // namespace th
