// What the output goes to: a terminal (colour, its width, an ellipsis the
// locale can show) or a pipe or file (plain text, whole values).
#pragma once

#include <optional>
#include <string>

namespace netring::cli {

enum class ColorMode { kAuto, kAlways, kNever };
ColorMode parse_color_mode(const std::string& text);  // throws UsageError

struct Terminal {
  bool is_tty = false;
  bool color = false;
  // Columns to fit: the terminal's, or $COLUMNS; none for a pipe without it.
  std::optional<std::size_t> width;
  std::optional<std::size_t> height;
  std::string ellipsis = "~";  // "…" when the locale's charset is UTF-8

  // stdout as it is now; NO_COLOR (https://no-color.org) and TERM=dumb turn
  // colour off in auto mode.
  static Terminal of_stdout(ColorMode mode);
};

// SGR codes used in output; empty strings when colour is off.
struct Palette {
  const char* bold = "";
  const char* dim = "";
  const char* red = "";
  const char* green = "";
  const char* yellow = "";
  const char* blue = "";
  const char* magenta = "";
  const char* cyan = "";
  const char* reset = "";
  static Palette of(bool color);
};

}  // namespace netring::cli
