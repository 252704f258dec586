// The DNS message parser on hand-made messages: names with compression
// pointers, cut-short captures, and hostile pointers, labels and lengths,
// each counted under its reason, never a crash.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "pkg/dns/message.hpp"

namespace {

using netring::dns::Message;
using netring::dns::parse_message;
using netring::dns::ParseStatus;

using Bytes = std::vector<std::uint8_t>;

Bytes header(std::uint16_t id, bool response, std::uint8_t rcode, std::uint16_t qd = 1, std::uint8_t opcode = 0) {
  return Bytes{static_cast<std::uint8_t>(id >> 8),
               static_cast<std::uint8_t>(id),
               static_cast<std::uint8_t>((response ? 0x80 : 0) | (opcode << 3) | 0x01),
               static_cast<std::uint8_t>(rcode),
               static_cast<std::uint8_t>(qd >> 8),
               static_cast<std::uint8_t>(qd),
               0,
               static_cast<std::uint8_t>(response ? 1 : 0),
               0,
               0,
               0,
               0};
}

void name(Bytes& b, const std::string& dotted) {
  std::size_t start = 0;
  while (start < dotted.size()) {
    std::size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    b.push_back(static_cast<std::uint8_t>(dot - start));
    for (std::size_t i = start; i < dot; ++i) b.push_back(static_cast<std::uint8_t>(dotted[i]));
    start = dot + 1;
  }
  b.push_back(0);
}

void type_class(Bytes& b, std::uint16_t qtype) {
  b.insert(b.end(), {static_cast<std::uint8_t>(qtype >> 8), static_cast<std::uint8_t>(qtype), 0, 1});
}

ParseStatus parse(const Bytes& b, Message& m, bool tcp = false) {
  return parse_message(std::span<const std::byte>(reinterpret_cast<const std::byte*>(b.data()), b.size()), tcp, m);
}

TEST(DnsMessage, QueryAndResponseFields) {
  Bytes q = header(0xbeef, false, 0);
  name(q, "Web.Default.svc.cluster.local");
  type_class(q, 28);
  Message m;
  ASSERT_EQ(parse(q, m), ParseStatus::kOk);
  EXPECT_EQ(m.id, 0xbeef);
  EXPECT_FALSE(m.response);
  EXPECT_EQ(m.qtype, 28);
  EXPECT_EQ(m.qclass, 1);
  EXPECT_EQ(m.qname(), "web.default.svc.cluster.local");

  Bytes r = header(0xbeef, true, 3);
  name(r, "missing.example");
  type_class(r, 1);
  ASSERT_EQ(parse(r, m), ParseStatus::kOk);
  EXPECT_TRUE(m.response);
  EXPECT_EQ(m.rcode, 3);
  EXPECT_STREQ(netring::dns::rcode_name(m.rcode), "NXDOMAIN");
  EXPECT_EQ(m.qname(), "missing.example");
  EXPECT_STREQ(netring::dns::qtype_name(1), "A");
}

TEST(DnsMessage, TcpMessagesStartWithTheirLength) {
  Bytes q = header(7, false, 0);
  name(q, "a.b");
  type_class(q, 1);
  Bytes t{0, static_cast<std::uint8_t>(q.size())};
  t.insert(t.end(), q.begin(), q.end());
  Message m;
  ASSERT_EQ(parse(t, m, true), ParseStatus::kOk);
  EXPECT_EQ(m.id, 7);
  EXPECT_EQ(m.qname(), "a.b");
  t[1] = 5;
  EXPECT_EQ(parse(t, m, true), ParseStatus::kBadTcpLength);
  EXPECT_EQ(parse(Bytes{0}, m, true), ParseStatus::kTruncatedHeader);
}

TEST(DnsMessage, RootNameAndBackwardPointer) {
  Bytes q = header(1, false, 0);
  name(q, "");  // the root
  type_class(q, 2);
  Message m;
  ASSERT_EQ(parse(q, m), ParseStatus::kOk);
  EXPECT_EQ(m.qname(), ".");

  // Pointers must point backwards into the message body.
  Bytes fwd = header(3, false, 0);
  fwd.insert(fwd.end(), {1, 'x', 0xC0, 20, 0, 0, 0, 0});
  EXPECT_EQ(parse(fwd, m), ParseStatus::kBadPointer);
  Bytes self = header(4, false, 0);
  self.insert(self.end(), {1, 'x', 0xC0, 14});
  EXPECT_EQ(parse(self, m), ParseStatus::kBadPointer) << "a pointer to itself";
  Bytes into_header = header(5, false, 0);
  into_header.insert(into_header.end(), {0xC0, 2});
  EXPECT_EQ(parse(into_header, m), ParseStatus::kBadPointer);
}

TEST(DnsMessage, PointerLoopsAndChainsAreBounded) {
  // A label, then a pointer back to the name's own start: legal on its
  // own (backwards), a loop in effect; the pointer count ends it.
  Message m;
  Bytes b = header(9, false, 0);
  b.insert(b.end(), {1, 'q', 0xC0, 12});  // back to the question's own start: a loop
  EXPECT_EQ(parse(b, m), ParseStatus::kTooManyPointers);
}

TEST(DnsMessage, MalformedMessagesAreCountedByReason) {
  Message m;
  EXPECT_EQ(parse(Bytes(11, 0), m), ParseStatus::kTruncatedHeader);
  EXPECT_EQ(parse(header(1, false, 0, 0), m), ParseStatus::kNoQuestion);
  Bytes notify = header(1, false, 0, 1, 4);
  name(notify, "a");
  type_class(notify, 6);
  EXPECT_EQ(parse(notify, m), ParseStatus::kNotQuery);
  Bytes bad_label = header(1, false, 0);
  bad_label.insert(bad_label.end(), {0x40, 'x', 0});
  EXPECT_EQ(parse(bad_label, m), ParseStatus::kBadLabelType);
  Bytes long_name = header(1, false, 0);
  for (int i = 0; i < 5; ++i) {
    long_name.push_back(63);
    long_name.insert(long_name.end(), 63, 'a');
  }
  long_name.push_back(0);
  EXPECT_EQ(parse(long_name, m), ParseStatus::kNameTooLong);
}

TEST(DnsMessage, ACaptureCutShortKeepsTheHeader) {
  Bytes q = header(0x1234, false, 0);
  name(q, "a-rather-long-name.example.org");
  type_class(q, 1);
  Message m;
  for (std::size_t cut = 12; cut < q.size(); ++cut) {
    Bytes part(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_EQ(parse(part, m), ParseStatus::kQuestionCut) << cut;
    EXPECT_TRUE(netring::dns::header_valid(ParseStatus::kQuestionCut));
    EXPECT_EQ(m.id, 0x1234);
    EXPECT_EQ(m.qtype, 0);
  }
}

TEST(DnsMessage, LongestNameIsKeptWhole) {
  Bytes q = header(1, false, 0);
  // 3 labels of 63 and one of 61: 253 characters, 255 bytes on the wire.
  std::string want;
  for (int i = 0; i < 4; ++i) {
    const int n = i < 3 ? 63 : 61;
    q.push_back(static_cast<std::uint8_t>(n));
    q.insert(q.end(), static_cast<std::size_t>(n), 'k');
    if (!want.empty()) want += '.';
    want.append(static_cast<std::size_t>(n), 'k');
  }
  q.push_back(0);
  type_class(q, 1);
  Message m;
  ASSERT_EQ(parse(q, m), ParseStatus::kOk);
  EXPECT_EQ(m.qname(), want);
  EXPECT_EQ(m.qname().size(), 253u);
}

TEST(DnsMessage, UnprintableLabelBytesAreReplaced) {
  Bytes q = header(1, false, 0);
  q.insert(q.end(), {3, 'a', '.', 0x01, 0});
  type_class(q, 1);
  Message m;
  ASSERT_EQ(parse(q, m), ParseStatus::kOk);
  EXPECT_EQ(m.qname(), "a??");
}

}  // namespace
