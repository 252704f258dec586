#include "cli/terminal.hpp"

#include <langinfo.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <cstring>

#include "cli/args.hpp"

namespace netring::cli {

ColorMode parse_color_mode(const std::string& text) {
  if (text == "auto") return ColorMode::kAuto;
  if (text == "always") return ColorMode::kAlways;
  if (text == "never") return ColorMode::kNever;
  throw UsageError("--color '" + text + "': expected auto, always or never");
}

Terminal Terminal::of_stdout(ColorMode mode) {
  Terminal t;
  t.is_tty = isatty(STDOUT_FILENO) == 1;
  const char* term = std::getenv("TERM");
  const char* no_color = std::getenv("NO_COLOR");
  bool dumb = term != nullptr && std::strcmp(term, "dumb") == 0;
  switch (mode) {
    case ColorMode::kAlways: t.color = true; break;
    case ColorMode::kNever: t.color = false; break;
    case ColorMode::kAuto: t.color = t.is_tty && !dumb && (no_color == nullptr || no_color[0] == '\0'); break;
  }
  winsize ws{};
  if (t.is_tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    t.width = ws.ws_col;
    if (ws.ws_row > 0) t.height = ws.ws_row;
  }
  if (!t.width) {
    if (const char* c = std::getenv("COLUMNS")) {
      char* end = nullptr;
      long v = std::strtol(c, &end, 10);
      if (end != c && *end == '\0' && v > 0 && v < 100000) t.width = static_cast<std::size_t>(v);
    }
  }
  std::setlocale(LC_CTYPE, "");
  const char* cs = nl_langinfo(CODESET);
  if (cs != nullptr && (std::strcmp(cs, "UTF-8") == 0 || std::strcmp(cs, "utf8") == 0)) t.ellipsis = "\u2026";
  return t;
}

Palette Palette::of(bool color) {
  if (!color) return {};
  return Palette{"\033[1m",  "\033[2m",  "\033[31m", "\033[32m", "\033[33m",
                 "\033[34m", "\033[35m", "\033[36m", "\033[0m"};
}

}  // namespace netring::cli
