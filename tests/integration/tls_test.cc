// Upstream TLS against a real TLS server: nginx terminating TLS in front of `sluice mock`, with a
// certificate from a CA the test makes with the openssl tool. Certificates and host names are
// verified; an untrusted or mismatched certificate is a 502 that says why.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <thread>

#include "support/fake_upstream.h"
#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

int run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string d = dir_.path().string();
    // A CA, and a server certificate it signs for 127.0.0.1 and localhost.
    dir_.write("server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    ASSERT_EQ(run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                  "-keyout " +
                  d + "/ca.key -out " + d +
                  "/ca.pem -days 2 -subj '/CN=Sluice Test "
                  "CA' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign"),
              0);
    ASSERT_EQ(run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                  d + "/server.key -out " + d + "/server.csr -subj /CN=localhost"),
              0);
    ASSERT_EQ(run("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
                  "/ca.key -CAcreateserial -out " + d + "/server.pem -days 2 -extfile " + d +
                  "/server.ext"),
              0);

    mock_ = start_mock(dir_);
    tls_port_ = closed_port();
    for (const char* sub : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      std::filesystem::create_directories(dir_.path() / "tmp" / sub);
    }
    std::string conf =
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + d +
        "/nginx.pid;\nerror_log " + d + "/nginx-error.log;\nevents {}\nhttp {\n" +
        "  access_log off;\n  client_body_temp_path " + d + "/tmp/client_body;\n" +
        "  proxy_temp_path " + d + "/tmp/proxy;\n  fastcgi_temp_path " + d +
        "/tmp/fastcgi;\n  uwsgi_temp_path " + d + "/tmp/uwsgi;\n  scgi_temp_path " + d +
        "/tmp/scgi;\n  server {\n    listen 127.0.0.1:" + std::to_string(tls_port_) +
        " ssl;\n    listen 127.0.0.2:" + std::to_string(tls_port_) + " ssl;\n    ssl_certificate " +
        d + "/server.pem;\n    ssl_certificate_key " + d + "/server.key;\n" +
        "    location / {\n      proxy_pass http://127.0.0.1:" + std::to_string(mock_.port) +
        ";\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n" +
        "      proxy_buffering off;\n    }\n  }\n}\n";
    std::string conf_path = dir_.write("nginx.conf", conf);
    nginx_ =
        Process::start({"/usr/sbin/nginx", "-p", d, "-c", conf_path, "-e", d + "/nginx-error.log"},
                       dir_.file("nginx.log").string());
    bool up = false;
    for (int i = 0; i < 200 && !up; ++i) {
      HttpClient probe(tls_port_, 100ms);
      up = probe.connected();
      if (!up) std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(up) << nginx_->log();

    std::string base = "https://127.0.0.1:" + std::to_string(tls_port_) + "/v1";
    gateway_ = start_gateway(dir_, R"(
providers:
  - name: trusted
    kind: openai
    base_url: )" + base + R"(
    tls: {ca_file: )" + d + R"(/ca.pem}
    forward_headers: [x-mock-*]
  - name: by-name
    kind: openai
    base_url: https://localhost:)" + std::to_string(tls_port_) +
                                       R"(/v1
    tls: {ca_file: )" + d + R"(/ca.pem}
  - name: system-store
    kind: openai
    base_url: )" + base + R"(
  - name: wrong-name
    kind: openai
    base_url: https://127.0.0.2:)" + std::to_string(tls_port_) +
                                       R"(/v1
    tls: {ca_file: )" + d + R"(/ca.pem}
  - name: unverified
    kind: openai
    base_url: )" + base + R"(
    tls: {verify: false}
models:
  - {name: trusted, deployments: [{provider: trusted}]}
  - {name: by-name, deployments: [{provider: by-name}]}
  - {name: system-store, deployments: [{provider: system-store}]}
  - {name: wrong-name, deployments: [{provider: wrong-name}]}
  - {name: unverified, deployments: [{provider: unverified}]}
)");
  }

  Response chat(const std::string& model, bool stream = false) {
    auto r = request(gateway_.port, "POST", "/v1/chat/completions",
                     R"({"model":")" + model + R"(","stream":)" + (stream ? "true" : "false") +
                         R"(,"messages":[{"role":"user","content":"hi"}]})");
    EXPECT_TRUE(r);
    return r.value_or(Response{});
  }

  TempDir dir_;
  MockUpstream mock_;
  std::uint16_t tls_port_ = 0;
  std::unique_ptr<Process> nginx_;
  Gateway gateway_;
};

TEST_F(TlsTest, VerifiedTlsUpstreamServesJsonAndStreams) {
  auto r = chat("trusted");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("object"), "chat.completion");
  auto s = chat("trusted", true);
  EXPECT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(sse_data(s.body).back(), "[DONE]");
  // Kept-alive TLS connections are reused.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(chat("trusted").status, 200);
}

TEST_F(TlsTest, DnsNamesAreResolvedAndVerified) {
  auto r = chat("by-name");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(TlsTest, UntrustedCertificateIs502WithTheReason) {
  auto r = chat("system-store");
  EXPECT_EQ(r.status, 502);
  auto error = json::parse(r.body).at("error").as_object();
  EXPECT_EQ(error.at("code"), "upstream_unreachable");
  EXPECT_NE(std::string(error.at("message").as_string()).find("certificate verify failed"),
            std::string::npos)
      << r.body;
}

TEST_F(TlsTest, CertificateForAnotherHostIs502) {
  auto r = chat("wrong-name");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find("certificate verify failed"), std::string::npos) << r.body;
}

TEST_F(TlsTest, VerificationCanBeTurnedOff) {
  auto r = chat("unverified");
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace sluice::testing
