// The one translation unit that compiles Asio, Asio SSL and Beast (separate compilation keeps
// them out of every other object file; see DESIGN.md, "Conventions").
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
