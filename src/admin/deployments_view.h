// GET /admin/deployments (docs/routing.md, "Visibility"): every model's deployments with their
// live state, as JSON. Times are Unix milliseconds; null means "not now".
//
// Thread safety: reads the registry's shared state; safe from any worker.
#pragma once

#include <boost/json/object.hpp>

#include "core/asio.h"
#include "core/clock.h"
#include "route/model_registry.h"

namespace sluice::admin {

json::object deployments_view(const route::ModelRegistry& registry, const core::Clock& clock);

}  // namespace sluice::admin
