// The IPFIX encoder's byte layout (RFC 7011): field encodings, Template
// Records, the message header, Sets, records kept whole across messages,
// and sequence numbers. Expected bytes are written out by hand from the RFC.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "pkg/ipfix/encoder.hpp"
#include "pkg/ipfix/message_writer.hpp"
#include "pkg/ipfix/sequence.hpp"
#include "pkg/ipfix/template.hpp"

namespace netring::ipfix {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes written(const Encoder& e) {
  return Bytes(e.buffer().begin(), e.buffer().begin() + static_cast<std::ptrdiff_t>(e.position()));
}

TEST(IpfixEncoder, NumbersInNetworkOrderAndFloat64AsIeee754) {
  std::uint8_t buf[64];
  Encoder e(buf);
  e.u8(0xab);
  e.u16(0x0102);
  e.u32(0x03040506);
  e.u64(0x0708090a0b0c0d0eULL);
  e.f64(0.99);  // 0x3FEFAE147AE147AE
  EXPECT_EQ(written(e), (Bytes{0xab, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
                               0x0c, 0x0d, 0x0e, 0x3f, 0xef, 0xae, 0x14, 0x7a, 0xe1, 0x47, 0xae}));
  EXPECT_FALSE(e.overflow());
}

TEST(IpfixEncoder, VariableLengthPrefixIsOneOctetBelow255ElseThree) {
  std::vector<std::uint8_t> buf(1024);
  Encoder e(buf);
  e.varlen("");
  e.varlen("web-0");
  EXPECT_EQ(written(e), (Bytes{0x00, 0x05, 'w', 'e', 'b', '-', '0'}));
  Encoder l(buf);
  const std::string s254(254, 'a'), s255(255, 'b');
  l.varlen(s254);
  ASSERT_EQ(l.position(), 255u);
  EXPECT_EQ(buf[0], 254);
  l.varlen(s255);  // RFC 7011 7: 255, then the length in two octets
  ASSERT_EQ(l.position(), 255u + 3 + 255);
  EXPECT_EQ(buf[255], 255);
  EXPECT_EQ(buf[256], 0x00);
  EXPECT_EQ(buf[257], 0xff);
  EXPECT_EQ(buf[258], 'b');
}

TEST(IpfixEncoder, AWriteThatDoesNotFitWritesNothingAndFlagsOverflow) {
  std::uint8_t buf[5] = {};
  Encoder e(buf);
  e.u32(0x11223344);
  e.u16(0x5566);  // 2 > 1 left
  EXPECT_TRUE(e.overflow());
  EXPECT_EQ(e.position(), 4u);
  EXPECT_EQ(buf[4], 0);
  e.u8(1);  // nothing more after an overflow, until a rewind
  EXPECT_EQ(e.position(), 4u);
  e.rewind(4);
  EXPECT_FALSE(e.overflow());
  e.varlen("xy");  // 3 octets, 1 left
  EXPECT_TRUE(e.overflow());
  EXPECT_EQ(e.position(), 4u);
}

TEST(IpfixTemplate, TemplateRecordWithIanaAndEnterpriseFields) {
  auto t = Template::create(256, {FieldSpecifier::of(ie::kSourceIPv4Address),
                                  FieldSpecifier::of(ie::kOctetDeltaCount),
                                  {2, kVariableLength, 32473}});
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->encoded_size(), 4u + 4 + 4 + 8);
  EXPECT_EQ(t->min_record_length(), 4u + 8 + 1);
  std::uint8_t buf[64];
  Encoder e(buf);
  t->encode(e);
  EXPECT_EQ(written(e), (Bytes{0x01, 0x00, 0x00, 0x03,                             // id 256, 3 fields
                               0x00, 0x08, 0x00, 0x04,                             // sourceIPv4Address, 4
                               0x00, 0x01, 0x00, 0x08,                             // octetDeltaCount, 8
                               0x80, 0x02, 0xff, 0xff, 0x00, 0x00, 0x7e, 0xd9}));  // E=1 id 2, varlen, PEN 32473
}

TEST(IpfixTemplate, RejectsIdsBelow256EmptyAndBadFields) {
  EXPECT_FALSE(Template::create(255, {FieldSpecifier::of(ie::kFlowId)}));
  EXPECT_FALSE(Template::create(300, {}));
  EXPECT_FALSE(Template::create(300, {{0x8001, 4, 0}}));  // bit 15 is the enterprise bit, not an id bit
  EXPECT_FALSE(Template::create(300, {{1, 0, 0}}));
  EXPECT_TRUE(Template::create(65535, {FieldSpecifier::of(ie::kFlowId)}));
}

Template two_field_template() {
  return Template::create(256, {FieldSpecifier::of(ie::kProtocolIdentifier), FieldSpecifier::of(ie::kInterfaceName)})
      .value();
}

TEST(IpfixMessage, HeaderTemplateSetAndDataSetBytes) {
  const Template t = two_field_template();
  MessageWriter w(1400);
  w.begin(0x5f5e1000, 7, 42);
  ASSERT_TRUE(w.add_templates(std::span<const Template>(&t, 1)));
  ASSERT_TRUE(w.add_record(256, [](Encoder& e) {
    e.u8(6);
    e.varlen("eth0");
  }));
  ASSERT_TRUE(w.add_record(256, [](Encoder& e) {
    e.u8(17);
    e.varlen("");
  }));
  EXPECT_EQ(w.data_records(), 2u);
  EXPECT_EQ(w.template_records(), 1u);
  auto msg = w.finish();
  const Bytes expect{
      0x00, 0x0a, 0x00, 0x2c,  // version 10, length 44
      0x5f, 0x5e, 0x10, 0x00,  // export time
      0x00, 0x00, 0x00, 0x07,  // sequence number
      0x00, 0x00, 0x00, 0x2a,  // observation domain 42
      0x00, 0x02, 0x00, 0x10,  // Template Set, length 16
      0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x01,
      0x00, 0x52, 0xff, 0xff, 0x01, 0x00, 0x00, 0x0c,  // Data Set of template 256, length 12
      0x06, 0x04, 'e',  't',  'h',  '0',  0x11, 0x00,
  };
  ASSERT_EQ(msg.size(), 44u);
  EXPECT_EQ(Bytes(msg.begin(), msg.end()), Bytes(expect.begin(), expect.end()));
}

TEST(IpfixMessage, ARecordThatDoesNotFitIsTakenBackWholeAndTheMessageStaysValid) {
  const Template t = two_field_template();
  MessageWriter w(32);  // 16 header + 4 set header + room for 12 octets
  w.begin(1, 0, 1);
  ASSERT_TRUE(w.add_record(256, [](Encoder& e) {
    e.u8(6);
    e.varlen("veth1234");  // 10 octets
  }));
  EXPECT_FALSE(w.add_record(256, [](Encoder& e) {
    e.u8(17);
    e.varlen("lo");  // 4 octets: 34 > 32
  }));
  EXPECT_EQ(w.data_records(), 1u);
  auto msg = w.finish();
  ASSERT_EQ(msg.size(), 30u);
  EXPECT_EQ(msg[2] << 8 | msg[3], 30);    // message length
  EXPECT_EQ(msg[18] << 8 | msg[19], 14);  // set length covers the one record
  // A record that opened its own set and did not fit takes the set header back too.
  MessageWriter w2(32);
  w2.begin(1, 0, 1);
  EXPECT_FALSE(w2.add_record(300, [](Encoder& e) {
    e.u64(1);
    e.u64(2);  // 16 + 4 + 16 > 32
  }));
  EXPECT_TRUE(w2.empty());
  EXPECT_EQ(w2.finish().size(), 16u);
}

TEST(IpfixMessage, ASetPerTemplateIdAndNoEmptySets) {
  MessageWriter w(512);
  w.begin(1, 0, 1);
  auto rec = [](std::uint8_t v) { return [v](Encoder& e) { e.u8(v); }; };
  ASSERT_TRUE(w.add_record(256, rec(1)));
  ASSERT_TRUE(w.add_record(257, rec(2)));
  ASSERT_TRUE(w.add_record(257, rec(3)));
  ASSERT_TRUE(w.add_record(256, rec(4)));
  EXPECT_FALSE(w.add_record(258, [](Encoder&) {}));  // writes nothing: not a record
  auto msg = w.finish();
  const Bytes expect{0x00, 0x0a, 0x00, 0x20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x00, 0x00, 0x05, 1,  //
                     0x01, 0x01, 0x00, 0x06, 2, 3,                                                           //
                     0x01, 0x00, 0x00, 0x05, 4};
  EXPECT_EQ(Bytes(msg.begin(), msg.end()), expect);
}

TEST(IpfixSequence, CountsDataRecordsBeforeEachMessageModulo2To32) {
  SequenceNumber s;
  EXPECT_EQ(s.current(), 0u);
  s.advance(3);
  s.advance(0);  // a templates-only message
  EXPECT_EQ(s.current(), 3u);
  s.advance(0xfffffffeu);
  EXPECT_EQ(s.current(), 1u);
}

}  // namespace
}  // namespace netring::ipfix
