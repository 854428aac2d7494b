#pragma once

// A small asynchronous HTTP/1.1 client (Beast) for REST calls around a test (log in, create a
// room, look up members): one connection per request, plain or TLS with the same verification
// rules as the WebSocket client, bounded by a connect timeout and a total timeout. Callers bound
// their own concurrency.

#include "protocol/tls_context.hpp"
#include "protocol/transport_error.hpp"
#include "protocol/url.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace stompede::net {

/// One HTTP request.
struct http_request {
  /// Method token, e.g. "GET", "POST".
  std::string method = "GET";
  /// http:// or https:// (ws/wss are accepted and treated as http/https).
  url target;
  /// Extra headers (Host, User-Agent and Content-Length are set unless given here).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Resolve + TCP connect bound.
  std::chrono::milliseconds connect_timeout{10000};
  /// Bound of the whole exchange, connect included.
  std::chrono::milliseconds timeout{30000};
  /// Largest response body accepted (message_too_large beyond it).
  std::size_t max_body_bytes = 8 * 1024 * 1024;
  tls_options tls;
};

/// The answer to a request.
struct http_response {
  unsigned status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// On a failed request, more than the error code says when there is more: the TLS reason
  /// ("certificate has expired", "hostname mismatch", ...). Empty otherwise.
  std::string error_detail;

  /// The first header called `name` (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const noexcept;
};

/// Completion of a request: `ec` is a transport_errc value on failure (connect_refused,
/// connect_timeout, request_timeout, tls_error, protocol_error, message_too_large, ...); any
/// HTTP status, 4xx and 5xx included, is a success at this level.
using http_callback = std::function<void(std::error_code ec, http_response response)>;

/// Sends `req` and calls `done` exactly once, on a thread running `ioc`. Never throws.
void async_http_request(boost::asio::io_context& ioc, http_request req, http_callback done);

} // namespace stompede::net
