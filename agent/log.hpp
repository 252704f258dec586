// Structured logs to stderr: one line per record, logfmt or JSON, filtered by
// level. Each record is formatted into one buffer and written with a single
// write(2) under a mutex, so lines from different threads never interleave.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace netring::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kLogfmt, kJson };

const char* to_string(Level l);
const char* to_string(Format f);

// A key and its value; numbers and booleans stay unquoted in JSON.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : ""), quoted(true) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
  template <std::integral T>
  Field(std::string_view k, T v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v);

  std::string_view key;
  std::string value;
  bool quoted;
};

void configure(Level min_level, Format format);
bool enabled(Level l);

// Formats a record without writing it (tests, and write() below).
std::string format(Level l, std::string_view msg, std::initializer_list<Field> fields, Format f);

void write(Level l, std::string_view msg, std::initializer_list<Field> fields = {});

inline void debug(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, msg, fields);
}
inline void info(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kInfo)) write(Level::kInfo, msg, fields);
}
inline void warn(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kWarn)) write(Level::kWarn, msg, fields);
}
inline void error(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kError)) write(Level::kError, msg, fields);
}

}  // namespace netring::log
