#include "scenarios/verify.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "lockstep/base/result.h"
#include "lockstep/sql/pool.h"
#include "manifest.h"
#include "report.h"
#include "scenarios/settle.h"
#include "targets.h"

namespace lockstep::bench {
namespace {

// Reads the manifest file, opens --mysql and prints what `verify(pool, manifest)` found.
template <typename Manifest, typename VerifyFn>
int RunVerifyManifest(const CommonOptions& opt, const std::string& manifest_path, const char* scenario,
                      VerifyFn verify) {
  std::ifstream in(manifest_path);
  if (!in) {
    std::fprintf(stderr, "lockstep-bench: cannot read manifest %s\n", manifest_path.c_str());
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto manifest = Manifest::FromJson(text.str());
  auto pool = OpenPool(opt.mysql, 2);
  if (!manifest.ok() || !pool.ok()) {
    std::fprintf(stderr, "lockstep-bench: %s\n", (!manifest.ok() ? manifest.status() : pool.status()).ToString().c_str());
    return 2;
  }
  auto violations = verify(**pool, *manifest);
  if (!violations.ok()) {
    std::fprintf(stderr, "verify: %s\n", violations.status().ToString().c_str());
    return 2;
  }
  return PrintChecked({{"scenario", scenario}}, *violations);
}

}  // namespace

int RunVerifyTransfers(const CommonOptions& opt, const std::string& manifest_path) {
  return RunVerifyManifest<TransfersManifest>(opt, manifest_path, "verify",
                                              [](sql::Pool& pool, const TransfersManifest& m) {
                                                return VerifyTransfers(pool, m);
                                              });
}

int RunVerifyFlashsale(const CommonOptions& opt, const std::string& manifest_path,
                       const std::vector<std::string>& settle_urls, double settle_timeout_s) {
  return RunVerifyManifest<FlashsaleManifest>(
      opt, manifest_path, "verify-flashsale",
      [&](sql::Pool& pool, const FlashsaleManifest& m) -> Result<std::vector<std::string>> {
        const double timeout_s = settle_timeout_s >= 0 ? settle_timeout_s : settle_urls.empty() ? 0 : 120;
        const bool settled = AwaitSettled(pool, m, settle_urls, timeout_s);
        LOCKSTEP_ASSIGN_OR_RETURN(std::vector<std::string> violations, VerifyFlashsale(pool, m));
        if (!settled) violations.push_back("orders did not settle within the settle timeout");
        return violations;
      });
}

}  // namespace lockstep::bench
