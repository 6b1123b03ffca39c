#pragma once

#include <string_view>

namespace shopd::http {

// HTTP request methods the router understands. kOther stands for any method the server
// does not route (it can only ever get 404 or 405).
enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

// "GET" -> kGet; case-sensitive as RFC 9110 requires; unknown -> kOther. Thread-safe (pure).
Method ParseMethod(std::string_view name);
// kGet -> "GET"; kOther -> "OTHER". Thread-safe (pure).
std::string_view MethodName(Method method);

}  // namespace shopd::http
