// Namespace aliases for the Boost libraries the project is built on. Include this instead of
// spelling out boost:: everywhere; it pulls in nothing heavy by itself.
#pragma once

namespace boost::asio {}
namespace boost::beast {}
namespace boost::json {}

namespace sluice {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
}  // namespace sluice
