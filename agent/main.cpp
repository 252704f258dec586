// netring-agent: the node agent's entry point.
#include <getopt.h>

#include <cstdio>
#include <cstring>

namespace {

constexpr const char* kUsage = R"(Usage: netring-agent [OPTIONS]

Kubernetes network-observability agent: hooks pod veths and physical
interfaces with embedded BPF, samples packet copies into user space over
AF_XDP (TPACKET_V3 as fallback), and exports flows as Prometheus metrics and
an HTTP JSON API.

Options:
  -h, --help       show this help and exit
  -V, --version    print the version and exit
)";

}  // namespace

int main(int argc, char** argv) {
  static const option kLong[] = {
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "hV", kLong, nullptr)) != -1) {
    switch (c) {
      case 'h':
        std::fputs(kUsage, stdout);
        return 0;
      case 'V':
        std::printf("netring-agent %s\n", NETRING_VERSION);
        return 0;
      default:
        std::fprintf(stderr, "netring-agent: unknown option '%s' (see --help)\n", argv[optind - 1]);
        return 2;
    }
  }
  std::fputs("netring-agent: the data path is not wired in yet; see --help\n", stderr);
  return 1;
}
