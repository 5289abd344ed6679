#include "route/model_registry.h"

#include <gtest/gtest.h>

namespace sluice::route {
namespace {

class NamedProvider final : public provider::Provider {
 public:
  explicit NamedProvider(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  std::string_view kind() const override { return "test"; }
  asio::awaitable<provider::Exchange> exchange(const provider::Call&,
                                               provider::StreamSink&) const override {
    co_return provider::Exchange{};
  }

 private:
  std::string name_;
};

config::Config make_config(std::initializer_list<std::pair<const char*, const char*>> models) {
  config::Config c;
  for (auto [name, provider] : models) {
    config::Model m;
    m.name = name;
    m.deployments.push_back({{}, provider, ""});
    c.models.push_back(m);
    if (c.find_provider(provider) == nullptr) {
      config::Provider p;
      p.name = provider;
      c.providers.push_back(p);
    }
  }
  return c;
}

TEST(ModelRegistry, ExactNamesWinOverPatternsAndLongerPatternsWin) {
  std::vector<std::unique_ptr<provider::Provider>> providers;
  providers.push_back(std::make_unique<NamedProvider>("a"));
  providers.push_back(std::make_unique<NamedProvider>("b"));
  auto cfg = make_config({{"*", "a"}, {"gpt-*", "b"}, {"gpt-4o", "a"}, {"gpt-4o-*", "a"}});
  ModelRegistry r(cfg, providers);
  EXPECT_EQ(r.find("gpt-4o")->name, "gpt-4o");
  EXPECT_EQ(r.find("gpt-4o-mini")->name, "gpt-4o-*");
  EXPECT_EQ(r.find("gpt-3.5")->name, "gpt-*");
  EXPECT_EQ(r.find("claude")->name, "*");
  EXPECT_EQ(r.find("gpt-3.5")->deployments[0].provider->name(), "b");
  EXPECT_EQ(r.routes().size(), 4u);
}

TEST(ModelRegistry, UnknownNamesAreNotFound) {
  std::vector<std::unique_ptr<provider::Provider>> providers;
  providers.push_back(std::make_unique<NamedProvider>("a"));
  auto cfg = make_config({{"fast", "a"}, {"gpt-*", "a"}});
  ModelRegistry r(cfg, providers);
  EXPECT_EQ(r.find("slow"), nullptr);
  EXPECT_EQ(r.find("gpt"), nullptr);  // the pattern needs its whole prefix
  EXPECT_EQ(r.find(""), nullptr);
}

TEST(ModelRegistry, UnknownProviderIsAConfigurationBug) {
  std::vector<std::unique_ptr<provider::Provider>> providers;
  auto cfg = make_config({{"fast", "missing"}});
  EXPECT_THROW(ModelRegistry(cfg, providers), std::invalid_argument);
}

TEST(ModelRegistry, DeploymentsGetStableIdsTimeoutsAndFallbacks) {
  std::vector<std::unique_ptr<provider::Provider>> providers;
  providers.push_back(std::make_unique<NamedProvider>("a"));
  auto cfg = make_config({{"chat", "a"}, {"small", "a"}});
  cfg.providers[0].timeouts.connect = std::chrono::seconds(7);
  cfg.models[0].deployments.push_back({{}, "a", "llama"});
  cfg.models[0].deployments.push_back({{}, "a", "llama"});
  cfg.models[0].timeouts.first_byte = std::chrono::seconds(3);
  cfg.models[0].fallbacks = {"small"};
  ModelRegistry r(cfg, providers);
  const ModelRoute& chat = *r.find("chat");
  ASSERT_EQ(chat.deployments.size(), 3u);
  EXPECT_EQ(chat.deployments[0].id, "a/chat");
  EXPECT_EQ(chat.deployments[1].id, "a/llama");
  EXPECT_EQ(chat.deployments[2].id, "a/llama#2");
  EXPECT_EQ(chat.deployments[0].timeouts.connect, std::chrono::seconds(7));
  EXPECT_EQ(chat.deployments[0].timeouts.first_byte, std::chrono::seconds(3));
  EXPECT_EQ(chat.members[2].id, "a/llama#2");
  ASSERT_EQ(chat.fallbacks.size(), 1u);
  EXPECT_EQ(chat.fallbacks[0]->name, "small");
  EXPECT_EQ(chat.deployments[0].concurrency_limit(), 0);
}

}  // namespace
}  // namespace sluice::route
