#include "provider/provider.h"

namespace sluice::provider {

asio::awaitable<bool> Provider::probe(WorkerResources, std::string_view,
                                      std::chrono::milliseconds) const {
  co_return true;
}

}  // namespace sluice::provider
