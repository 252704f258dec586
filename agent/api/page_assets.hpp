// The page the API listener serves at / : its files, compiled into the
// agent (cmake/NetringEmbed.cmake generates their definition from
// agent/api/page/ and Debian's node-d3 at build time), so the agent needs
// nothing from disk or the network to serve it.
#pragma once

#include <span>
#include <string_view>

namespace netring::agent::api {

struct PageAsset {
  std::string_view path;          // "/" or "/ui/<file>"
  std::string_view content_type;  // with charset for text
  std::string_view body;
  std::string_view etag;  // quoted SHA-256 prefix of the body
};

std::span<const PageAsset> page_assets();
const PageAsset* find_page_asset(std::string_view path);

}  // namespace netring::agent::api
