// Each file *_command.cc adds one command group to the `straits` app.
#pragma once

#include "cli/context.h"

namespace CLI {
class App;
}

namespace straits::cli {

void add_catalog_command(CLI::App& app, Context& context);
void add_policy_command(CLI::App& app, Context& context);
void add_sim_command(CLI::App& app, Context& context);
// `sim compare` and `sim sweep` (whatif_command.cc), under the `sim` command.
void add_sim_whatif_commands(CLI::App& sim, Context& context);
void add_trace_command(CLI::App& app, Context& context);
void add_db_command(CLI::App& app, Context& context);
void add_serve_command(CLI::App& app, Context& context);
// agent: a site agent running the server's assignments (agent_command.cc).
void add_agent_command(CLI::App& app, Context& context);
// lease, job, user, token: clients of a running server (client_command.cc).
void add_client_commands(CLI::App& app, Context& context);
// audit list|verify|export|verify-bundle (audit_command.cc).
void add_audit_command(CLI::App& app, Context& context);
// rules push|list|show|propose|adopt|retire: rule sets (rules_command.cc).
void add_rules_command(CLI::App& app, Context& context);

}  // namespace straits::cli
