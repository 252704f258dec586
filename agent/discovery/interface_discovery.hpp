// Interface discovery over rtnetlink (libmnl): an initial dump of links,
// routes and addresses, then the kernel's link/address/route multicast
// notifications, no polling. Each link the classifier selects is reported
// once as added, again as updated when its addresses change, and as removed
// when it goes or stops qualifying (a route change can turn a NIC physical or
// not). Callbacks run on the discovery thread within the time it takes to
// read one notification, so a new pod veth can be hooked right away.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "agent/discovery/link_classifier.hpp"
#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"

struct mnl_socket;
struct nlmsghdr;

namespace netring::agent::discovery {

struct LinkEvent {
  enum class Type : std::uint8_t { kAdded, kUpdated, kRemoved };
  Type type;
  LinkInfo link;
  LinkRole role;
};
const char* to_string(LinkEvent::Type t);

class InterfaceDiscovery {
 public:
  using Callback = std::function<void(const LinkEvent&)>;

  // Opens the netlink sockets in the calling thread's network namespace and
  // subscribes to the multicast groups. Nothing is reported until start().
  static Result<std::unique_ptr<InterfaceDiscovery>> open(const DiscoveryOptions& opts, Callback cb);
  ~InterfaceDiscovery();
  InterfaceDiscovery(const InterfaceDiscovery&) = delete;
  InterfaceDiscovery& operator=(const InterfaceDiscovery&) = delete;

  // Dumps the current links (reported as added, on this thread) and starts
  // the notification thread.
  Result<void> start();
  void stop();

  // The selected links, with their roles.
  std::vector<std::pair<LinkInfo, LinkRole>> current() const;
  // Times the notification socket overflowed and the state was re-dumped.
  std::uint64_t resyncs() const { return resyncs_.load(); }

 private:
  struct MnlDeleter {
    void operator()(mnl_socket* s) const;
  };
  using MnlSocket = std::unique_ptr<mnl_socket, MnlDeleter>;
  // (family, table, priority, oif) of a default route.
  using RouteKey = std::tuple<std::uint8_t, std::uint32_t, std::uint32_t, std::uint32_t>;

  InterfaceDiscovery(LinkClassifier classifier, Callback cb) : classifier_(std::move(classifier)), cb_(std::move(cb)) {}

  Result<void> dump_all();  // links, routes, addresses into a fresh state
  Result<void> dump(std::uint16_t type, std::uint8_t family);
  void run();
  static int on_message(const nlmsghdr* nlh, void* self);
  void handle(const nlmsghdr* nlh);
  void reconcile();  // emits the difference between selected_ and the current classification

  LinkClassifier classifier_;
  Callback cb_;
  MnlSocket events_, requests_;
  std::uint32_t seq_ = 0;
  UniqueFd wake_;  // eventfd that ends run()
  std::thread thread_;
  std::atomic<std::uint64_t> resyncs_{0};

  // Discovery-thread state (and start()'s, before the thread exists).
  std::map<std::uint32_t, LinkInfo> links_;
  std::set<RouteKey> default_routes_;
  mutable std::mutex mu_;  // guards selected_ for current()
  std::map<std::uint32_t, std::pair<LinkInfo, LinkRole>> selected_;
};

}  // namespace netring::agent::discovery
