#include "http/router.h"

#include <algorithm>

#include "http/target.h"
#include "lockstep/base/check.h"

namespace shopd::http {
namespace {
bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}
}  // namespace

void Router::Add(Method method, std::string pattern, Handler handler, RouteOptions options) {
  LOCKSTEP_CHECK(handler != nullptr);
  LOCKSTEP_CHECK_MSG(!pattern.empty() && pattern.front() == '/', "route pattern must start with '/': ", pattern);
  LOCKSTEP_CHECK_MSG(method != Method::kOther, "cannot route Method::kOther");
  Compiled compiled;
  for (std::string_view segment : SplitPath(pattern)) {
    const bool has_brace = segment.find_first_of("{}") != std::string_view::npos;
    LOCKSTEP_CHECK_MSG(!has_brace || IsParam(segment), "malformed route segment in ", pattern);
    compiled.segments.emplace_back(segment);
  }
  for (const Route& r : routes_) {
    LOCKSTEP_CHECK_MSG(!(r.method == method && r.pattern == pattern), "duplicate route ", MethodName(method), " ",
                       pattern);
  }
  routes_.push_back(Route{method, std::move(pattern), std::move(handler), options});
  compiled_.push_back(std::move(compiled));
}

RouteMatch Router::Match(Method method, std::string_view path) const {
  RouteMatch result;
  if (path.empty() || path.front() != '/') return result;
  const std::vector<std::string_view> segments = SplitPath(path);
  int best_literals = -1;
  std::vector<Method> allowed;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Compiled& c = compiled_[i];
    if (c.segments.size() != segments.size()) continue;
    int literals = 0;
    bool ok = true;
    for (size_t s = 0; s < segments.size() && ok; ++s) {
      if (IsParam(c.segments[s])) {
        ok = !segments[s].empty();
      } else {
        ok = c.segments[s] == segments[s];
        ++literals;
      }
    }
    if (!ok) continue;
    if (routes_[i].method != method) {
      if (std::find(allowed.begin(), allowed.end(), routes_[i].method) == allowed.end()) {
        allowed.push_back(routes_[i].method);
      }
      continue;
    }
    if (literals <= best_literals) continue;
    // Decode the parameters of this candidate; a bad escape makes it not match.
    Params params;
    for (size_t s = 0; s < segments.size() && ok; ++s) {
      if (!IsParam(c.segments[s])) continue;
      auto value = PercentDecode(segments[s], /*plus_is_space=*/false);
      if (!value) {
        ok = false;
        break;
      }
      params.Add(c.segments[s].substr(1, c.segments[s].size() - 2), std::move(*value));
    }
    if (!ok) continue;
    best_literals = literals;
    result.kind = RouteMatch::Kind::kFound;
    result.route = &routes_[i];
    result.path_params = std::move(params);
  }
  if (result.kind == RouteMatch::Kind::kFound) return result;
  if (!allowed.empty()) {
    std::sort(allowed.begin(), allowed.end());
    result.kind = RouteMatch::Kind::kMethodNotAllowed;
    for (Method m : allowed) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += MethodName(m);
    }
  }
  return result;
}

Response Router::MismatchResponse(const RouteMatch& match, Method method, std::string_view path) {
  if (match.kind == RouteMatch::Kind::kMethodNotAllowed) {
    Response r = Response::ProtocolError(
        405, "method_not_allowed",
        lockstep::internal::StrCat("method ", MethodName(method), " not allowed on ", path, "; allowed: ", match.allow));
    r.headers.Set("Allow", match.allow);
    return r;
  }
  return Response::Error(lockstep::Status::NotFound("no route for ", path));
}

}  // namespace shopd::http
