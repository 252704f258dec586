// RAII network namespaces and veth pairs for tests.
//
// Every object made here is named uniquely per process (pid) and per object
// (counter), so tests running at the same time never collide, and removed by
// its destructor, so a failing assertion cleans up too. Interruption is
// covered twice: SIGINT/SIGTERM handlers delete this process's namespaces
// before dying, and the first fixture of every later test process sweeps
// leftovers of processes that no longer exist (SIGKILL cannot be handled).
// Deleting a namespace deletes the veth ends inside it, and a veth pair dies
// with either end, so namespaces are the only thing that needs removing.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace netring::testing {

// Result of a shell command.
struct CommandResult {
  int status = -1;  // exit status, or -1 if it did not exit normally
  std::string output;  // stdout and stderr, interleaved
  bool ok() const { return status == 0; }
};

// Runs `cmd` with /bin/sh in the current namespace.
CommandResult sh(const std::string& cmd);
// Runs `cmd` and fails the current test (ADD_FAILURE) when it exits non-zero.
std::string sh_ok(const std::string& cmd);

// A unique interface name (≤ 15 chars) for this process: "nt<pid36>x<n36><suffix>".
std::string unique_ifname(char suffix);

class Netns {
 public:
  // Creates a new namespace "nrt-<pid>-<n>-<hint>" with loopback up.
  explicit Netns(const std::string& hint = "t");
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  Netns(Netns&&) noexcept;
  Netns& operator=(Netns&&) = delete;

  // The initial (host) namespace, not owned: never deleted.
  static Netns& host();

  const std::string& name() const { return name_; }
  bool is_host() const { return name_.empty(); }

  // Shell command inside the namespace (`ip netns exec`).
  CommandResult run(const std::string& cmd) const;
  std::string run_ok(const std::string& cmd) const;

  // Calls fn on a thread that joined this namespace (setns), returns its
  // result. Sockets fn creates stay in this namespace after it returns.
  template <class F>
  auto within(F&& fn) const -> std::invoke_result_t<F> {
    using R = std::invoke_result_t<F>;
    if constexpr (std::is_void_v<R>) {
      run_within([&] { fn(); });
    } else {
      std::optional<R> out;
      run_within([&] { out.emplace(fn()); });
      return std::move(*out);
    }
  }

  // A background process inside the namespace (iperf3 -s, tcpdump...),
  // killed (SIGTERM, then SIGKILL) when the handle dies.
  class Process {
   public:
    Process() = default;
    explicit Process(int pid) : pid_(pid) {}
    Process(Process&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
    Process& operator=(Process&& o) noexcept;
    ~Process() { stop(); }
    int pid() const { return pid_; }
    // Waits for exit; returns the exit status, or -1 on a signal.
    int wait();
    void stop();

   private:
    int pid_ = -1;
  };
  Process spawn(const std::string& cmd) const;

 private:
  struct HostTag {};
  explicit Netns(HostTag) {}
  void run_within(const std::function<void()>& fn) const;
  std::string name_;
};

struct VethOptions {
  std::string addr_a;  // CIDR on end a, e.g. "10.0.0.1/24"; empty: none
  std::string addr_b;
  int mtu = 1500;
  int queues = 1;  // numtxqueues = numrxqueues on both ends
  bool up = true;
};

// A veth pair with end a in namespace `a` and end b in namespace `b`.
class VethPair {
 public:
  VethPair(const Netns& a, const Netns& b, const VethOptions& opts = {});
  ~VethPair();
  VethPair(const VethPair&) = delete;
  VethPair& operator=(const VethPair&) = delete;

  const std::string& name_a() const { return name_a_; }
  const std::string& name_b() const { return name_b_; }
  // ifindex of an end, read inside its namespace.
  int ifindex_a() const;
  int ifindex_b() const;

 private:
  const Netns& a_;
  const Netns& b_;
  std::string name_a_, name_b_;
};

// Deletes namespaces and host-side veths left by test processes that no
// longer run. Called once per process by the first Netns; exposed for tests.
int sweep_stale();

}  // namespace netring::testing
