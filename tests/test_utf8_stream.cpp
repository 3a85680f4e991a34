// Streaming output never splits a UTF-8 character.
#include <doctest/doctest.h>

#include "utf8_stream.h"

TEST_CASE("utf8_complete_prefix holds back unfinished sequences only") {
  using cli::utf8_complete_prefix;
  CHECK(utf8_complete_prefix("abc") == 3);
  CHECK(utf8_complete_prefix("a\xC3") == 1);                  // 2-byte lead alone
  CHECK(utf8_complete_prefix("a\xC3\xA9") == 3);              // é complete
  CHECK(utf8_complete_prefix("\xF0\x9F\xA6") == 0);           // 3 of 4 bytes
  CHECK(utf8_complete_prefix("\xF0\x9F\xA6\x99") == 4);       // 🦙
  CHECK(utf8_complete_prefix("x\xE2\x82") == 1);
  CHECK(utf8_complete_prefix("\x80\x80") == 2);  // stray continuation bytes pass
}

TEST_CASE("Utf8Stream writes whole characters as bytes arrive") {
  char buf[64] = {};
  std::FILE* f = fmemopen(buf, sizeof buf, "w");
  REQUIRE(f);
  cli::Utf8Stream s(f);
  s.write("a\xF0\x9F");
  std::fflush(f);
  CHECK(std::string(buf) == "a");
  s.write("\xA6\x99!");
  std::fflush(f);
  CHECK(std::string(buf) == "a\xF0\x9F\xA6\x99!");
  std::fclose(f);
}
