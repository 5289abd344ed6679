// Test support: checks that a response carries an error in OpenAI's shape,
// {"error":{"message","type","param","code"}} as application/json with a non-empty message, and
// returns the inner object for the test's own assertions.
//
// Thread safety: none needed; gtest assertions on the calling thread.
#pragma once

#include <boost/json/object.hpp>

#include "support/http_client.h"

namespace sluice::testing {

boost::json::object openai_error(const Response& r);

}  // namespace sluice::testing
