// Interface discovery events -> Datapath hook/unhook, on the discovery
// thread as each rtnetlink notification arrives (a new pod veth is hooked
// within milliseconds of appearing).
//
// The Datapath is not thread-safe; the discovery thread (hooks) and the
// publisher (heartbeat, counters) share it through with_datapath(), which
// serialises them. Both hold the lock for a few syscalls at most.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/capture_ports.hpp"
#include "agent/discovery/interface_discovery.hpp"
#include "pkg/datapath/datapath.hpp"

namespace netring::agent {

struct HookedLink {
  std::string name;
  discovery::LinkRole role = discovery::LinkRole::kPodVeth;
};

class Hooks {
 public:
  // Capture ports (role kCapturePort) go to `capture` instead of the TC
  // sampler; without it they are counted as hook errors.
  Hooks(datapath::Datapath& dp, std::uint32_t rate, CapturePorts* capture = nullptr)
      : dp_(dp), rate_(rate), capture_(capture) {}
  ~Hooks() { stop(); }
  Hooks(const Hooks&) = delete;
  Hooks& operator=(const Hooks&) = delete;

  // Opens discovery in the calling thread's namespace, hooks what exists and
  // follows changes.
  Result<void> start(const discovery::DiscoveryOptions& opts);
  // Stops following changes; hooks stay until unhook_all() (or the Datapath goes).
  void stop();
  // Detaches every hook this agent made and releases the capture ports.
  void unhook_all();

  std::map<std::uint32_t, HookedLink> hooked() const;
  std::uint64_t hook_errors() const;

  template <class F>
  auto with_datapath(F&& f) {
    std::lock_guard lk(dp_mu_);
    return f(dp_);
  }

 private:
  void on_event(const discovery::LinkEvent& ev);

  void detach(std::uint32_t ifindex, const HookedLink& link);

  datapath::Datapath& dp_;
  std::uint32_t rate_;
  CapturePorts* capture_;
  std::unique_ptr<discovery::InterfaceDiscovery> discovery_;
  std::mutex dp_mu_;
  mutable std::mutex mu_;  // guards hooked_ and errors_
  std::map<std::uint32_t, HookedLink> hooked_;
  std::uint64_t errors_ = 0;
};

}  // namespace netring::agent
