#include "agent/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>

namespace netring::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kLogfmt)};
std::mutex g_write_mu;

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c >= 0x7f) return true;
  }
  return false;
}

void append_logfmt_value(std::string& out, std::string_view v) {
  if (!needs_quotes(v)) {
    out += v;
    return;
  }
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\x%02x", c);
          out += esc;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace

Field::Field(std::string_view k, double v) : key(k), quoted(false) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  value = buf;
}

const char* to_string(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}

const char* to_string(Format f) {
  return f == Format::kJson ? "json" : "logfmt";
}

void configure(Level min_level, Format format) {
  g_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
  g_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

bool enabled(Level l) {
  return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed);
}

std::string format(Level l, std::string_view msg, std::initializer_list<Field> fields, Format f) {
  std::string out;
  if (f == Format::kJson) {
    // Built as an ordered object so ts/level/msg come first; dump() does the escaping.
    nlohmann::ordered_json j;
    j["ts"] = timestamp();
    j["level"] = to_string(l);
    j["msg"] = std::string(msg);
    for (const Field& fld : fields) {
      std::string key(fld.key);
      if (fld.quoted) {
        j[key] = fld.value;
      } else {
        // Unquoted fields are numbers or booleans formatted by Field; parse keeps their JSON type.
        j[key] = nlohmann::ordered_json::parse(fld.value, nullptr, false);
        if (j[key].is_discarded()) j[key] = fld.value;
      }
    }
    out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    out = "ts=" + timestamp() + " level=" + to_string(l) + " msg=";
    append_logfmt_value(out, msg);
    for (const Field& fld : fields) {
      out += ' ';
      out += fld.key;
      out += '=';
      append_logfmt_value(out, fld.value);
    }
  }
  out += '\n';
  return out;
}

void write(Level l, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(l)) return;
  std::string line = format(l, msg, fields, static_cast<Format>(g_format.load(std::memory_order_relaxed)));
  std::lock_guard lock(g_write_mu);
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // stderr gone: nowhere left to report it
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace netring::log
