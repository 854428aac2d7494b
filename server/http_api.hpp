#pragma once

// The HTTP endpoints on the server's listener, as a pure function of the request: REST API of
// the chat service, GET /metrics, and the /admin fault endpoints. No sockets here.

#include <string>

namespace stompede::server::detail {

class server_core;

struct api_request {
  std::string method;        ///< "GET", "POST", ...
  std::string target;        ///< path and query
  std::string authorization; ///< the first Authorization header, or empty
  std::string body;
};

struct api_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow; ///< a 405's `Allow` header
};

api_response handle_api(server_core& core, const api_request& req);

/// Wrapped JSON answers of the chat service.
std::string success_json(const std::string& data_json);
std::string error_json(const std::string& code, const std::string& message);

/// Decodes %XX and '+' of a query component; false on a bad escape.
bool url_decode(const std::string& in, std::string& out);

} // namespace stompede::server::detail
