// The dashboard's static files, compiled into the binary: web/dashboard/ and uPlot's dist files
// and license, turned into byte arrays by cmake/embed_assets.cmake at build time
// (docs/architecture.md, "The dashboard's assets"). Nothing is read from disk at run time.
//
// Each asset's ETag and version come from the SHA-256 of its bytes, computed at build time;
// index.html refers to the others with "?v=<version>" (the build rewrites the references). Text
// over 1 KiB is also stored gzipped when that saves a tenth or more, under its own tag (the
// identity tag with "-gzip"), since a strong tag names one exact sequence of bytes.
//
// Thread safety: immutable static data.
#pragma once

#include <span>
#include <string_view>

namespace sluice::admin {

struct DashboardAsset {
  std::string_view name;          // "index.html", "dashboard.js", "uPlot.min.css", ...
  std::string_view content_type;  // with "; charset=utf-8" for text
  std::string_view etag;          // strong, quoted: "\"<32 hex digits>\""
  std::string_view version;       // 16 hex digits, the ?v= value the page uses
  std::string_view body;
  std::string_view gzip_etag;  // empty when there is no gzipped copy
  std::string_view gzip;       // `body` gzipped, or empty
};

// Every embedded asset, index.html among them. Defined in the generated source.
std::span<const DashboardAsset> dashboard_assets();

// The asset called `name`, or null.
const DashboardAsset* find_dashboard_asset(std::string_view name);

}  // namespace sluice::admin
