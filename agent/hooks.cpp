#include "agent/hooks.hpp"

#include <optional>

#include "agent/log.hpp"

namespace netring::agent {

namespace {

datapath::Role to_datapath_role(discovery::LinkRole r) {
  // An --interfaces-include "extra" link is sampled like a pod veth: both
  // directions, no skipping of forwarded or tunnelled packets.
  return r == discovery::LinkRole::kPhysical ? datapath::Role::kPhysical : datapath::Role::kPod;
}

}  // namespace

Result<void> Hooks::start(const discovery::DiscoveryOptions& opts) {
  auto d = discovery::InterfaceDiscovery::open(opts, [this](const discovery::LinkEvent& ev) { on_event(ev); });
  if (!d) return std::move(d).take_error();
  discovery_ = std::move(d).value();
  return discovery_->start();
}

void Hooks::stop() {
  if (discovery_) discovery_->stop();
}

void Hooks::detach(std::uint32_t ifindex, const HookedLink& link) {
  if (link.role == discovery::LinkRole::kCapturePort) {
    if (capture_) capture_->release(ifindex);
    return;
  }
  // A vanished link took its tc hooks with it; unhook() forgets it (and
  // detaches them if the link only stopped qualifying).
  auto r = with_datapath([&](datapath::Datapath& dp) { return dp.unhook(static_cast<int>(ifindex)); });
  if (!r) log::debug("unhook", {{"interface", link.name}, {"error", r.error().message()}});
}

void Hooks::on_event(const discovery::LinkEvent& ev) {
  const int ifindex = static_cast<int>(ev.link.ifindex);
  if (ev.type == discovery::LinkEvent::Type::kRemoved) {
    std::optional<HookedLink> known;
    {
      std::lock_guard lk(mu_);
      if (auto it = hooked_.find(ev.link.ifindex); it != hooked_.end()) {
        known = it->second;
        hooked_.erase(it);
      }
    }
    if (!known) return;
    detach(ev.link.ifindex, *known);
    log::info("interface unhooked", {{"interface", ev.link.name}, {"ifindex", std::to_string(ifindex)}});
    return;
  }
  {
    std::lock_guard lk(mu_);
    auto it = hooked_.find(ev.link.ifindex);
    if (it != hooked_.end() && it->second.role == ev.role) {
      it->second.name = ev.link.name;
      return;  // address change only
    }
  }
  Result<void> r;
  if (ev.role == discovery::LinkRole::kCapturePort) {
    r = capture_ ? capture_->attach(ev.link.ifindex, ev.link.name)
                 : Result<void>(Error::invalid("capture port", ev.link.name + ": capture ports are not enabled"));
  } else {
    r = with_datapath([&](datapath::Datapath& dp) { return dp.hook(ifindex, rate_, to_datapath_role(ev.role)); });
  }
  std::lock_guard lk(mu_);
  if (!r) {
    ++errors_;
    log::warn("hook failed", {{"interface", ev.link.name}, {"error", r.error().message()}});
    return;
  }
  hooked_[ev.link.ifindex] = HookedLink{ev.link.name, ev.role};
  if (ev.role == discovery::LinkRole::kCapturePort) {
    // CapturePorts::attach logged how (mode, backend, queues, sample rate).
    log::info(
        "interface hooked",
        {{"interface", ev.link.name}, {"ifindex", std::to_string(ifindex)}, {"role", discovery::to_string(ev.role)}});
    return;
  }
  log::info("interface hooked", {{"interface", ev.link.name},
                                 {"ifindex", std::to_string(ifindex)},
                                 {"role", discovery::to_string(ev.role)},
                                 {"rate", std::to_string(rate_)}});
}

void Hooks::unhook_all() {
  std::map<std::uint32_t, HookedLink> links;
  {
    std::lock_guard lk(mu_);
    links.swap(hooked_);
  }
  for (const auto& [ifindex, link] : links) {
    if (link.role == discovery::LinkRole::kCapturePort) {
      if (capture_) capture_->release(ifindex);
      continue;
    }
    auto r = with_datapath([&](datapath::Datapath& dp) { return dp.unhook(static_cast<int>(ifindex)); });
    if (!r) log::warn("unhook failed", {{"interface", link.name}, {"error", r.error().message()}});
  }
}

std::map<std::uint32_t, HookedLink> Hooks::hooked() const {
  std::lock_guard lk(mu_);
  return hooked_;
}

std::uint64_t Hooks::hook_errors() const {
  std::lock_guard lk(mu_);
  return errors_;
}

}  // namespace netring::agent
