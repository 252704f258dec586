// The command line's parsing: options, agent addresses and address files,
// output formats. Mistakes are UsageErrors (exit status 2) naming the option.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "cli/args.hpp"
#include "cli/output.hpp"
#include "cli/server_address.hpp"
#include "cli/terminal.hpp"

namespace netring::cli {
namespace {

const std::vector<OptionSpec> kSpecs = {
    {"namespace", 'n', true, false, "NS", ""},
    {"follow", 'f', false, false, "", ""},
    {"server", 's', true, true, "HOST:PORT", ""},
    {"output", 'o', true, false, "FORMAT", ""},
};

Args parse(std::vector<std::string> argv, std::size_t positional = 0) {
  return Args::parse(argv, kSpecs, positional);
}

std::string usage_error(std::vector<std::string> argv, std::size_t positional = 0) {
  try {
    parse(std::move(argv), positional);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(CliArgs, LongShortAndGroupedForms) {
  Args a = parse({"--namespace", "shop", "-f", "--server=a:1", "-s", "b:2", "-sc:3", "-oj"});
  EXPECT_EQ(a.value("namespace"), "shop");
  EXPECT_TRUE(a.has("follow"));
  EXPECT_EQ(a.values("server"), (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_EQ(a.value("output"), "j");
  Args b = parse({"-fn", "data", "-o=json"});
  EXPECT_TRUE(b.has("follow"));
  EXPECT_EQ(b.value("namespace"), "data");
  EXPECT_EQ(b.value("output"), "json");
  Args c = parse({"pairs", "--", "-f"}, 2);
  EXPECT_EQ(c.positional(), (std::vector<std::string>{"pairs", "-f"}));
  EXPECT_FALSE(c.has("follow"));
}

TEST(CliArgs, MistakesNameTheOption) {
  EXPECT_EQ(usage_error({"--namspace", "x"}), "unknown option --namspace");
  EXPECT_EQ(usage_error({"-x"}), "unknown option -x");
  EXPECT_EQ(usage_error({"--namespace"}), "--namespace needs a value (NS)");
  EXPECT_EQ(usage_error({"-n"}), "-n needs a value (NS)");
  EXPECT_EQ(usage_error({"--follow=yes"}), "--follow takes no value");
  EXPECT_EQ(usage_error({"-n", "a", "--namespace", "b"}), "--namespace given more than once");
  EXPECT_EQ(usage_error({"pairs"}), "unexpected argument 'pairs'");
  EXPECT_EQ(usage_error({"a", "b"}, 1), "unexpected argument 'b'");
}

TEST(CliArgs, HelpListsEveryOption) {
  std::string h = options_help(kSpecs);
  EXPECT_NE(h.find("  -n, --namespace NS"), std::string::npos) << h;
  EXPECT_NE(h.find("  -f, --follow"), std::string::npos) << h;
}

std::optional<ServerAddress> addr(const std::string& s) {
  std::string why;
  return parse_server_address(s, why);
}
std::string addr_error(const std::string& s) {
  std::string why;
  EXPECT_FALSE(parse_server_address(s, why)) << s;
  return why;
}

TEST(CliServers, Addresses) {
  EXPECT_EQ(addr("127.0.0.1:9991"), (ServerAddress{"127.0.0.1", 9991}));
  EXPECT_EQ(addr("node-a"), (ServerAddress{"node-a", 9991}));
  EXPECT_EQ(addr("http://localhost:19991/"), (ServerAddress{"localhost", 19991}));
  EXPECT_EQ(addr("[::1]:8080"), (ServerAddress{"::1", 8080}));
  EXPECT_EQ(addr("[fd00::5]"), (ServerAddress{"fd00::5", 9991}));
  EXPECT_EQ(addr("[::1]:8080")->text(), "[::1]:8080");
  EXPECT_EQ(addr_error("::1"), "an IPv6 address needs brackets: [addr]:port");
  EXPECT_EQ(addr_error("host:"), "empty port");
  EXPECT_EQ(addr_error("host:99999"), "'99999' is not a port (1..65535)");
  EXPECT_EQ(addr_error("host:http"), "'http' is not a port (1..65535)");
  EXPECT_EQ(addr_error(":9991"), "no host");
  EXPECT_NE(addr_error("https://a:1").find("plain HTTP"), std::string::npos);
  EXPECT_NE(addr_error("[::1"), "");
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/netring-cli-test.XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    ::close(fd);
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CliServers, DefaultFlagsAndFiles) {
  EXPECT_EQ(servers_from({}, {}), (std::vector<ServerAddress>{{"127.0.0.1", 9991}}));
  TempFile f("# the node agents\nnode-a:9991\n\n  10.0.0.2:19991  # forwarded\nnode-a:9991\n[fd00::3]\n");
  EXPECT_EQ(servers_from({"node-a", "node-z:1"}, {f.path()}),
            (std::vector<ServerAddress>{{"node-a", 9991}, {"node-z", 1}, {"10.0.0.2", 19991}, {"fd00::3", 9991}}));

  TempFile bad("node-a\nnode-b:x\n");
  try {
    servers_from({}, {bad.path()});
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--server-file '" + bad.path() + "' line 2: 'node-b:x': 'x' is not a port (1..65535)");
  }
  TempFile empty("# nobody\n");
  EXPECT_THROW(servers_from({}, {empty.path()}), UsageError);
  EXPECT_THROW(servers_from({}, {"/nonexistent/agents.txt"}), UsageError);
  EXPECT_THROW(servers_from({"a:0"}, {}), UsageError);
}

TEST(CliOutput, Formats) {
  EXPECT_EQ(parse_output_format("table").kind, OutputKind::kTable);
  EXPECT_EQ(parse_output_format("json").kind, OutputKind::kJson);
  OutputFormat jp = parse_output_format("jsonpath='{.a}'");
  EXPECT_EQ(jp.kind, OutputKind::kJsonPath);
  EXPECT_EQ(jp.line(nlohmann::json{{"a", 1}}), "1\n");
  EXPECT_EQ(parse_output_format("json").line(nlohmann::json{{"b", "x"}, {"a", 2.5}}), "{\"a\":2.5,\"b\":\"x\"}\n");
  EXPECT_THROW(parse_output_format("yaml"), UsageError);
  EXPECT_THROW(parse_output_format("jsonpath"), UsageError);
  EXPECT_THROW(parse_output_format("jsonpath={.a"), UsageError);
}

TEST(CliTerminal, ColorModes) {
  EXPECT_EQ(parse_color_mode("never"), ColorMode::kNever);
  EXPECT_THROW(parse_color_mode("sometimes"), UsageError);
  // ctest's stdout is not a terminal: auto is plain, always is not.
  if (!isatty(STDOUT_FILENO)) {
    EXPECT_FALSE(Terminal::of_stdout(ColorMode::kAuto).color);
    EXPECT_TRUE(Terminal::of_stdout(ColorMode::kAlways).color);
  }
  EXPECT_FALSE(Terminal::of_stdout(ColorMode::kNever).color);
  setenv("COLUMNS", "77", 1);
  if (!isatty(STDOUT_FILENO)) {
    EXPECT_EQ(Terminal::of_stdout(ColorMode::kAuto).width, 77u);
  }
  unsetenv("COLUMNS");
  EXPECT_STREQ(Palette::of(false).red, "");
  EXPECT_STREQ(Palette::of(true).red, "\033[31m");
}

}  // namespace
}  // namespace netring::cli
