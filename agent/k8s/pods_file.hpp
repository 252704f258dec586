// --pods-from: a PodList as `kubectl get pods -A -o json` prints it, streamed
// through the same SAX extraction as API lists.
#pragma once

#include <string>

#include "agent/k8s/index.hpp"
#include "pkg/common/error.hpp"

namespace netring::agent::k8s {

// Loads every pod of the file into `index` as one resync (pods the index had
// from a previous load and the file no longer lists start their grace
// period). Returns the number of pods read.
Result<size_t> load_pods_file(const std::string& path, Index& index);

}  // namespace netring::agent::k8s
