#pragma once

// The GTID types moved to sql (routing uses them too); cdc keeps its names.
#include "lockstep/sql/gtid.h"

namespace lockstep::cdc {

using ::lockstep::sql::Gtid;
using ::lockstep::sql::GtidPosition;

}  // namespace lockstep::cdc
