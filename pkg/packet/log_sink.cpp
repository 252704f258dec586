#include "pkg/packet/log_sink.hpp"

#include <cstdio>

namespace netring::packet {

void log_line(const LogSink& sink, std::string_view line) {
  if (sink) {
    sink(line);
    return;
  }
  std::fprintf(stderr, "netring: %.*s\n", static_cast<int>(line.size()), line.data());
}

}  // namespace netring::packet
