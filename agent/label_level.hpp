// Identity granularity of the flow metrics (--label-level): how finely the
// flow series are split, from one per node pair to one per pod pair.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace netring::agent {

// The order is the --label-level choice order in the config schema.
enum class LabelLevel : std::uint8_t { kNode, kNamespace, kWorkload, kPod };

const char* to_string(LabelLevel level);
std::optional<LabelLevel> parse_label_level(std::string_view text);

}  // namespace netring::agent
