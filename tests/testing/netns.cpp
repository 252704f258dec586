#include "tests/testing/netns.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace netring::testing {
namespace {

constexpr const char* kNetnsDir = "/run/netns";
constexpr const char* kNsPrefix = "nrt-";

std::atomic<unsigned> g_counter{0};

// Names of this process's live namespaces, kept in fixed storage so the
// signal handler can read them without allocating or locking.
constexpr std::size_t kMaxLive = 256;
struct LiveSlot {
  std::atomic<bool> used{false};
  char name[64]{};
};
std::array<LiveSlot, kMaxLive> g_live;

int register_live(const std::string& name) {
  for (std::size_t i = 0; i < kMaxLive; ++i) {
    bool expected = false;
    if (g_live[i].used.compare_exchange_strong(expected, true)) {
      std::snprintf(g_live[i].name, sizeof g_live[i].name, "%s", name.c_str());
      return static_cast<int>(i);
    }
  }
  return -1;
}

void unregister_live(const std::string& name) {
  for (auto& slot : g_live)
    if (slot.used.load() && name == slot.name) {
      slot.name[0] = '\0';
      slot.used.store(false);
      return;
    }
}

pid_t g_owner_pid = 0;  // the process whose namespaces g_live lists

// Async-signal-safe: only umount2/unlink, what `ip netns del` does. A child
// forked by spawn()/popen() inherits the handler until it execs; it must not
// remove its parent's namespaces.
void on_fatal_signal(int sig) {
  char path[128];
  if (::getpid() != g_owner_pid) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  for (auto& slot : g_live) {
    if (!slot.used.load() || slot.name[0] == '\0') continue;
    std::size_t n = 0;
    for (const char* p = kNetnsDir; *p && n < sizeof path - 1; ++p) path[n++] = *p;
    path[n++] = '/';
    for (const char* p = slot.name; *p && n < sizeof path - 1; ++p) path[n++] = *p;
    path[n] = '\0';
    ::umount2(path, MNT_DETACH);
    ::unlink(path);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

std::string to_base36(unsigned long v) {
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  do {
    s.insert(s.begin(), digits[v % 36]);
    v /= 36;
  } while (v != 0);
  return s;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

bool pid_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

void setup_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    sweep_stale();
    g_owner_pid = ::getpid();
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &sa, nullptr);
  });
}

}  // namespace

CommandResult sh(const std::string& cmd) {
  CommandResult r;
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string sh_ok(const std::string& cmd) {
  CommandResult r = sh(cmd);
  if (!r.ok()) ADD_FAILURE() << "command failed (" << r.status << "): " << cmd << "\n" << r.output;
  return r.output;
}

std::string unique_ifname(char suffix) {
  std::string n = "nt" + to_base36(static_cast<unsigned long>(::getpid())) + "x" + to_base36(g_counter++);
  n += suffix;
  if (n.size() > 15) throw std::runtime_error("interface name too long: " + n);
  return n;
}

int sweep_stale() {
  int removed = 0;
  if (DIR* d = ::opendir(kNetnsDir)) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind(kNsPrefix, 0) != 0) continue;
      long pid = std::strtol(n.c_str() + std::strlen(kNsPrefix), nullptr, 10);
      if (pid_alive(pid)) continue;
      if (sh("ip netns del " + quote(n)).ok()) ++removed;
    }
    ::closedir(d);
  }
  // Host-side links named by unique_ifname(): "nt<pid36>x...".
  CommandResult links = sh("ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1");
  std::size_t pos = 0;
  while (pos < links.output.size()) {
    std::size_t eol = links.output.find('\n', pos);
    if (eol == std::string::npos) eol = links.output.size();
    std::string n = links.output.substr(pos, eol - pos);
    pos = eol + 1;
    if (n.size() < 4 || n.rfind("nt", 0) != 0) continue;
    std::size_t x = n.find('x', 2);
    if (x == std::string::npos || x == 2) continue;
    std::string pid36 = n.substr(2, x - 2);
    if (pid36.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz") != std::string::npos) continue;
    long pid = std::strtol(pid36.c_str(), nullptr, 36);
    if (pid_alive(pid)) continue;
    if (sh("ip link del " + quote(n)).ok()) ++removed;
  }
  return removed;
}

// ---- Netns ----

Netns::Netns(const std::string& hint) {
  setup_once();
  name_ = std::string(kNsPrefix) + std::to_string(::getpid()) + "-" + std::to_string(g_counter++) + "-" + hint;
  if (name_.size() > 60) name_.resize(60);
  register_live(name_);
  CommandResult r = sh("ip netns add " + quote(name_));
  if (!r.ok()) {
    unregister_live(name_);
    throw std::runtime_error("ip netns add " + name_ + " failed: " + r.output);
  }
  run_ok("ip link set lo up");
}

Netns::Netns(Netns&& o) noexcept : name_(std::move(o.name_)) { o.name_.clear(); }

Netns::~Netns() {
  if (name_.empty()) return;
  CommandResult r = sh("ip netns del " + quote(name_));
  if (!r.ok()) std::fprintf(stderr, "netns fixture: ip netns del %s: %s\n", name_.c_str(), r.output.c_str());
  unregister_live(name_);
}

Netns& Netns::host() {
  static Netns h{HostTag{}};
  return h;
}

CommandResult Netns::run(const std::string& cmd) const {
  if (is_host()) return sh(cmd);
  return sh("ip netns exec " + quote(name_) + " sh -c " + quote(cmd));
}

std::string Netns::run_ok(const std::string& cmd) const {
  CommandResult r = run(cmd);
  if (!r.ok())
    ADD_FAILURE() << "command failed in " << (is_host() ? "host" : name_) << " (" << r.status << "): " << cmd
                  << "\n"
                  << r.output;
  return r.output;
}

void Netns::run_within(const std::function<void()>& fn) const {
  if (is_host()) {
    fn();
    return;
  }
  std::exception_ptr err;
  std::thread t([&] {
    try {
      int fd = ::open((std::string(kNetnsDir) + "/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error("open netns " + name_ + ": " + std::strerror(errno));
      int rc = ::setns(fd, CLONE_NEWNET);
      int e = errno;
      ::close(fd);
      if (rc != 0) throw std::runtime_error("setns " + name_ + ": " + std::strerror(e));
      fn();
    } catch (...) {
      err = std::current_exception();
    }
  });
  t.join();
  if (err) std::rethrow_exception(err);
}

Netns::Process Netns::spawn(const std::string& cmd) const {
  std::string full = is_host() ? cmd : "exec ip netns exec " + quote(name_) + " sh -c " + quote(cmd);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group, so stop() reaches the children too
    ::execl("/bin/sh", "sh", "-c", full.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  return Process(pid);
}

Netns::Process& Netns::Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

int Netns::Process::wait() {
  if (pid_ < 0) return -1;
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void Netns::Process::stop() {
  if (pid_ < 0) return;
  ::kill(-pid_, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    int st;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      ::kill(-pid_, SIGKILL);  // stragglers in the group
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

// ---- VethPair ----

VethPair::VethPair(const Netns& a, const Netns& b, const VethOptions& opts)
    : a_(a), b_(b), name_a_(unique_ifname('a')), name_b_(unique_ifname('b')) {
  const std::string q = " numtxqueues " + std::to_string(opts.queues) + " numrxqueues " + std::to_string(opts.queues);
  // Create the pair in a namespace that holds one of its ends, so no end is
  // ever left in the host by an interruption between "add" and "set netns".
  auto ns_arg = [](const Netns& ns) { return ns.is_host() ? std::string(" netns 1") : " netns " + quote(ns.name()); };
  CommandResult r;
  if (!a.is_host() || b.is_host()) {
    r = a.run("ip link add " + name_a_ + q + " type veth peer name " + name_b_ + q +
              (a.is_host() && b.is_host() ? std::string() : ns_arg(b)));
  } else {
    r = b.run("ip link add " + name_b_ + q + " type veth peer name " + name_a_ + q + ns_arg(a));
  }
  if (!r.ok()) throw std::runtime_error("veth create failed: " + r.output);
  auto setup = [&](const Netns& ns, const std::string& n, const std::string& addr) {
    ns.run_ok("ip link set " + n + " mtu " + std::to_string(opts.mtu));
    if (!addr.empty()) ns.run_ok("ip addr add " + addr + " dev " + n);
    if (opts.up) ns.run_ok("ip link set " + n + " up");
  };
  setup(a, name_a_, opts.addr_a);
  setup(b, name_b_, opts.addr_b);
}

VethPair::~VethPair() {
  // Deleting one end deletes the pair; the end may already be gone with its
  // namespace, which is fine.
  CommandResult r = a_.run("ip link del " + name_a_);
  (void)r;
}

int VethPair::ifindex_a() const {
  return std::stoi(a_.run_ok("cat /sys/class/net/" + name_a_ + "/ifindex"));
}
int VethPair::ifindex_b() const {
  return std::stoi(b_.run_ok("cat /sys/class/net/" + name_b_ + "/ifindex"));
}

}  // namespace netring::testing
