// Version string of the build, shared by --version, /api/v1/status and the
// build-info metric.
namespace netring::agent {
const char* version() { return NETRING_VERSION; }
}  // namespace netring::agent
