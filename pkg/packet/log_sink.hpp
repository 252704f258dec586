// Where pkg/packet says what it did on its own (a ring shrunk after ENOMEM,
// hardware timestamps unavailable): a caller-supplied sink, or stderr.
#pragma once

#include <functional>
#include <string_view>

namespace netring::packet {

using LogSink = std::function<void(std::string_view)>;

// Writes `line` to `sink`, or to stderr when no sink was given.
void log_line(const LogSink& sink, std::string_view line);

}  // namespace netring::packet
