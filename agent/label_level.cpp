#include "agent/label_level.hpp"

namespace netring::agent {

const char* to_string(LabelLevel level) {
  switch (level) {
    case LabelLevel::kNode: return "node";
    case LabelLevel::kNamespace: return "namespace";
    case LabelLevel::kWorkload: return "workload";
    case LabelLevel::kPod: return "pod";
  }
  return "?";
}

std::optional<LabelLevel> parse_label_level(std::string_view text) {
  if (text == "node") return LabelLevel::kNode;
  if (text == "namespace") return LabelLevel::kNamespace;
  if (text == "workload") return LabelLevel::kWorkload;
  if (text == "pod") return LabelLevel::kPod;
  return std::nullopt;
}

}  // namespace netring::agent
