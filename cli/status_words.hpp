// What `netring status` says of one agent: its /api/v1/status and
// /api/v1/interfaces in words, a labelled section per concern.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/terminal.hpp"

namespace netring::cli {

std::string status_words(const Palette& pal, const std::string& server, const nlohmann::json& status,
                         const nlohmann::json& interfaces);

}  // namespace netring::cli
