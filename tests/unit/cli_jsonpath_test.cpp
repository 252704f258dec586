// -o jsonpath: the kubectl template subset, on a flow as the API gives it.
#include <gtest/gtest.h>

#include "cli/args.hpp"
#include "cli/jsonpath.hpp"

namespace netring::cli {
namespace {

const nlohmann::json kFlow = nlohmann::json::parse(R"({
  "id": 7, "protocol": "tcp", "bytes": 1500.5, "samples": 3,
  "src": {"namespace": "shop", "pod": "frontend-1", "port": 40001, "ip": "10.0.0.1"},
  "dst": {"namespace": "shop", "pod": "cart-1", "port": 8080, "ip": "10.0.0.2"},
  "tcp_flags": ["SYN", "ACK"], "interfaces": ["veth1", "veth2"],
  "weird key": {"x": true}, "bytes_ci99": [1000.0, 2000.0]
})");

std::string render(const std::string& t, const nlohmann::json& j = kFlow) {
  return JsonPathTemplate::parse(t).render(j);
}

TEST(CliJsonPath, FieldsTextAndStrings) {
  EXPECT_EQ(render("{.src.pod}"), "frontend-1");
  EXPECT_EQ(render("{.src.pod} -> {.dst.pod}:{.dst.port}"), "frontend-1 -> cart-1:8080");
  EXPECT_EQ(render("{$.id}{\"\\t\"}{.bytes}{\"\\n\"}"), "7\t1500.5\n");
  EXPECT_EQ(render("{.src}"), kFlow["src"].dump());
  EXPECT_EQ(render("{['weird key'].x}"), "true");
  EXPECT_EQ(render("{.missing}|{.src.missing}"), "|");  // missing prints nothing
  EXPECT_EQ(render("{.}"), kFlow.dump());
}

TEST(CliJsonPath, IndexesAndWildcards) {
  EXPECT_EQ(render("{.tcp_flags[0]}"), "SYN");
  EXPECT_EQ(render("{.tcp_flags[-1]}"), "ACK");
  EXPECT_EQ(render("{.tcp_flags[5]}"), "");
  EXPECT_EQ(render("{.tcp_flags[*]}"), "SYN ACK");
  EXPECT_EQ(render("{.bytes_ci99[1]}"), "2000.0");
}

TEST(CliJsonPath, Range) {
  EXPECT_EQ(render("{range .interfaces[*]}[{@}]{end}"), "[veth1][veth2]");
  EXPECT_EQ(render("{range .interfaces}{@} {end}"), "veth1 veth2 ");
  nlohmann::json list = {{"items", {{{"n", "a"}, {"v", 1}}, {{"n", "b"}, {"v", 2}}}}, {"unit", "x"}};
  EXPECT_EQ(render("{range .items[*]}{.n}={.v}{$.unit};{end}", list), "a=1x;b=2x;");
}

TEST(CliJsonPath, MistakesAreUsageErrors) {
  for (const char* bad :
       {"", "{.a", "{}", "{end}", "{range .a}x", "{.a[}", "{.a[x]}", "{..a}", "{\"\\q\"}", "{.a b}", "text}"}) {
    EXPECT_THROW(JsonPathTemplate::parse(bad), UsageError) << bad;
  }
}

}  // namespace
}  // namespace netring::cli
