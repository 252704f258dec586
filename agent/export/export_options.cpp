#include "agent/export/export_options.hpp"

#include <algorithm>

#include "agent/config.hpp"

namespace netring::agent::exporter {

ExportOptions options_from(const Config& c) {
  ExportOptions o;
  o.host = c.ipfix_collector.host;
  o.port = c.ipfix_collector.port;
  o.transport = c.ipfix_transport == IpfixTransport::kTcp ? Transport::kTcp : Transport::kUdp;
  o.template_refresh = c.ipfix_template_refresh;
  o.template_refresh_messages = c.ipfix_template_refresh_messages;
  o.active_interval = c.ipfix_active_interval;
  o.observation_domain = c.ipfix_observation_domain;
  o.enterprise_number = c.ipfix_enterprise_number;
  auto has = [&c](const char* g) {
    return std::find(c.ipfix_fields.begin(), c.ipfix_fields.end(), g) != c.ipfix_fields.end();
  };
  o.fields.totals = has("totals");
  o.fields.interfaces = has("interfaces");
  o.fields.kubernetes = has("kubernetes");
  o.fields.accuracy = has("accuracy");
  o.queue_size = c.ipfix_queue_size;
  o.max_message_size = c.ipfix_max_message_size;
  return o;
}

}  // namespace netring::agent::exporter
