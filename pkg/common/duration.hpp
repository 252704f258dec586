// Durations as people type them in query strings and on command lines:
// an integer and a unit, ms, s, m or h ("500ms", "30s", "5m", "1h").
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace netring {

inline std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::uint64_t ms_per;
  if (unit == "ms")
    ms_per = 1;
  else if (unit == "s")
    ms_per = 1000;
  else if (unit == "m")
    ms_per = 60'000;
  else if (unit == "h")
    ms_per = 3'600'000;
  else
    return std::nullopt;
  if (n > (std::uint64_t{1} << 40) / ms_per) return std::nullopt;  // ~35 years: nobody means more
  return std::chrono::milliseconds(n * ms_per);
}

}  // namespace netring
