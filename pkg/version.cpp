// Library version (pkg/ stands on its own, apart from the agent).
namespace netring {
const char* library_version() { return "0.1.0"; }
}  // namespace netring
