#include "admin/dashboard.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "admin/dashboard_assets.h"

namespace sluice::admin {
namespace {

TEST(DashboardPath, TheDashboardAndItsFilesOnly) {
  EXPECT_TRUE(is_dashboard_path("/dashboard"));
  EXPECT_TRUE(is_dashboard_path("/dashboard/"));
  EXPECT_TRUE(is_dashboard_path("/dashboard/dashboard.js"));
  EXPECT_FALSE(is_dashboard_path("/dashboards"));
  EXPECT_FALSE(is_dashboard_path("/dashboard.js"));
  EXPECT_FALSE(is_dashboard_path("/admin/dashboard"));
  EXPECT_FALSE(is_dashboard_path(""));
}

TEST(EtagMatches, ExactListWeakAndStar) {
  constexpr std::string_view kTag = "\"0123abcd\"";
  EXPECT_TRUE(etag_matches("\"0123abcd\"", kTag));
  EXPECT_TRUE(etag_matches("  \"0123abcd\"  ", kTag));
  EXPECT_TRUE(etag_matches("\"zzz\", \"0123abcd\"", kTag));
  EXPECT_TRUE(etag_matches("\"zzz\",\"0123abcd\",\"yyy\"", kTag));
  // If-None-Match compares weakly (RFC 9110, 13.1.2): a weak tag of the same value matches.
  EXPECT_TRUE(etag_matches("W/\"0123abcd\"", kTag));
  EXPECT_TRUE(etag_matches("*", kTag));
  EXPECT_FALSE(etag_matches("\"0123abce\"", kTag));
  EXPECT_FALSE(etag_matches("0123abcd", kTag));  // unquoted is another tag
  EXPECT_FALSE(etag_matches("\"0123abcd", kTag));
  EXPECT_FALSE(etag_matches("", kTag));
  EXPECT_FALSE(etag_matches(",", kTag));
}

TEST(AcceptsGzip, NamedOrStarWithoutQZero) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("gzip, deflate, br, zstd"));  // Chromium's
  EXPECT_TRUE(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
  EXPECT_TRUE(accepts_gzip("x-gzip"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_TRUE(accepts_gzip("gzip;q=0.001"));
  EXPECT_TRUE(accepts_gzip("*;q=0, gzip"));  // named outright wins over "*"
  EXPECT_FALSE(accepts_gzip(""));
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip("br, deflate"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip; q=0.000"));
  EXPECT_FALSE(accepts_gzip("*;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0, *"));
  EXPECT_FALSE(accepts_gzip("gzipx"));
}

// What the build embedded: the page, its scripts and styles, and uPlot with its license, each
// with a content type a browser accepts under nosniff and a tag that changes with the bytes.
TEST(DashboardAssets, ThePageAndUplotAreEmbedded) {
  for (std::string_view name : {"index.html", "dashboard.js", "charts.js", "dashboard.css",
                                "uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE.txt"}) {
    const DashboardAsset* asset = find_dashboard_asset(name);
    ASSERT_NE(asset, nullptr) << name;
    EXPECT_FALSE(asset->body.empty()) << name;
    EXPECT_EQ(asset->etag.size(), 34u) << name;
    EXPECT_EQ(asset->etag.front(), '"');
    EXPECT_EQ(asset->etag.back(), '"');
    EXPECT_EQ(asset->version.size(), 16u) << name;
    // The version is the tag's first 16 digits: both come from the same hash.
    EXPECT_EQ(asset->etag.substr(1, 16), asset->version) << name;
  }
  EXPECT_EQ(find_dashboard_asset("index.html")->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(find_dashboard_asset("dashboard.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(find_dashboard_asset("uPlot.min.css")->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(find_dashboard_asset("uPlot.LICENSE.txt")->content_type, "text/plain; charset=utf-8");
  EXPECT_NE(find_dashboard_asset("uPlot.LICENSE.txt")->body.find("MIT License"),
            std::string_view::npos);
  EXPECT_EQ(find_dashboard_asset("nope.js"), nullptr);
  EXPECT_EQ(find_dashboard_asset(""), nullptr);

  std::set<std::string_view> tags;
  for (const DashboardAsset& asset : dashboard_assets()) tags.insert(asset.etag);
  EXPECT_EQ(tags.size(), dashboard_assets().size());
}

// The large text assets have a gzipped copy, a real gzip stream with the header's time zeroed
// (so a rebuild gives the same bytes), under a tag of its own.
TEST(DashboardAssets, TextHasAGzippedCopy) {
  for (std::string_view name : {"index.html", "dashboard.js", "uPlot.iife.min.js"}) {
    const DashboardAsset* asset = find_dashboard_asset(name);
    ASSERT_NE(asset, nullptr) << name;
    ASSERT_FALSE(asset->gzip.empty()) << name;
    EXPECT_LE(asset->gzip.size() * 10, asset->body.size() * 9) << name;
    ASSERT_GE(asset->gzip.size(), 18u);
    EXPECT_EQ(static_cast<unsigned char>(asset->gzip[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(asset->gzip[1]), 0x8b);
    EXPECT_EQ(asset->gzip.substr(4, 4), std::string_view("\0\0\0\0", 4));
    // The trailer ends with the uncompressed size, little-endian (mod 2^32).
    const auto* tail =
        reinterpret_cast<const unsigned char*>(asset->gzip.data()) + asset->gzip.size() - 4;
    const std::uint32_t size =
        tail[0] | tail[1] << 8 | tail[2] << 16 | static_cast<std::uint32_t>(tail[3]) << 24;
    EXPECT_EQ(size, asset->body.size()) << name;
    EXPECT_EQ(asset->gzip_etag,
              std::string(asset->etag.substr(0, asset->etag.size() - 1)) + "-gzip\"");
  }
  // Too small to be worth it.
  EXPECT_TRUE(find_dashboard_asset("favicon.svg")->gzip.empty());
  EXPECT_TRUE(find_dashboard_asset("favicon.svg")->gzip_etag.empty());
}

// The page names each asset with its current version, so a cached copy is never stale.
TEST(DashboardAssets, ThePageReferencesVersionedAssets) {
  const std::string_view page = find_dashboard_asset("index.html")->body;
  for (std::string_view name :
       {"dashboard.js", "dashboard.css", "uPlot.iife.min.js", "uPlot.min.css"}) {
    const DashboardAsset* asset = find_dashboard_asset(name);
    const std::string reference =
        "\"/dashboard/" + std::string(name) + "?v=" + std::string(asset->version) + "\"";
    EXPECT_NE(page.find(reference), std::string_view::npos) << reference;
  }
}

}  // namespace
}  // namespace sluice::admin
