#include <gtest/gtest.h>

#include <fcntl.h>

#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"
#include "pkg/common/mapping.hpp"

namespace {

using netring::Error;
using netring::Mapping;
using netring::Result;
using netring::UniqueFd;

Result<int> open_missing() {
  int fd = ::open("/nonexistent/netring", O_RDONLY);
  if (fd < 0) return Error::from_errno("open", "/nonexistent/netring");
  return fd;
}

TEST(Error, MessageNamesOperationContextAndErrno) {
  auto r = open_missing();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ENOENT);
  EXPECT_EQ(r.error().message(), "open [/nonexistent/netring]: No such file or directory");
}

TEST(Error, HintIsAppended) {
  Error e = Error("socket(AF_XDP)", EPERM).with_hint("needs CAP_NET_RAW");
  EXPECT_EQ(e.message(), "socket(AF_XDP): Operation not permitted (needs CAP_NET_RAW)");
}

TEST(Result, HoldsValueOrError) {
  Result<std::string> v = std::string("x");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "x");
  Result<void> e = Error::invalid("ring size", "3 is not a power of two");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "ring size [3 is not a power of two]: Invalid argument");
}

TEST(UniqueFd, ClosesOnceAndMoves) {
  int raw = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(Mapping, MapsAndUnmaps) {
  auto m = Mapping::map(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, "test");
  ASSERT_TRUE(m) << m.error().message();
  m->bytes()[0] = std::byte{1};
  Mapping moved = std::move(*m);
  EXPECT_FALSE(m->valid());
  EXPECT_EQ(moved.size(), 4096u);
}

TEST(Mapping, FailureIsAnError) {
  auto m = Mapping::map(4096, PROT_READ, MAP_SHARED, -1, 0, "bad fd");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), EBADF);
  EXPECT_NE(m.error().message().find("mmap [bad fd, 4096 bytes]"), std::string::npos);
}

}  // namespace
