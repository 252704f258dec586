#include "agent/k8s/pods_file.hpp"

#include <cerrno>
#include <fstream>

#include "agent/k8s/sax.hpp"

namespace netring::agent::k8s {

Result<size_t> load_pods_file(const std::string& path, Index& index) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from_errno("open", path, "--pods-from expects a PodList JSON (kubectl get pods -A -o json)");
  index.begin_resync(ResourceKind::kPod);
  size_t skipped = 0;
  auto info = parse_list(in, [&](Object&& obj) {
    if (!obj.kind.empty() && obj.kind != "Pod") {
      ++skipped;
      return;
    }
    index.upsert(ResourceKind::kPod, obj);
  });
  if (!info) {
    Error e = std::move(info).take_error();
    return Error::invalid("read --pods-from", path + ": " + e.context());
  }
  if (info->kind == "Status") return Error::invalid("read --pods-from", path + ": holds a Status, not a PodList");
  index.end_resync(ResourceKind::kPod);
  return info->items - skipped;
}

}  // namespace netring::agent::k8s
